"""A folder of LabelMe JSON files -> COCO dict, for `maskrcnn data convert-labelme`.

One JSON file per image, as LabelMe writes it:

    {"version": "5.4.1", "flags": {}, "shapes": [SHAPE, ...], "imagePath": "a.jpg",
     "imageData": BASE64 or null, "imageHeight": 480, "imageWidth": 640}

with SHAPE = {"label": "cat", "points": [[x, y], ...], "group_id": null,
"shape_type": "polygon", "flags": {}}. Shape types: polygon, rectangle (two
corner points) and circle (centre and a point on the circle); shapes of one
label sharing a group_id are one instance (as labelme2coco merges them).
Other shape types (line, linestrip, point, mask) are bad regions, named.

The image is `imageData` when the file embeds it (what LabelMe shows), else
`imagePath` relative to the JSON file. `imageHeight` and `imageWidth` are
checked against it (with EXIF orientation as LabelMe applies it). Category
ids are 1..K in the order of `classes`, else of the sorted labels.
"""

import base64
import binascii
import glob
import math
import os
from typing import Dict, List, Optional, Sequence, Tuple

from maskrcnn_plugin.data import coco, coco_builder
from maskrcnn_plugin.data.annotation_checks import Problem
from maskrcnn_plugin.errors import UserError


def shape_polygon(shape: Dict) -> Tuple[Optional[List[float]], Optional[Problem]]:
  """(polygon [x0, y0, ...], None) of a LabelMe shape, or (None, problem)."""
  shape_type = shape.get("shape_type") or "polygon"
  try:
    points = [(float(x), float(y)) for x, y in shape.get("points") or []]
  except (TypeError, ValueError):
    return None, Problem("malformed region", "its points are not [x, y] number pairs")
  if shape_type == "polygon":
    return [v for point in points for v in point], None
  if shape_type == "rectangle":
    if len(points) != 2:
      return None, Problem("malformed region", f"a rectangle has 2 points, not {len(points)}")
    (x0, y0), (x1, y1) = points
    return coco_builder.rectangle_polygon(x0, y0, x1, y1), None
  if shape_type == "circle":
    if len(points) != 2:
      return None, Problem("malformed region", f"a circle has 2 points, not {len(points)}")
    (cx, cy), (px, py) = points
    r = math.hypot(px - cx, py - cy)
    return coco_builder.ellipse_polygon(cx, cy, r, r), None
  return None, Problem("unsupported shape",
                       f"shape_type {shape_type!r} is not supported; use polygon, rectangle or "
                       "circle")


def _embedded_image(data: Dict, json_path: str) -> Optional[bytes]:
  if not data.get("imageData"):
    return None
  try:
    return base64.b64decode(data["imageData"], validate=False)
  except (binascii.Error, TypeError, ValueError) as error:
    raise UserError(f"{json_path}: imageData is not base64 ({error}).") from error


def to_coco(folder: str, *, classes: Optional[Sequence[str]] = None
            ) -> coco.CocoIndex:
  """A COCO index of every LabelMe JSON file under `folder` (recursively).

  Image file names are relative to `folder`. JSON files that are not LabelMe
  files (no `shapes`) are an error naming them.
  """
  if not os.path.isdir(folder):
    raise UserError(f"LabelMe folder '{folder}' does not exist.")
  paths = sorted(glob.glob(os.path.join(folder, "**", "*.json"), recursive=True))
  if not paths:
    raise UserError(f"LabelMe folder '{folder}' holds no .json file.")
  builder = coco_builder.CocoBuilder(folder, classes)
  for json_path in paths:
    data = coco.read_json(json_path, "LabelMe file")
    if not isinstance(data, dict) or "shapes" not in data or "imagePath" not in data:
      raise coco.CocoFormatError(f"'{json_path}' is not a LabelMe file (no 'shapes' and "
                                 "'imagePath'). Keep only LabelMe JSON files in the folder.")
    relative = os.path.relpath(
        os.path.normpath(os.path.join(os.path.dirname(json_path), data["imagePath"])), folder)
    height, width = data.get("imageHeight"), data.get("imageWidth")
    if not isinstance(height, int) or not isinstance(width, int):
      raise coco.CocoFormatError(f"{json_path}: imageHeight and imageWidth must be integers, "
                                 f"got {height!r} and {width!r}.")
    image = builder.add_image(relative, height, width, _embedded_image(data, json_path))
    groups: Dict[Tuple, int] = {}
    for number, shape in enumerate(data["shapes"]):
      polygon, problem = shape_polygon(shape)
      label = shape.get("label") or None
      source = f"{os.path.relpath(json_path, folder)} shape #{number} ({label!r})"
      group = shape.get("group_id")
      if problem is None and label and group is not None and (label, group) in groups:
        builder.add_polygons(groups[(label, group)], [polygon])
        continue
      builder.add_region(image, source, label, [polygon] if polygon else None, problem)
      if problem is None and label and group is not None:
        groups[(label, group)] = len(builder.annotations) - 1
  return builder.index()
