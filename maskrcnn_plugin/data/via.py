"""VIA (VGG Image Annotator) 2 JSON -> COCO dict, for `maskrcnn data convert-via`.

Reads what VIA 2 writes and what matterport's balloon sample ships:

  * a project file: {"_via_settings": ..., "_via_img_metadata": {KEY: IMAGE},
    "_via_attributes": {"region": {NAME: {"options": {...}}}}, ...};
  * an exported region-data file ("Export Annotations (as json)"): {KEY: IMAGE};

with IMAGE = {"filename": ..., "size": ..., "regions": REGIONS,
"file_attributes": {...}} and REGIONS a list (VIA 2) or a dict keyed "0",
"1", ... (VIA 1 and the balloon sample). Each region is {"shape_attributes":
{"name": SHAPE, ...}, "region_attributes": {KEY: VALUE}} with SHAPE one of
polygon / polyline (all_points_x, all_points_y), rect (x, y, width, height),
circle (cx, cy, r), ellipse (cx, cy, rx, ry[, theta]). A point has no area
and is a bad region.

The class of a region is its region attribute `class_attribute` (a text or
dropdown value, or the one checked option of a checkbox attribute), or
`class_name` for every region. Category ids are 1..K in the order of
`classes`, else of the attribute's options in a project file, else of the
sorted class names met. VIA stores no image size: each image is read, and
its size is the one VIA shows (EXIF orientation applied, as browsers do).
"""

import os
from typing import Dict, List, Optional, Sequence, Tuple

from maskrcnn_plugin.data import coco, coco_builder, images
from maskrcnn_plugin.data.annotation_checks import Problem
from maskrcnn_plugin.errors import UserError

_POLYGON_SHAPES = ("polygon", "polyline")


def _regions(entry: Dict) -> List[Dict]:
  regions = entry.get("regions") or []
  if isinstance(regions, dict):
    regions = [regions[k] for k in sorted(regions, key=lambda k: (len(str(k)), str(k)))]
  return list(regions)


def region_polygon(shape: Dict) -> Tuple[Optional[List[float]], Optional[Problem]]:
  """(polygon [x0, y0, ...], None) of a VIA shape_attributes dict, or (None, problem)."""
  name = shape.get("name")
  try:
    if name in _POLYGON_SHAPES:
      xs, ys = shape["all_points_x"], shape["all_points_y"]
      if len(xs) != len(ys):
        return None, Problem("odd coordinate count",
                             f"the {name} has {len(xs)} x and {len(ys)} y coordinates")
      return [float(v) for xy in zip(xs, ys) for v in xy], None
    if name == "rect":
      x, y = float(shape["x"]), float(shape["y"])
      return coco_builder.rectangle_polygon(x, y, x + float(shape["width"]),
                                            y + float(shape["height"])), None
    if name == "circle":
      r = float(shape["r"])
      return coco_builder.ellipse_polygon(float(shape["cx"]), float(shape["cy"]), r, r), None
    if name == "ellipse":
      return coco_builder.ellipse_polygon(
          float(shape["cx"]), float(shape["cy"]), float(shape["rx"]), float(shape["ry"]),
          float(shape.get("theta", 0.0))), None
  except (KeyError, TypeError, ValueError) as error:
    return None, Problem("malformed region",
                         f"the {name} shape lacks or has a non-numeric {error}")
  return None, Problem("unsupported shape",
                       f"shape {name!r} has no area; use polygon, polyline, rect, circle or "
                       "ellipse")


def _class_of(region: Dict, class_attribute: Optional[str], class_name: Optional[str]
              ) -> Tuple[Optional[str], Optional[Problem]]:
  if class_name:
    return class_name, None
  attributes = region.get("region_attributes") or {}
  if class_attribute not in attributes or attributes[class_attribute] in ("", None, {}):
    present = ", ".join(sorted(attributes)) or "none"
    return None, Problem("region without class",
                         f"the region has no region attribute {class_attribute!r} "
                         f"(its attributes: {present})")
  value = attributes[class_attribute]
  if isinstance(value, dict):  # A checkbox attribute: {option: true, ...}.
    checked = [option for option, on in value.items() if on]
    if len(checked) != 1:
      return None, Problem("region without class",
                           f"region attribute {class_attribute!r} has {len(checked)} checked "
                           f"options ({', '.join(checked)}); one class per region")
    value = checked[0]
  return str(value), None


def _attribute_options(data: Dict, class_attribute: Optional[str]) -> Optional[List[str]]:
  """The options of the class attribute as a VIA project declares them, or None."""
  region_attributes = (data.get("_via_attributes") or {}).get("region") or {}
  options = (region_attributes.get(class_attribute) or {}).get("options")
  return list(options) if isinstance(options, dict) and options else None


def to_coco(annotation_file: str, image_dir: str, *, class_attribute: Optional[str] = None,
            class_name: Optional[str] = None, classes: Optional[Sequence[str]] = None,
            skip_bad: bool = False) -> Tuple[coco.CocoIndex, List[str]]:
  """A COCO index of a VIA JSON file, and the messages of images left out.

  Raises:
    UserError: the file is not VIA JSON, or neither/both of class_attribute
      and class_name are given.
    BadImageError: an image is missing or unreadable (unless skip_bad).
  """
  if bool(class_attribute) == bool(class_name):
    raise UserError("convert-via needs --class-attribute KEY (the region attribute holding "
                    "each region's class) or --class-name NAME (one class for all), not both.")
  data = coco.read_json(annotation_file, "VIA annotation file")
  metadata = data.get("_via_img_metadata", data) if isinstance(data, dict) else None
  entries = ([] if not isinstance(metadata, dict) else
             [(k, v) for k, v in metadata.items() if not k.startswith("_via")])
  if not entries or not all(isinstance(v, dict) and "filename" in v for _, v in entries):
    raise coco.CocoFormatError(
        f"'{annotation_file}' is not a VIA 2 project or region-data JSON file (expected "
        "{KEY: {\"filename\": ..., \"regions\": ...}} or a project with _via_img_metadata).")
  order = classes or (None if class_name else _attribute_options(data, class_attribute))
  builder = coco_builder.CocoBuilder(annotation_file, order or ([class_name] if class_name
                                                                 else None))
  skipped_images = []
  for _, entry in entries:
    path = os.path.join(image_dir, entry["filename"])
    try:
      height, width = images.displayed_size(images.read_bytes(path), path)
    except images.BadImageError as error:
      if not skip_bad:
        raise images.BadImageError(f"{error} Fix or remove it, or pass --skip-bad to skip and "
                                   "count it.") from None
      skipped_images.append(str(error))
      continue
    image = builder.add_image(entry["filename"], height, width)
    for number, region in enumerate(_regions(entry)):
      polygon, problem = region_polygon((region or {}).get("shape_attributes") or {})
      name, class_problem = _class_of(region or {}, class_attribute, class_name)
      builder.add_region(image, f"region #{number}", name, [polygon] if polygon else None,
                         problem or class_problem)
  return builder.index(), skipped_images
