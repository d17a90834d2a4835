"""Small VIA and LabelMe datasets shaped exactly as those tools write them.

Images are 64 x 48 px (width x height) PNGs or JPEGs with two coloured blobs.
"""

import base64
import io
import json

import numpy as np
from PIL import Image

WIDTH, HEIGHT = 64, 48


def image_bytes(seed: int, fmt: str = "PNG", exif_orientation: int = 0) -> bytes:
  rng = np.random.default_rng(seed)
  pixels = np.full((HEIGHT, WIDTH, 3), 40, np.uint8)
  pixels[8:24, 6:30] = rng.integers(120, 255, 3)
  pixels[26:44, 34:60] = rng.integers(120, 255, 3)
  buffer = io.BytesIO()
  kwargs = {}
  if exif_orientation:
    exif = Image.Exif()
    exif[0x0112] = exif_orientation
    kwargs["exif"] = exif.tobytes()
  Image.fromarray(pixels).save(buffer, format=fmt, **kwargs)
  return buffer.getvalue()


def balloon_region_data(names):
  """matterport's balloon via_region_data.json: VIA 1 style, `regions` a dict."""
  data = {}
  for name in names:
    size = 1234
    data[f"{name}{size}"] = {
        "fileref": "", "size": size, "filename": name, "base64_img_data": "",
        "file_attributes": {},
        "regions": {
            "0": {"shape_attributes": {"name": "polygon",
                                       "all_points_x": [6, 29, 29, 6],
                                       "all_points_y": [8, 8, 23, 23]},
                  "region_attributes": {}},
            "1": {"shape_attributes": {"name": "polygon",
                                       "all_points_x": [34, 59, 59, 34],
                                       "all_points_y": [26, 26, 43, 43]},
                  "region_attributes": {}},
        }}
  return data


def via2_project(names, extra_regions=()):
  """A VIA 2.0.x project file: `regions` a list, a dropdown class attribute."""
  metadata = {}
  for name in names:
    regions = [
        {"shape_attributes": {"name": "rect", "x": 6, "y": 8, "width": 24, "height": 16},
         "region_attributes": {"kind": "box"}},
        {"shape_attributes": {"name": "circle", "cx": 47, "cy": 35, "r": 8},
         "region_attributes": {"kind": "ball"}},
        {"shape_attributes": {"name": "ellipse", "cx": 20, "cy": 36, "rx": 10, "ry": 5,
                              "theta": 0.3},
         "region_attributes": {"kind": "ball"}},
        {"shape_attributes": {"name": "polyline", "all_points_x": [40, 60, 50],
                              "all_points_y": [4, 4, 20]},
         "region_attributes": {"kind": "box"}},
    ] + list(extra_regions)
    metadata[f"{name}1234"] = {"filename": name, "size": 1234, "regions": regions,
                               "file_attributes": {}}
  return {
      "_via_settings": {"ui": {}, "core": {"buffer_size": 18, "filepath": {},
                                           "default_filepath": ""},
                        "project": {"name": "via_project"}},
      "_via_img_metadata": metadata,
      "_via_attributes": {"region": {"kind": {"type": "dropdown", "description": "",
                                              "options": {"ball": "", "box": ""},
                                              "default_options": {}}},
                          "file": {}},
      "_via_data_format_version": "2.0.10",
      "_via_image_id_list": list(metadata),
  }


def labelme_file(image_path, *, embed: bytes = None, shapes=None):
  """A LabelMe 5.x JSON file's content."""
  return {
      "version": "5.4.1", "flags": {},
      "shapes": shapes if shapes is not None else [
          {"label": "box", "points": [[6, 8], [29, 23]], "group_id": None, "description": "",
           "shape_type": "rectangle", "flags": {}, "mask": None},
          {"label": "ball", "points": [[47, 35], [47, 43]], "group_id": None,
           "description": "", "shape_type": "circle", "flags": {}, "mask": None},
          {"label": "box", "points": [[40, 4], [60, 4], [50, 20]], "group_id": 3,
           "description": "", "shape_type": "polygon", "flags": {}, "mask": None},
          {"label": "box", "points": [[2, 30], [12, 30], [7, 44]], "group_id": 3,
           "description": "", "shape_type": "polygon", "flags": {}, "mask": None},
      ],
      "imagePath": image_path,
      "imageData": base64.b64encode(embed).decode() if embed is not None else None,
      "imageHeight": HEIGHT, "imageWidth": WIDTH,
  }


def write_json(path, data):
  path.write_text(json.dumps(data, indent=2))
  return path
