"""Checks of COCO annotations, in one place for every reader of annotations.

`convert-coco`, `convert-via`, `convert-labelme` (through the COCO dict they
build) and the `data_decoders.coco_json` decoder run these checks before any
pycocotools call: pycocotools 2.0.11's `frPyObjects` raises IndexError on
`[]`, "input type is not supported" on `[[]]` and one-point polygons, takes a
two-point polygon first in the list for a bbox (TypeError), and rasterizes
collinear polygons to empty masks without a word.

Each check returns a `Problem` (a short counting key and the detail) or None;
`describe` turns it into the one message the user sees, naming the
annotation file, the annotation id, the image file and the reason.
"""

import dataclasses
from typing import Dict, Optional, Sequence

import numpy as np

# A box may exceed the image by this many pixels (COCO's float rounding) before
# it counts as outside the image; it is clipped to the image.
BOX_TOLERANCE_PIXELS = 1.0


@dataclasses.dataclass(frozen=True)
class Problem:
  """What is wrong with one annotation.

  Attributes:
    key: Short reason used to count skips, e.g. 'empty segmentation'.
    detail: The reason with the offending values.
  """
  key: str
  detail: str


def describe(annotation_file: str, ann: Dict, image: Optional[Dict], problem: Problem) -> str:
  """'FILE: annotation id N of image 'NAME' (id M): DETAIL'.

  Annotations made from another tool's file carry `source` (e.g. "region #3"),
  named instead of the annotation id.
  """
  where = (f"image '{image.get('file_name')}' (id {image.get('id')})" if image is not None
           else f"image id {ann.get('image_id')}")
  what = ann.get("source") or f"annotation id {ann.get('id')}"
  return f"{annotation_file}: {what} of {where}: {problem.detail}"


def _is_number(value) -> bool:
  return isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)


def polygon_area(coordinates: Sequence[float]) -> float:
  """Area of a polygon [x0, y0, x1, y1, ...] (shoelace formula), in pixels."""
  points = np.asarray(coordinates, np.float64).reshape(-1, 2)
  x, y = points[:, 0], points[:, 1]
  return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def compressed_rle_total(counts: bytes) -> Optional[int]:
  """Sum of the run lengths of a compressed COCO RLE string, or None if malformed.

  The format of pycocotools' `rleFrString`: 5-bit groups, 6 bits per character
  offset by 48, continuation bit 0x20, sign bit 0x10 of the last group;
  counts after the second are stored as differences from the one two before.
  """
  runs, position = [], 0
  while position < len(counts):
    value, shift, more = 0, 0, True
    while more:
      if position >= len(counts):
        return None
      c = counts[position] - 48
      if not 0 <= c < 64:
        return None
      value |= (c & 0x1F) << (5 * shift)
      more = bool(c & 0x20)
      position += 1
      shift += 1
      if not more and c & 0x10:
        value |= -1 << (5 * shift)
    if len(runs) > 2:
      value += runs[-2]
    if value < 0:
      return None
    runs.append(value)
  return sum(runs)


