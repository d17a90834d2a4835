"""Reading COCO annotation files: index, checks, segmentations, images.

Shared by the COCO-JSON training decoder (`dataloaders.coco_json`),
`maskrcnn data convert-coco` and the VIA and LabelMe converters (which build
a COCO dict in memory). Every problem is reported with the annotation file
and the image or annotation id at fault (see `annotation_checks`).
"""

import collections
import dataclasses
import json
import os
from typing import Dict, List, Optional, Tuple

import numpy as np
from pycocotools import mask as mask_api

from maskrcnn_plugin.data import annotation_checks, images as images_lib
from maskrcnn_plugin.data.annotation_checks import Problem
from maskrcnn_plugin.errors import UserError

BadImageError = images_lib.BadImageError


class CocoFormatError(UserError):
  """The annotation JSON is unreadable or lacks required keys."""


class BadAnnotationError(UserError):
  """An annotation is inconsistent; the message names it, its image and the reason."""


@dataclasses.dataclass
class SkippedAnnotations:
  """Annotations (or image entries) left out, in order.

  Attributes:
    messages: One message per skipped annotation, naming it.
    keys: The reason key of each message.
  """
  messages: List[str] = dataclasses.field(default_factory=list)
  keys: List[str] = dataclasses.field(default_factory=list)

  def add(self, problem: Problem, message: str) -> None:
    self.messages.append(message)
    self.keys.append(problem.key)

  def extend(self, other: "SkippedAnnotations") -> None:
    self.messages += other.messages
    self.keys += other.keys

  @property
  def by_reason(self) -> Dict[str, int]:
    """Reason key -> count."""
    return dict(collections.Counter(self.keys))


@dataclasses.dataclass
class CocoIndex:
  """A COCO annotation file indexed by image.

  Attributes:
    path: The annotation file (or the file a COCO dict was made from).
    images: The `images` entries, in file order (the first of duplicate ids).
    annotations: Per image id, its `annotations` entries in file order.
    categories: Category id -> name.
    problems: File-level problems found while indexing: (problem, message,
      annotation or image entry) for duplicate image ids and annotations
      whose image_id has no image; `check_annotations` reports or skips them.
    embedded_images: Image id -> image file bytes for images stored in the
      annotation file itself (LabelMe's imageData).
  """
  path: str
  images: List[Dict]
  annotations: Dict[int, List[Dict]]
  categories: Dict[int, str]
  problems: List[Tuple[Problem, str]] = dataclasses.field(default_factory=list)
  embedded_images: Dict[int, bytes] = dataclasses.field(default_factory=dict)


def read_json(path: str, what: str) -> Dict:
  """A JSON file's content; CocoFormatError naming the file when missing or invalid."""
  try:
    with open(path, "rb") as f:
      return json.load(f)
  except FileNotFoundError as error:
    raise CocoFormatError(f"{what} '{path}' does not exist.") from error
  except (json.JSONDecodeError, UnicodeDecodeError) as error:
    raise CocoFormatError(f"{what} '{path}' is not valid JSON: {error}.") from error


def load_coco(path: str, data: Optional[Dict] = None) -> CocoIndex:
  """Reads and indexes a COCO instances JSON file (or `data`, a COCO dict made from `path`)."""
  if data is None:
    data = read_json(path, "COCO annotation file")
  if not isinstance(data, dict):
    raise CocoFormatError(f"COCO annotation file '{path}' holds a {type(data).__name__}, not "
                          "an object with 'images', 'annotations' and 'categories'.")
  for key in ("images", "categories"):
    if key not in data:
      raise CocoFormatError(f"COCO annotation file '{path}' has no '{key}' list; is it an "
                            "instances_*.json file?")
  for i, category in enumerate(data["categories"]):
    if not isinstance(category, dict) or "id" not in category or "name" not in category:
      raise CocoFormatError(f"{path}: categories entry #{i} lacks 'id' or 'name'.")
  categories = {int(c["id"]): str(c["name"]) for c in data["categories"]}
  index = CocoIndex(path, [], {}, categories)
  for i, image in enumerate(data["images"]):
    missing = [k for k in ("id", "file_name", "height", "width")
               if not isinstance(image, dict) or k not in image]
    if missing:
      raise CocoFormatError(f"{path}: images entry #{i} lacks {', '.join(missing)}.")
    if image["id"] in index.annotations:
      first = next(im for im in index.images if im["id"] == image["id"])
      problem = Problem("duplicate image id",
                        f"image id {image['id']} is used twice: by '{first['file_name']}' "
                        f"and by '{image['file_name']}' (images entry #{i})")
      index.problems.append((problem, f"{path}: {problem.detail}"))
      continue
    index.images.append(image)
    index.annotations[image["id"]] = []
  for i, ann in enumerate(data.get("annotations", [])):
    missing = [k for k in ("image_id", "category_id", "bbox")
               if not isinstance(ann, dict) or k not in ann]
    if missing:
      raise CocoFormatError(f"{path}: annotation #{i} (id {ann.get('id')}) lacks "
                            f"{', '.join(missing)}.")
    if ann["image_id"] not in index.annotations:
      problem = Problem("image_id without image",
                        f"its image_id {ann['image_id']} is not in 'images'")
      index.problems.append((problem, annotation_checks.describe(path, ann, None, problem)))
      continue
    index.annotations[ann["image_id"]].append(ann)
  return index


