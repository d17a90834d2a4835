"""`maskrcnn predict`: COCO results and pictures for a folder of images.

For every image file matched by a glob: decode it (a file that is not a
readable image is reported by name and skipped), run the model, add its
detections to a COCO results JSON and write a PNG with the detections drawn.
"""

import dataclasses
import glob
import io
import json
import os
import sys
from typing import Callable, List, Mapping, Optional

from PIL import Image
import tensorflow as tf
import tqdm

from maskrcnn_plugin.data import class_names, images
from maskrcnn_plugin.errors import UserError
from maskrcnn_plugin.serving import coco_results
from maskrcnn_plugin.serving.visualize import draw_detections

RESULTS_FILE = "coco_results.json"


class NoImagesError(UserError):
  """The image glob matches no files."""


@dataclasses.dataclass
class PredictSummary:
  """What `predict_images` did."""
  results_path: str
  images: int = 0
  detections: int = 0
  skipped: List[str] = dataclasses.field(default_factory=list)
  not_in_annotations: List[str] = dataclasses.field(default_factory=list)

  def final_line(self) -> str:
    line = (f"Predicted {self.images} image(s): {self.detections} detection(s) in "
            f"{self.results_path}, pictures beside it; skipped {len(self.skipped)} "
            "unreadable file(s).")
    if self.not_in_annotations:
      line += (f" {len(self.not_in_annotations)} image(s) not in the annotation file are drawn "
               "but left out of the results.")
    return line


def find_images(pattern: str) -> List[str]:
  """Files matching `pattern` (recursive `**` allowed), sorted.

  Raises:
    NoImagesError: nothing matches.
  """
  paths = sorted(p for p in glob.glob(os.path.expanduser(pattern), recursive=True)
                 if os.path.isfile(p))
  if not paths:
    raise NoImagesError(f"--images {pattern!r} matches no files (from {os.getcwd()}). Quote the "
                        "pattern so the shell does not expand it, e.g. --images='photos/*.jpg'.")
  return paths


def read_image(path: str):
  """(uint8 [height, width, 3] pixels, encoded image bytes) of an image file.

  Pixels as `data.images.decode_image` gives them: EXIF orientation applied,
  any image mode converted to 8-bit RGB. The bytes are the file's, or a PNG
  of the pixels when an EXIF orientation was applied, so that models taking
  encoded images (which ignore EXIF) see the same image.

  Raises:
    ValueError: the file is not an image Pillow can decode (naming it).
  """
  with open(path, "rb") as file:
    encoded = file.read()
  try:
    pixels, rotated = images.decode_image_and_orientation(encoded, path)
  except images.BadImageError as error:
    raise ValueError(f"not a readable image: {error}") from error
  if rotated:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    encoded = buffer.getvalue()
  return pixels, encoded


def predict_images(predictor: Callable, paths: List[str], output_dir: str, *,
                   score_threshold: float = 0.5,
                   annotations: Optional[coco_results.AnnotationIndex] = None,
                   category_names: Optional[Mapping[int, str]] = None,
                   log: Optional[Callable[[str], None]] = None) -> PredictSummary:
  """Runs `predictor` on each image; writes the results JSON and one PNG per image.

  Args:
    predictor: Maps (pixels, file bytes) to one image's detections (see
      `Predictor.__call__`).
    paths: Image files.
    output_dir: Receives coco_results.json and <image name>.png files.
    score_threshold: Detections scoring at or below it are not drawn. The
      results JSON keeps every detection: COCO AP needs the low scores too.
    annotations: Gives image ids (matched by file name) and class names;
      without it image ids come from file names.
    category_names: The model's class names ({id: name}, from its classes.json);
      they win over the annotations' and are written to classes.json beside
      the results.
    log: Prints one message (a skipped file); default: stderr, above the
      progress bar.

  Returns:
    A PredictSummary.
  """
  log = log or (lambda message: tqdm.tqdm.write(message, file=sys.stderr))
  os.makedirs(output_dir, exist_ok=True)
  summary = PredictSummary(results_path=os.path.join(output_dir, RESULTS_FILE))
  category_names = {**(annotations.category_names if annotations else {}),
                    **(category_names or {})}
  if category_names:
    class_names.write(os.path.join(output_dir, class_names.FILE_NAME), category_names)
  results, picture_names = [], set()
  for path in tqdm.tqdm(paths, desc="predict", unit="image"):
    try:
      pixels, encoded = read_image(path)
      detections = predictor(pixels, encoded)
    except (OSError, ValueError, tf.errors.InvalidArgumentError) as error:
      reason = error.message.strip().splitlines()[0] if isinstance(error, tf.errors.OpError) \
          else str(error)
      log(f"Skipped {path}: {reason}")
      summary.skipped.append(path)
      continue
    summary.images += 1
    image_id = (annotations.image_id(path) if annotations
                else coco_results.image_id_from_file_name(path))
    if image_id is None:
      log(f"{path} is not in {annotations.path}: drawn, but left out of the results.")
      summary.not_in_annotations.append(path)
    else:
      image_results = coco_results.detections_to_coco(image_id, detections)
      results.extend(image_results)
      summary.detections += len(image_results)
    picture = draw_detections(pixels, detections, category_names, score_threshold)
    Image.fromarray(picture).save(os.path.join(output_dir, _picture_name(path, picture_names)))
  with open(summary.results_path, "w", encoding="utf-8") as file:
    json.dump(results, file)
  return summary


def _picture_name(path: str, taken: set) -> str:
  """'<stem>.png', or '<stem>_2.png', ... when images in different folders share a stem."""
  stem = os.path.splitext(os.path.basename(path))[0]
  name, number = f"{stem}.png", 1
  while name in taken:
    number += 1
    name = f"{stem}_{number}.png"
  taken.add(name)
  return name
