"""COCO annotation JSON + images -> sharded TFRecords in Model Garden's layout.

Like Model Garden's `create_coco_tf_record` (whose tfrecord_lib helpers build
the features), plus what that script lacks: compressed-RLE masks of non-crowd
objects, grayscale/CMYK/palette images converted to RGB, a progress bar, and a
clear error naming a missing or unreadable image and an inconsistent
annotation, or skipping and counting them (`skip_bad`); the script itself
silently drops boxes that leave the image and defines absl flags on import,
so only its tfrecord_lib is reused. Images without annotations are kept.
Records i go to shard i % num_shards, in JSON order.
"""

import dataclasses
import multiprocessing
import os
from typing import Dict, List, Optional, Tuple

import tqdm

from maskrcnn_plugin.data import coco, tf_example
from maskrcnn_plugin.errors import UserError


@dataclasses.dataclass
class ConversionSummary:
  """Images and instances written, what was skipped (messages), the shards."""
  images: int = 0
  instances: int = 0
  skipped_images: List[str] = dataclasses.field(default_factory=list)
  skipped_annotations: List[str] = dataclasses.field(default_factory=list)
  files: List[str] = dataclasses.field(default_factory=list)


# State of a worker process: the index and options, set once by _init_worker.
_WORKER: Dict = {}


def _init_worker(index: coco.CocoIndex, image_dir: str, include_masks: bool,
                 skip_bad: bool) -> None:
  _WORKER.update(index=index, image_dir=image_dir, include_masks=include_masks,
                 skip_bad=skip_bad)


def _convert_image(position: int) -> Tuple[Optional[bytes], int, List[str], Optional[str]]:
  """Converts image `position`.

  Returns:
    (serialized example or None, instances written, messages of skipped
    annotations, message of the skipped image or None).
  """
  index, skip_bad = _WORKER["index"], _WORKER["skip_bad"]
  image = index.images[position]
  path = coco.image_path(_WORKER["image_dir"], image)
  try:
    encoded, image_format, height, width = coco.read_rgb_image(
        path, (image["height"], image["width"]))
  except coco.BadImageError as error:
    if not skip_bad:
      raise
    return None, 0, [], str(error)
  instances, skipped = [], []
  for ann in index.annotations[image["id"]]:
    problem = coco.annotation_problem(ann, image, index.categories)
    if problem:
      message = (f"{index.path}: annotation id {ann.get('id')} of image id {image['id']} "
                 f"('{image['file_name']}'): {problem}")
      if not skip_bad:
        raise UserError(f"{message}. Fix the annotation, or pass --skip-bad to skip and "
                        "count it.")
      skipped.append(message)
      continue
    mask_png = None
    if _WORKER["include_masks"]:
      mask_png = tf_example.encode_mask_png(
          coco.segmentation_to_mask(ann["segmentation"], height, width))
    category_id = int(ann["category_id"])
    bbox = coco.clipped_box(ann["bbox"], width, height)
    instances.append(tf_example.Instance(
        bbox=bbox, category_id=category_id, category_name=index.categories[category_id],
        area=float(ann.get("area", bbox[2] * bbox[3])), is_crowd=bool(ann.get("iscrowd", 0)),
        mask_png=mask_png))
  example = tf_example.build_example(
      encoded_image=encoded, image_format=image_format, height=height, width=width,
      image_id=image["id"], filename=image["file_name"], instances=instances)
  return example.SerializeToString(deterministic=True), len(instances), skipped, None


def convert_coco(annotation_file: str, image_dir: str, output_prefix: str, num_shards: int,
                 *, workers: Optional[int] = None, skip_bad: bool = False,
                 include_masks: bool = True, progress: bool = True) -> ConversionSummary:
  """Writes `output_prefix`-NNNNN-of-NNNNN.tfrecord shards.

  Args:
    workers: Processes; default the number of CPUs, 0 or 1 converts in this
      process.
    skip_bad: Skip (and count) missing/unreadable images and inconsistent
      annotations instead of stopping at the first one.

  Raises:
    UserError: naming the image or annotation at fault (unless skip_bad).
  """
  if num_shards < 1:
    raise UserError(f"--shards must be at least 1, got {num_shards}.")
  if not os.path.isdir(image_dir):
    raise UserError(f"Image folder '{image_dir}' does not exist.")
  index = coco.load_coco(annotation_file)
  output_dir = os.path.dirname(os.path.abspath(output_prefix))
  os.makedirs(output_dir, exist_ok=True)
  summary = ConversionSummary(files=tf_example.shard_paths(output_prefix, num_shards))
  workers = os.cpu_count() if workers is None else workers
  init_args = (index, image_dir, include_masks, skip_bad)
  positions = range(len(index.images))
  pool = None
  if workers > 1:
    pool = multiprocessing.get_context("fork").Pool(workers, _init_worker, init_args)
    results = pool.imap(_convert_image, positions, chunksize=16)
  else:
    _init_worker(*init_args)
    results = map(_convert_image, positions)
  with tf_example.sharded_writer(summary.files, pool) as write:
    bar = tqdm.tqdm(results, total=len(index.images), unit="img", disable=not progress,
                    desc=f"Converting {os.path.basename(annotation_file)}")
    for serialized, num_instances, skipped_annotations, skipped_image in bar:
      summary.skipped_annotations += skipped_annotations
      if skipped_image:
        summary.skipped_images.append(skipped_image)
        continue
      write(summary.images, serialized)
      summary.images += 1
      summary.instances += num_instances
  return summary