def check_annotations(index: CocoIndex, *, include_masks: bool = True,
                      skip_bad: bool = False, fix: str = "pass --skip-bad to skip and count it"
                      ) -> SkippedAnnotations:
  """Checks every annotation before any is rasterized; drops the bad ones from `index`.

  Args:
    fix: How to skip, for the error message (the CLI flag or the gin binding).

  Returns:
    The skipped annotations (and duplicate image entries), by reason.

  Raises:
    BadAnnotationError: for the first problem, unless skip_bad; it names the
      annotation file, the annotation id, the image file and the reason.
  """
  skipped = SkippedAnnotations()

  def report(problem: Problem, message: str) -> None:
    if not skip_bad:
      raise BadAnnotationError(f"{message}. Fix the annotation, or {fix}.")
    skipped.add(problem, message)

  for problem, message in index.problems:
    report(problem, message)
  index.problems = []
  for image in index.images:
    kept = []
    for ann in index.annotations[image["id"]]:
      problem = annotation_checks.annotation_problem(ann, image, index.categories, include_masks)
      if problem:
        report(problem, annotation_checks.describe(index.path, ann, image, problem))
      else:
        kept.append(ann)
    index.annotations[image["id"]] = kept
  return skipped


def segmentation_to_mask(segmentation, height: int, width: int) -> np.ndarray:
  """A uint8 [height, width] 0/1 mask from a checked COCO segmentation.

  Accepts polygons (list of coordinate lists), uncompressed RLE (`counts` a
  list, as in crowd regions) and compressed RLE (`counts` a string). This is
  pycocotools' `COCO.annToRLE`, which needs a whole COCO object; Model Garden's
  `coco_segmentation_to_mask_png` fails on compressed RLE. Call
  `annotation_checks.segmentation_problem` first: pycocotools fails
  obscurely on degenerate input.
  """
  if isinstance(segmentation, list):
    rle = mask_api.merge(mask_api.frPyObjects(
        [[float(v) for v in polygon] for polygon in segmentation], height, width))
  elif isinstance(segmentation.get("counts"), list):
    rle = mask_api.frPyObjects(segmentation, height, width)
  else:
    rle = dict(segmentation)
    if isinstance(rle["counts"], str):
      rle["counts"] = rle["counts"].encode("ascii")
  return mask_api.decode(rle).astype(np.uint8)


def clipped_box(bbox, width: int, height: int) -> Tuple[float, float, float, float]:
  """[x, y, w, h] clipped to the image (boxes within BOX_TOLERANCE_PIXELS)."""
  x0, y0 = max(0.0, float(bbox[0])), max(0.0, float(bbox[1]))
  x1 = min(float(width), float(bbox[0]) + float(bbox[2]))
  y1 = min(float(height), float(bbox[1]) + float(bbox[3]))
  return x0, y0, x1 - x0, y1 - y0


def read_image_bytes(index: CocoIndex, image: Dict, image_dir: str) -> Tuple[bytes, str]:
  """(file bytes, source name) of an image: embedded in the annotations or in image_dir.

  Raises:
    BadImageError: the file is missing or unreadable.
  """
  if image["id"] in index.embedded_images:
    return index.embedded_images[image["id"]], f"{index.path} (imageData of '{image['file_name']}')"
  path = image_path(image_dir, image)
  return images_lib.read_bytes(path), path


def image_path(image_dir: str, image: Dict) -> str:
  return os.path.join(image_dir, image["file_name"])
