"""Reading COCO annotation files: index, segmentations, images, checks.

Shared by the COCO-JSON training decoder (`dataloaders.coco_json`) and
`maskrcnn data convert-coco`. Every problem is reported with the annotation
file and the image or annotation id at fault.
"""

import dataclasses
import io
import json
import os
from typing import Dict, List, Optional, Tuple

import numpy as np
from PIL import Image, UnidentifiedImageError
from pycocotools import mask as mask_api

from maskrcnn_plugin.errors import UserError

# A box may exceed the image by this many pixels (COCO's float rounding) before
# it counts as outside the image; it is clipped to the image.
BOX_TOLERANCE_PIXELS = 1.0


class CocoFormatError(UserError):
  """The annotation JSON is unreadable or lacks required keys."""


class BadImageError(UserError):
  """An image named by the annotations is missing or cannot be decoded."""


@dataclasses.dataclass
class CocoIndex:
  """A COCO annotation file indexed by image.

  Attributes:
    path: The annotation file.
    images: The `images` entries, in file order.
    annotations: Per image id, its `annotations` entries in file order.
    categories: Category id -> name.
  """
  path: str
  images: List[Dict]
  annotations: Dict[int, List[Dict]]
  categories: Dict[int, str]


def load_coco(path: str) -> CocoIndex:
  """Reads and indexes a COCO instances JSON file."""
  try:
    with open(path, "rb") as f:
      data = json.load(f)
  except FileNotFoundError as error:
    raise CocoFormatError(f"COCO annotation file '{path}' does not exist.") from error
  except (json.JSONDecodeError, UnicodeDecodeError) as error:
    raise CocoFormatError(f"COCO annotation file '{path}' is not valid JSON: {error}.") from error
  for key in ("images", "categories"):
    if key not in data:
      raise CocoFormatError(f"COCO annotation file '{path}' has no '{key}' list; is it an "
                            "instances_*.json file?")
  annotations: Dict[int, List[Dict]] = {image["id"]: [] for image in data["images"]}
  for i, ann in enumerate(data.get("annotations", [])):
    missing = [k for k in ("image_id", "category_id", "bbox") if k not in ann]
    if missing:
      raise CocoFormatError(f"{path}: annotation #{i} (id {ann.get('id')}) lacks "
                            f"{', '.join(missing)}.")
    if ann["image_id"] not in annotations:
      raise CocoFormatError(f"{path}: annotation id {ann.get('id')} names image_id "
                            f"{ann['image_id']}, which is not in 'images'.")
    annotations[ann["image_id"]].append(ann)
  categories = {int(c["id"]): c["name"] for c in data["categories"]}
  return CocoIndex(path, data["images"], annotations, categories)


def segmentation_to_mask(segmentation, height: int, width: int) -> np.ndarray:
  """A uint8 [height, width] 0/1 mask from a COCO segmentation.

  Accepts polygons (list of coordinate lists), uncompressed RLE (`counts` a
  list, as in crowd regions) and compressed RLE (`counts` a string). This is
  pycocotools' `COCO.annToRLE`, which needs a whole COCO object; Model Garden's
  `coco_segmentation_to_mask_png` fails on compressed RLE.
  """
  if isinstance(segmentation, list):
    rle = mask_api.merge(mask_api.frPyObjects(segmentation, height, width))
  elif isinstance(segmentation.get("counts"), list):
    rle = mask_api.frPyObjects(segmentation, height, width)
  else:
    rle = dict(segmentation)
    if isinstance(rle["counts"], str):
      rle["counts"] = rle["counts"].encode("ascii")
  return mask_api.decode(rle).astype(np.uint8)


def annotation_problem(ann: Dict, image: Dict, categories: Dict[int, str]) -> Optional[str]:
  """Why an annotation is inconsistent with its image, or None when it is fine."""
  bbox = ann["bbox"]
  if len(bbox) != 4:
    return f"bbox {bbox} does not have 4 numbers [x, y, width, height]"
  x, y, w, h = (float(v) for v in bbox)
  if w <= 0 or h <= 0:
    return f"zero-area box {bbox}"
  tolerance = BOX_TOLERANCE_PIXELS
  if (x < -tolerance or y < -tolerance or x + w > image["width"] + tolerance or
      y + h > image["height"] + tolerance):
    return f"box {bbox} lies outside the {image['width']}x{image['height']} image"
  if int(ann["category_id"]) not in categories:
    return f"category_id {ann['category_id']} is not in 'categories'"
  if "segmentation" not in ann:
    return "no 'segmentation'"
  return None


def clipped_box(bbox, width: int, height: int) -> Tuple[float, float, float, float]:
  """[x, y, w, h] clipped to the image (boxes within BOX_TOLERANCE_PIXELS)."""
  x0, y0 = max(0.0, float(bbox[0])), max(0.0, float(bbox[1]))
  x1 = min(float(width), float(bbox[0]) + float(bbox[2]))
  y1 = min(float(height), float(bbox[1]) + float(bbox[3]))
  return x0, y0, x1 - x0, y1 - y0


def read_rgb_image(path: str, expected_size: Optional[Tuple[int, int]] = None
                   ) -> Tuple[bytes, str, int, int]:
  """Reads an image file as bytes TensorFlow decodes to RGB.

  RGB JPEG and PNG files are kept byte for byte; grayscale, CMYK, palette and
  alpha images are converted to RGB and re-encoded (JPEG quality 95 for JPEG
  sources, PNG otherwise).

  Returns:
    (encoded, format, height, width) with format "jpeg" or "png".

  Raises:
    BadImageError: naming the file when it is missing, unreadable, truncated,
      or not `expected_size` ((height, width)).
  """
  try:
    with open(path, "rb") as f:
      raw = f.read()
    image = Image.open(io.BytesIO(raw))
    image.load()
  except FileNotFoundError as error:
    raise BadImageError(f"Image '{path}' does not exist.") from error
  except (OSError, UnidentifiedImageError, SyntaxError) as error:
    raise BadImageError(f"Image '{path}' cannot be decoded ({error}).") from error
  width, height = image.size
  if expected_size is not None and tuple(expected_size) != (height, width):
    raise BadImageError(f"Image '{path}' is {width}x{height} but the annotations say "
                        f"{expected_size[1]}x{expected_size[0]}.")
  source_format = (image.format or "").lower()
  if image.mode == "RGB" and source_format in ("jpeg", "png"):
    return raw, source_format, height, width
  out_format = "jpeg" if source_format == "jpeg" else "png"
  buffer = io.BytesIO()
  if out_format == "jpeg":
    image.convert("RGB").save(buffer, format="JPEG", quality=95)
  else:
    image.convert("RGB").save(buffer, format="PNG")
  return buffer.getvalue(), out_format, height, width


def image_path(image_dir: str, image: Dict) -> str:
  return os.path.join(image_dir, image["file_name"])