def segmentation_problem(segmentation, height: int, width: int) -> Optional[Problem]:
  """Why a COCO segmentation cannot become a non-empty [height, width] mask, or None."""
  if isinstance(segmentation, list):
    if not segmentation:
      return Problem("empty segmentation",
                     "the segmentation is empty ([]); a box-only annotation needs --no-masks "
                     "(or include_mask = False)")
    area = 0.0
    for number, polygon in enumerate(segmentation):
      if not isinstance(polygon, list) or not all(_is_number(v) for v in polygon):
        return Problem("malformed polygon",
                       f"polygon #{number} is not a list of numbers [x0, y0, x1, y1, ...]")
      if len(polygon) % 2:
        return Problem("odd coordinate count",
                       f"polygon #{number} has an odd number of coordinates ({len(polygon)})")
      if len(polygon) < 6:
        return Problem("polygon with fewer than 3 points",
                       f"polygon #{number} has {len(polygon) // 2} point(s); a polygon needs "
                       "at least 3")
      area += polygon_area(polygon)
    if area == 0:
      return Problem("zero-area segmentation",
                     "the polygons have zero area (their points are collinear or repeated)")
    return None
  if not isinstance(segmentation, dict) or "counts" not in segmentation:
    return Problem("malformed segmentation",
                   "the segmentation is neither polygons nor RLE (got "
                   f"{type(segmentation).__name__})")
  size = segmentation.get("size")
  if (not isinstance(size, list) or len(size) != 2 or
      [int(v) if _is_number(v) else v for v in size] != [height, width]):
    return Problem("RLE size differs from image",
                   f"the RLE size {size} is not the image's [height, width] = "
                   f"[{height}, {width}]")
  counts = segmentation["counts"]
  if isinstance(counts, list):
    if not all(_is_number(v) and v >= 0 for v in counts):
      return Problem("malformed RLE", "the RLE counts are not non-negative numbers")
    total = int(sum(counts))
    if total != height * width:
      return Problem("RLE counts do not sum to height x width",
                     f"the RLE counts sum to {total}, not height x width = {height * width}")
    if sum(counts[1::2]) == 0:
      return Problem("zero-area segmentation", "the RLE mask covers no pixel")
    return None
  if isinstance(counts, str):
    counts = counts.encode("ascii", errors="replace")
  if not isinstance(counts, bytes):
    return Problem("malformed RLE", "the RLE counts are neither a list nor a string")
  total = compressed_rle_total(counts)
  if total is None:
    return Problem("malformed RLE", "the compressed RLE counts string is malformed")
  if total != height * width:
    return Problem("RLE counts do not sum to height x width",
                   f"the RLE counts sum to {total}, not height x width = {height * width}")
  return None


def box_problem(bbox, height: int, width: int) -> Optional[Problem]:
  """Why a COCO bbox [x, y, w, h] does not fit a height x width image, or None."""
  if not isinstance(bbox, list) or len(bbox) != 4 or not all(_is_number(v) for v in bbox):
    return Problem("malformed bbox", f"bbox {bbox} is not 4 numbers [x, y, width, height]")
  x, y, w, h = (float(v) for v in bbox)
  if w <= 0 or h <= 0:
    return Problem("zero-size box", f"bbox {bbox} has zero or negative width or height")
  tolerance = BOX_TOLERANCE_PIXELS
  if x < -tolerance or y < -tolerance or x + w > width + tolerance or y + h > height + tolerance:
    return Problem("box outside image", f"bbox {bbox} lies outside the {width}x{height} image")
  return None


def annotation_problem(ann: Dict, image: Dict, categories: Dict[int, str],
                       include_masks: bool = True) -> Optional[Problem]:
  """The first problem of an annotation of `image` (a COCO `images` entry), or None.

  Checks the bbox, the category id and (with `include_masks`) the
  segmentation. The segmentation's rasterized mask can still be empty for a
  sliver polygon of positive area: `empty_mask_problem` checks that.
  """
  problem = box_problem(ann.get("bbox"), image["height"], image["width"])
  if problem:
    return problem
  category_id = ann.get("category_id")
  if not _is_number(category_id) or int(category_id) not in categories:
    return Problem("unknown category_id",
                   f"category_id {category_id!r} is not in 'categories' "
                   f"(ids {sorted(categories)[:20]})")
  if include_masks:
    if "segmentation" not in ann:
      return Problem("no segmentation", "it has no 'segmentation'; for box-only data use "
                                        "--no-masks (or include_mask = False)")
    return segmentation_problem(ann["segmentation"], image["height"], image["width"])
  return None


def empty_mask_problem(mask: np.ndarray) -> Optional[Problem]:
  """A problem for a rasterized mask that covers no pixel, else None."""
  if not mask.any():
    return Problem("zero-area segmentation", "the segmentation covers no pixel once rasterized")
  return None
