"""`maskrcnn predict`: COCO results and pictures for a folder of images.

For every image file matched by a glob: decode it (a file that is not a
readable image is reported by name and skipped), run the model, add its
detections to a COCO results JSON and write a PNG with the detections drawn.
Files are read and decoded by background threads (`read_images`) while the
model runs on the previous batch.
"""

import collections
import concurrent.futures
import dataclasses
import glob
import io
import json
import os
import sys
import time
from typing import Callable, Iterator, List, Mapping, Optional, Tuple

from PIL import Image
import tensorflow as tf
import tqdm

from maskrcnn_plugin import errors
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
  first_call_seconds: Optional[float] = None
  later_calls_seconds: float = 0.0
  later_images: int = 0

  def timing_line(self) -> str:
    """The first call's time and the rate of the later calls (model only, not reading)."""
    if self.first_call_seconds is None:
      return "No image was predicted."
    line = f"first call {self.first_call_seconds:.2f} s"
    if self.later_images:
      line += (f", then {self.later_images / self.later_calls_seconds:.2f} images/s over "
               f"{self.later_images} image(s)")
    return line

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


def read_images(paths: List[str], *, threads: int = 2,
                prefetch: int = 16) -> Iterator[Tuple[str, Optional[Tuple], Optional[str]]]:
  """Reads and decodes files with `read_image` in background threads, in order.

  Args:
    paths: Image files.
    threads: Reading threads (PIL releases the GIL while decoding).
    prefetch: Files read ahead of the consumer.

  Yields:
    (path, (pixels, file bytes), None) for a readable image, or
    (path, None, reason) for a file that is not one.
  """
  def read(path):
    try:
      return path, read_image(path), None
    except (OSError, ValueError) as error:
      return path, None, str(error)

  with concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="read_image") as pool:
    pending = collections.deque()
    for path in paths:
      pending.append(pool.submit(read, path))
      if len(pending) >= prefetch:
        yield pending.popleft().result()
    while pending:
      yield pending.popleft().result()


def predict_images(predictor, paths: List[str], output_dir: str, *,
                   score_threshold: float = 0.5,
                   annotations: Optional[coco_results.AnnotationIndex] = None,
                   category_names: Optional[Mapping[int, str]] = None,
                   log: Optional[Callable[[str], None]] = None) -> PredictSummary:
  """Runs `predictor` on batches of images; writes the results JSON and one PNG per image.

  Args:
    predictor: Has `batch_size` and `predict_batch(images)`, which maps up to
      batch_size (pixels, file bytes) pairs to their detections (see
      `Predictor.predict_batch`).
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

  def skip(path, reason):
    log(f"Skipped {path}: {reason}")
    summary.skipped.append(path)

  def write(path, pixels, detections):
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

  def run(batch):
    start = time.perf_counter()
    try:
      detections = predictor.predict_batch([image for _, image in batch])
    except tf.errors.InvalidArgumentError as error:
      if len(batch) == 1:
        skip(batch[0][0], errors.first_line(error))
        return
      for one in batch:  # the model rejected an image: find which, keep the others
        run([one])
      return
    seconds = time.perf_counter() - start
    if summary.first_call_seconds is None:
      summary.first_call_seconds = seconds
    else:
      summary.later_calls_seconds += seconds
      summary.later_images += len(batch)
    for (path, (pixels, _)), image_detections in zip(batch, detections):
      write(path, pixels, image_detections)

  batch = []
  for path, image, reason in tqdm.tqdm(read_images(paths), total=len(paths), desc="predict",
                                       unit="image"):
    if image is None:
      skip(path, reason)
      continue
    batch.append((path, image))
    if len(batch) == predictor.batch_size:
      run(batch)
      batch = []
  if batch:
    run(batch)
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
