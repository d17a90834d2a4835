"""Decoding images as people have them: one function for every reader.

`decode_image` is used by the converters (`convert-coco`, `convert-via`,
`convert-labelme`), the `data_decoders.coco_json` decoder, `predict` and the
pictures, so an image becomes the same pixels everywhere:

  * EXIF orientation is applied (`PIL.ImageOps.exif_transpose`, as
    Detectron2's `read_image`); `tf.io.decode_jpeg` and `Image.open` ignore
    it. When the annotations give the image's size, a size that matches only
    the stored (unrotated) pixels keeps them unrotated: the tool annotated
    those. A size that matches neither orientation is a bad image.
  * Grayscale, grayscale + alpha, RGBA, palette and CMYK become RGB
    (Pillow's conversions; alpha is dropped).
  * 16-bit (and 32-bit integer) grayscale is scaled to 8 bits over the full
    16-bit range (value * 255 / 65535), not clipped at 255.
"""

import io
from typing import Optional, Tuple

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from maskrcnn_plugin.errors import UserError

_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")
# EXIF orientations 5-8 swap width and height.
_TRANSPOSING_ORIENTATIONS = (5, 6, 7, 8)
_EXIF_ORIENTATION_TAG = 0x0112


class BadImageError(UserError):
  """An image is missing, not an image, or does not have its annotated size."""


def _open(encoded: bytes, source: str) -> Image.Image:
  try:
    image = Image.open(io.BytesIO(encoded))
    image.load()
  except UnidentifiedImageError as error:
    raise BadImageError(f"Image '{source}' is not an image file Pillow can read (JPEG, PNG, "
                        "BMP, GIF, TIFF, WebP, ...).") from error
  except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
    raise BadImageError(f"Image '{source}' cannot be decoded ({error}).") from error
  return image


def _to_rgb(image: Image.Image) -> np.ndarray:
  """uint8 [H, W, 3] of any Pillow mode."""
  if image.mode in _SIXTEEN_BIT_MODES:
    values = np.asarray(image, dtype=np.float64)
    top = max(65535.0, float(values.max(initial=0)))
    gray = np.round(np.clip(values, 0, None) * (255.0 / top)).astype(np.uint8)
    return np.repeat(gray[:, :, None], 3, axis=2)
  if image.mode == "F":
    values = np.asarray(image, dtype=np.float64)
    top = 1.0 if values.max(initial=0) <= 1.0 else 65535.0
    gray = np.round(np.clip(values / top, 0, 1) * 255).astype(np.uint8)
    return np.repeat(gray[:, :, None], 3, axis=2)
  if image.mode == "P" and "transparency" in image.info:
    image = image.convert("RGBA")  # Pillow warns converting such palettes straight to RGB.
  return np.asarray(image.convert("RGB"), dtype=np.uint8)


def _orientation(image: Image.Image) -> int:
  try:
    return int(image.getexif().get(_EXIF_ORIENTATION_TAG, 1))
  except (TypeError, ValueError):  # A malformed EXIF block: treated as upright.
    return 1


def displayed_size(encoded: bytes, source: str) -> Tuple[int, int]:
  """(height, width) of an image as viewers show it (EXIF orientation applied).

  Decodes the pixels too, so a broken file is a BadImageError here.
  """
  image = _open(encoded, source)
  size = (image.height, image.width)
  return size[::-1] if _orientation(image) in _TRANSPOSING_ORIENTATIONS else size


def decode_image_and_orientation(encoded: bytes, source: str,
                                 expected_size: Optional[Tuple[int, int]] = None
                                 ) -> Tuple[np.ndarray, bool]:
  """Like `decode_image`; also says whether an EXIF rotation or flip was applied."""
  image = _open(encoded, source)
  orientation = _orientation(image)
  stored_size = (image.height, image.width)
  rotated = orientation != 1
  if expected_size is not None:
    expected_size = (int(expected_size[0]), int(expected_size[1]))
    shown_size = stored_size[::-1] if orientation in _TRANSPOSING_ORIENTATIONS else stored_size
    if expected_size == shown_size:
      pass  # The displayed image (EXIF applied) has the annotated size.
    elif expected_size == stored_size:
      rotated = False  # The annotations are on the stored pixels.
    else:
      note = (f" ({shown_size[1]}x{shown_size[0]} once its EXIF orientation {orientation} "
              "is applied)" if shown_size != stored_size else "")
      raise BadImageError(
          f"Image '{source}' is {stored_size[1]}x{stored_size[0]}{note} but the annotations "
          f"say {expected_size[1]}x{expected_size[0]} (width x height). Fix the image's "
          "width/height in the annotations, or the image file.")
  if rotated:
    image = ImageOps.exif_transpose(image)
  return _to_rgb(image), rotated


def decode_image(encoded: bytes, source: str,
                 expected_size: Optional[Tuple[int, int]] = None) -> np.ndarray:
  """Decodes image bytes to uint8 [height, width, 3] RGB pixels.

  Args:
    encoded: The image file's bytes.
    source: What to call the image in errors (its file name).
    expected_size: (height, width) the annotations give, or None: EXIF
      orientation is applied unless only the stored pixels have this size.

  Raises:
    BadImageError: naming `source`, for bytes that are not a readable image or
      an image that has neither orientation of `expected_size`.
  """
  return decode_image_and_orientation(encoded, source, expected_size)[0]


def read_bytes(path: str) -> bytes:
  """The bytes of an image file; BadImageError names a missing or unreadable file."""
  try:
    with open(path, "rb") as file:
      return file.read()
  except FileNotFoundError as error:
    raise BadImageError(f"Image '{path}' does not exist.") from error
  except OSError as error:
    raise BadImageError(f"Image '{path}' cannot be read ({error.strerror}).") from error


def encode_for_record(encoded: bytes, source: str,
                      expected_size: Optional[Tuple[int, int]] = None
                      ) -> Tuple[bytes, str, int, int]:
  """Image bytes for image/encoded that TensorFlow decodes to `decode_image`'s pixels.

  Upright 8-bit RGB JPEG and PNG files are kept byte for byte; others are
  decoded (orientation and mode as `decode_image`) and re-encoded: JPEG
  quality 95 for JPEG sources, PNG otherwise.

  Returns:
    (encoded, format "jpeg" or "png", height, width).
  """
  pixels, rotated = decode_image_and_orientation(encoded, source, expected_size)
  height, width = pixels.shape[:2]
  with Image.open(io.BytesIO(encoded)) as image:
    source_format, mode = (image.format or "").lower(), image.mode
  if not rotated and mode == "RGB" and source_format in ("jpeg", "png"):
    return encoded, source_format, height, width
  out_format = "jpeg" if source_format in ("jpeg", "mpo") else "png"
  buffer = io.BytesIO()
  if out_format == "jpeg":
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=95)
  else:
    Image.fromarray(pixels).save(buffer, format="PNG")
  return buffer.getvalue(), out_format, height, width
