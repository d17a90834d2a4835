"""decode_image: EXIF orientation, every image mode to 8-bit RGB, a non-image named."""

import io

import numpy as np
import pytest
from PIL import Image

from maskrcnn_plugin.data import images
from maskrcnn_plugin.serving import predict

# 3 rows x 2 columns: the top-left pixel is red, the rest blue.
STORED = np.zeros((3, 2, 3), np.uint8)
STORED[..., 2] = 255
STORED[0, 0] = [255, 0, 0]


def _encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
  buffer = io.BytesIO()
  image.save(buffer, format=fmt, **kwargs)
  return buffer.getvalue()


def _jpeg_with_orientation(orientation: int) -> bytes:
  exif = Image.Exif()
  exif[0x0112] = orientation
  # Big enough that JPEG blocks keep the red corner red.
  big = np.repeat(np.repeat(STORED, 16, axis=0), 16, axis=1)
  return _encode(Image.fromarray(big), "JPEG", quality=95, exif=exif.tobytes())


def _red_corner(pixels):
  """Which corner (row, col) of the image is red."""
  h, w = pixels.shape[:2]
  corners = {(0, 0): pixels[2, 2], (0, 1): pixels[2, w - 3], (1, 0): pixels[h - 3, 2],
             (1, 1): pixels[h - 3, w - 3]}
  return [c for c, value in corners.items() if value[0] > 200 and value[2] < 60]


def test_exif_orientation_6_is_applied_like_detectron2():
  pixels = images.decode_image(_jpeg_with_orientation(6), "phone.jpg")
  assert pixels.shape == (32, 48, 3)  # Stored 48 high x 32 wide, displayed rotated 90 degrees.
  assert _red_corner(pixels) == [(0, 1)]  # Orientation 6: rotate 90 clockwise to display.


def test_annotated_size_selects_the_orientation():
  encoded = _jpeg_with_orientation(6)
  assert images.decode_image(encoded, "phone.jpg", (32, 48)).shape == (32, 48, 3)
  stored = images.decode_image(encoded, "phone.jpg", (48, 32))  # The tool saw stored pixels.
  assert stored.shape == (48, 32, 3) and _red_corner(stored) == [(0, 0)]
  with pytest.raises(images.BadImageError, match=r"'phone.jpg' is 32x48 \(48x32 once its EXIF "
                                                 r"orientation 6 is applied\) but the "
                                                 "annotations say 40x40"):
    images.decode_image(encoded, "phone.jpg", (40, 40))


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "P", "CMYK", "RGB"])
def test_modes_become_8_bit_rgb(mode):
  image = Image.fromarray(STORED).convert(mode)
  fmt = "JPEG" if mode == "CMYK" else "PNG"
  encoded = _encode(image, fmt)
  pixels = images.decode_image(encoded, f"x.{fmt.lower()}")
  assert pixels.dtype == np.uint8 and pixels.shape == (3, 2, 3)
  np.testing.assert_array_equal(pixels, np.asarray(Image.open(io.BytesIO(encoded)).convert("RGB")))
  if fmt == "PNG":  # Lossless: the colours themselves.
    np.testing.assert_array_equal(pixels, np.asarray(image.convert("RGB")))


def test_palette_with_transparency_becomes_rgb():
  image = Image.fromarray(STORED).convert("P")
  image.info["transparency"] = 0
  pixels = images.decode_image(_encode(image, "PNG", transparency=0), "p.png")
  assert pixels.shape == (3, 2, 3) and pixels.dtype == np.uint8


def test_16_bit_is_scaled_not_clipped():
  values = np.array([[0, 257], [32896, 65535]], np.uint16)
  encoded = _encode(Image.fromarray(values), "PNG")
  assert Image.open(io.BytesIO(encoded)).mode.startswith("I")
  pixels = images.decode_image(encoded, "microscope.png")
  assert pixels.shape == (2, 2, 3)
  assert pixels[..., 0].tolist() == [[0, 1], [128, 255]]
  assert (pixels[..., 0] == pixels[..., 2]).all()


def test_a_file_that_is_not_an_image_is_named():
  with pytest.raises(images.BadImageError) as caught:
    images.decode_image(b"%PDF-1.4 not an image", "scan.pdf")
  assert "'scan.pdf' is not an image file" in str(caught.value)
  assert "BytesIO" not in str(caught.value)


def test_encode_for_record_keeps_upright_rgb_and_rotates_the_rest():
  upright = _encode(Image.fromarray(STORED), "PNG")
  assert images.encode_for_record(upright, "a.png") == (upright, "png", 3, 2)
  encoded, fmt, height, width = images.encode_for_record(_jpeg_with_orientation(6), "p.jpg")
  assert (fmt, height, width) == ("jpeg", 32, 48)
  assert _red_corner(np.asarray(Image.open(io.BytesIO(encoded)))) == [(0, 1)]


def test_predict_reads_images_with_the_same_decoder(tmp_path):
  path = tmp_path / "phone.jpg"
  path.write_bytes(_jpeg_with_orientation(6))
  pixels, encoded = predict.read_image(str(path))
  assert pixels.shape == (32, 48, 3)
  # The bytes, for models taking encoded images, decode to the same (rotated) pixels.
  np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(encoded))), pixels)
  upright = tmp_path / "upright.png"
  upright.write_bytes(_encode(Image.fromarray(STORED), "PNG"))
  assert predict.read_image(str(upright))[1] == upright.read_bytes()
  (tmp_path / "notes.txt").write_text("hello")
  with pytest.raises(ValueError, match="notes.txt' is not an image file"):
    predict.read_image(str(tmp_path / "notes.txt"))
