"""An in-memory COCO dict from other annotation tools' regions (VIA, LabelMe).

The VIA and LabelMe converters turn each region into a COCO annotation with
this module, then hand the dict to `convert_coco.convert_index`: one set of
checks (`annotation_checks`) and one writer for every format. Regions are
polygons in image pixels; rectangles, circles and ellipses are turned into
polygons here. After the conversion, `write_converted_json` writes the COCO
JSON of exactly what went into the records (ground truth for evaluation).
"""

import json
import math
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from maskrcnn_plugin.data import annotation_checks, coco
from maskrcnn_plugin.data.annotation_checks import Problem

# Circles and ellipses become polygons with this many points (measured: the
# rasterized mask of a 100 px radius circle has 0.1% less area than pi r^2).
ELLIPSE_POINTS = 64
# Key of an annotation's human-readable origin ("region #3", "shape #2 'cat'"),
# used in messages and removed from the written COCO JSON.
SOURCE_KEY = "source"


def ellipse_polygon(cx: float, cy: float, rx: float, ry: float, theta: float = 0.0
                    ) -> List[float]:
  """[x0, y0, x1, y1, ...] of an ellipse with radii rx, ry rotated by theta radians."""
  angles = np.linspace(0.0, 2.0 * math.pi, ELLIPSE_POINTS, endpoint=False)
  x, y = rx * np.cos(angles), ry * np.sin(angles)
  cos, sin = math.cos(theta), math.sin(theta)
  points = np.stack([cx + x * cos - y * sin, cy + x * sin + y * cos], axis=1)
  return points.reshape(-1).tolist()


def rectangle_polygon(x0: float, y0: float, x1: float, y1: float) -> List[float]:
  """The four corners of the axis-aligned rectangle between two corners."""
  left, right, top, bottom = min(x0, x1), max(x0, x1), min(y0, y1), max(y0, y1)
  return [left, top, right, top, right, bottom, left, bottom]


def polygon_bbox(polygons: Sequence[Sequence[float]]) -> List[float]:
  """COCO [x, y, w, h] around polygons."""
  points = np.concatenate([np.asarray(p, np.float64).reshape(-1, 2) for p in polygons])
  x0, y0 = points.min(axis=0)
  x1, y1 = points.max(axis=0)
  return [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]


class CocoBuilder:
  """Collects images, categories and annotations into a COCO dict.

  Args:
    path: The annotation file or folder, for messages.
    class_order: Class names in id order (ids 1..K), or None: ids by sorted
      name of the classes met (`categories()`).
  """

  def __init__(self, path: str, class_order: Optional[Sequence[str]] = None):
    self.path = path
    self.images: List[Dict] = []
    self.annotations: List[Dict] = []
    self.embedded_images: Dict[int, bytes] = {}
    self.problems: List[Tuple[Problem, str]] = []
    self._fixed_classes = list(class_order) if class_order else None
    self._seen_classes: Dict[str, None] = {}

  def add_image(self, file_name: str, height: int, width: int,
                embedded: Optional[bytes] = None) -> Dict:
    image = {"id": len(self.images) + 1, "file_name": file_name, "height": int(height),
             "width": int(width)}
    self.images.append(image)
    if embedded is not None:
      self.embedded_images[image["id"]] = embedded
    return image

  def add_region(self, image: Dict, source: str, class_name: Optional[str],
                 polygons: Optional[List[List[float]]],
                 problem: Optional[Problem] = None) -> None:
    """Adds one region as an annotation, or records why it cannot be one.

    Args:
      source: Where the region is in the tool's file, e.g. "region #3".
      class_name: Its class, or None when it has none (`problem` says why).
      polygons: Its polygons in pixels ([x0, y0, x1, y1, ...] each).
      problem: Why the region cannot be converted (unsupported shape, no
        class), reported like an annotation check.
    """
    ann = {"id": len(self.annotations) + len(self.problems) + 1, "image_id": image["id"],
           SOURCE_KEY: source}
    if problem is None and class_name is None:
      problem = Problem("region without class", "the region has no class")
    if problem is None and not polygons:
      problem = Problem("empty segmentation", "the region has no points")
    if problem is not None:
      self.problems.append((problem, annotation_checks.describe(self.path, ann, image, problem)))
      return
    self._seen_classes.setdefault(class_name, None)
    ann.update(class_name=class_name, iscrowd=0, segmentation=[])
    self.annotations.append(ann)
    self.add_polygons(len(self.annotations) - 1, polygons)

  def add_polygons(self, position: int, polygons: List[List[float]]) -> None:
    """Adds polygons to annotation `position` (one instance drawn in parts)."""
    ann = self.annotations[position]
    ann["segmentation"] = ann["segmentation"] + list(polygons)
    try:
      ann["bbox"] = polygon_bbox(ann["segmentation"])
      ann["area"] = sum(annotation_checks.polygon_area(p) for p in ann["segmentation"]
                        if len(p) >= 6)
    except ValueError:  # Odd coordinate counts: the annotation checks name them.
      ann["bbox"], ann["area"] = [0.0, 0.0, 0.0, 0.0], 0.0

  def categories(self) -> List[Dict]:
    names = self._fixed_classes or sorted(self._seen_classes)
    return [{"id": i + 1, "name": name} for i, name in enumerate(names)]

  def index(self) -> coco.CocoIndex:
    """The COCO index of everything added (class names resolved to category ids)."""
    categories = self.categories()
    ids = {c["name"]: c["id"] for c in categories}
    annotations, problems = [], list(self.problems)
    images = {image["id"]: image for image in self.images}
    for ann in self.annotations:
      ann = dict(ann)
      name = ann.pop("class_name")
      if name not in ids:
        problem = Problem("unknown class", f"its class {name!r} is not one of the classes "
                                           f"{', '.join(ids)} (--classes)")
        problems.append((problem, annotation_checks.describe(self.path, ann,
                                                             images[ann["image_id"]], problem)))
        continue
      ann["category_id"] = ids[name]
      annotations.append(ann)
    data = {"images": self.images, "annotations": annotations, "categories": categories}
    index = coco.load_coco(self.path, data)
    index.problems = problems + index.problems
    index.embedded_images = self.embedded_images
    return index


def write_converted_json(path: str, index: coco.CocoIndex, written: Dict[int, List]) -> str:
  """Writes the COCO JSON of the images and annotations in the records; returns `path`.

  Args:
    written: Per written image id, the ids of its annotations that were written.
  """
  images_out, annotations_out = [], []
  for image in index.images:
    if image["id"] not in written:
      continue
    images_out.append(image)
    keep = set(written[image["id"]])
    for ann in index.annotations[image["id"]]:
      if ann["id"] in keep:
        annotations_out.append({k: v for k, v in ann.items() if k != SOURCE_KEY})
  categories = [{"id": i, "name": n} for i, n in sorted(index.categories.items())]
  with open(path, "w", encoding="utf-8") as file:
    json.dump({"images": images_out, "annotations": annotations_out,
               "categories": categories}, file)
  return path
