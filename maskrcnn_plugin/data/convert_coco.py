"""COCO annotations + images -> sharded TFRecords in Model Garden's layout.

Like Model Garden's `create_coco_tf_record` (whose tfrecord_lib helpers build
the features), plus what that script lacks: every annotation checked before
pycocotools sees it (`annotation_checks`: empty and degenerate polygons, RLE
of the wrong size, boxes outside the image, unknown categories, ...),
compressed-RLE masks of non-crowd objects, images decoded as
`images.decode_image` does (EXIF orientation, grayscale/RGBA/palette/CMYK/
16-bit to 8-bit RGB), a progress bar, and a clear error naming a missing or
unreadable image or a bad annotation, or skipping and counting them by reason
(`skip_bad`; a bad annotation skips that annotation, not its image). The
script itself silently drops boxes that leave the image and defines absl
flags on import, so only its tfrecord_lib is reused. Images without
annotations are kept. Records i go to shard i % num_shards, in JSON order.

Beside the shards, `PREFIX_classes.json` holds the category names
(`class_names`). The VIA and LabelMe converters build a COCO dict and call
`convert_index`, so there is one writer.
"""

import dataclasses
import multiprocessing
import os
from typing import Dict, List, Optional, Sequence, Tuple

import tqdm

from maskrcnn_plugin.data import annotation_checks, class_names, coco, coco_builder, images
from maskrcnn_plugin.data import tf_example
from maskrcnn_plugin.errors import UserError


@dataclasses.dataclass
class ConversionSummary:
  """Images and instances written, what was skipped (messages and counts), the files.

  Attributes:
    written: Per written image id, the ids of the annotations written.
  """
  images: int = 0
  instances: int = 0
  skipped_images: List[str] = dataclasses.field(default_factory=list)
  skipped: coco.SkippedAnnotations = dataclasses.field(default_factory=coco.SkippedAnnotations)
  files: List[str] = dataclasses.field(default_factory=list)
  classes_file: Optional[str] = None
  coco_file: Optional[str] = None
  written: Dict[int, List] = dataclasses.field(default_factory=dict)

  @property
  def skipped_annotations(self) -> List[str]:
    return self.skipped.messages


# State of a worker process: the index and options, set once by _init_worker.
_WORKER: Dict = {}


def _init_worker(index: coco.CocoIndex, image_dir: str, include_masks: bool,
                 skip_bad: bool, fix: str) -> None:
  _WORKER.update(index=index, image_dir=image_dir, include_masks=include_masks,
                 skip_bad=skip_bad, fix=fix)


def _mask_png(ann: Dict, image: Dict, height: int, width: int
              ) -> Tuple[Optional[bytes], Optional[annotation_checks.Problem]]:
  """(PNG of the annotation's mask, None) or (None, the problem of an empty mask)."""
  try:
    mask = coco.segmentation_to_mask(ann["segmentation"], height, width)
  except Exception as error:  # pylint: disable=broad-except
    # The checks should have caught it; name the annotation whatever pycocotools says.
    problem = annotation_checks.Problem(
        "segmentation pycocotools rejects",
        f"pycocotools cannot rasterize the segmentation ({type(error).__name__}: {error})")
    return None, problem
  problem = annotation_checks.empty_mask_problem(mask)
  return (None, problem) if problem else (tf_example.encode_mask_png(mask), None)


def _convert_image(position: int) -> Tuple[Optional[bytes], List, coco.SkippedAnnotations,
                                           Optional[str]]:
  """Converts image `position` (its annotations are checked already).

  Returns:
    (serialized example or None, ids of the annotations written, the skipped
    annotations, message of the skipped image or None).

  Raises:
    UserError: a bad image or annotation, unless skip_bad.
  """
  index, skip_bad = _WORKER["index"], _WORKER["skip_bad"]
  image = index.images[position]
  skipped = coco.SkippedAnnotations()
  try:
    raw, source = coco.read_image_bytes(index, image, _WORKER["image_dir"])
    encoded, image_format, height, width = images.encode_for_record(
        raw, source, (image["height"], image["width"]))
  except images.BadImageError as error:
    if not skip_bad:
      raise images.BadImageError(f"{error} Fix or remove it, or {_WORKER['fix']}.") from None
    return None, [], skipped, str(error)
  instances, written = [], []
  for ann in index.annotations[image["id"]]:
    mask_png = None
    if _WORKER["include_masks"]:
      mask_png, problem = _mask_png(ann, image, height, width)
      if problem:
        message = annotation_checks.describe(index.path, ann, image, problem)
        if not skip_bad:
          raise coco.BadAnnotationError(f"{message}. Fix the annotation, or {_WORKER['fix']}.")
        skipped.add(problem, message)
        continue
    category_id = int(ann["category_id"])
    bbox = coco.clipped_box(ann["bbox"], width, height)
    instances.append(tf_example.Instance(
        bbox=bbox, category_id=category_id, category_name=index.categories[category_id],
        area=float(ann.get("area", bbox[2] * bbox[3])), is_crowd=bool(ann.get("iscrowd", 0)),
        mask_png=mask_png))
    written.append(ann.get("id"))
  example = tf_example.build_example(
      encoded_image=encoded, image_format=image_format, height=height, width=width,
      image_id=image["id"], filename=image["file_name"], instances=instances)
  return example.SerializeToString(deterministic=True), written, skipped, None


def convert_index(index: coco.CocoIndex, image_dir: str, output_prefix: str, num_shards: int,
                  *, workers: Optional[int] = None, skip_bad: bool = False,
                  include_masks: bool = True, progress: bool = True,
                  fix: str = "pass --skip-bad to skip and count it") -> ConversionSummary:
  """Writes the images and annotations of `index` as `output_prefix`-NNNNN-of-NNNNN.tfrecord.

  Also writes `output_prefix`_classes.json. See `convert_coco` for the
  arguments; `fix` says how to skip bad input, for error messages.
  """
  if num_shards < 1:
    raise UserError(f"--shards must be at least 1, got {num_shards}.")
  skipped = coco.check_annotations(index, include_masks=include_masks, skip_bad=skip_bad,
                                   fix=fix)
  output_dir = os.path.dirname(os.path.abspath(output_prefix))
  os.makedirs(output_dir, exist_ok=True)
  summary = ConversionSummary(files=tf_example.shard_paths(output_prefix, num_shards),
                              skipped=skipped)
  workers = os.cpu_count() if workers is None else workers
  init_args = (index, image_dir, include_masks, skip_bad, fix)
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
                    desc=f"Converting {os.path.basename(index.path)}")
    for position, (serialized, written, image_skips, skipped_image) in enumerate(bar):
      summary.skipped.extend(image_skips)
      if skipped_image:
        summary.skipped_images.append(skipped_image)
        continue
      write(summary.images, serialized)
      summary.images += 1
      summary.instances += len(written)
      summary.written[index.images[position]["id"]] = written
  summary.classes_file = class_names.write(f"{output_prefix}_{class_names.FILE_NAME}",
                                           index.categories)
  return summary


def convert_coco(annotation_file: str, image_dir: str, output_prefix: str, num_shards: int,
                 *, workers: Optional[int] = None, skip_bad: bool = False,
                 include_masks: bool = True, progress: bool = True) -> ConversionSummary:
  """Writes `output_prefix`-NNNNN-of-NNNNN.tfrecord shards and `output_prefix`_classes.json.

  Args:
    workers: Processes; default the number of CPUs, 0 or 1 converts in this
      process.
    skip_bad: Skip (and count by reason) missing/unreadable images and bad
      annotations instead of stopping at the first one. A bad annotation
      skips that annotation only.
    include_masks: Write instance masks; without, segmentations are not
      needed (box-only data).

  Raises:
    UserError: naming the image or annotation at fault (unless skip_bad).
  """
  if not os.path.isdir(image_dir):
    raise UserError(f"Image folder '{image_dir}' does not exist.")
  return convert_index(coco.load_coco(annotation_file), image_dir, output_prefix, num_shards,
                       workers=workers, skip_bad=skip_bad, include_masks=include_masks,
                       progress=progress)


def convert_built(index: coco.CocoIndex, image_dir: str, output_prefix: str, num_shards: int,
                  *, skipped_images: Sequence[str] = (), **options) -> ConversionSummary:
  """`convert_index` for a COCO index built from another tool's files (VIA, LabelMe).

  Also writes `output_prefix`.json, the COCO JSON of what the records hold.

  Args:
    skipped_images: Messages of images the builder already left out.
    options: `convert_index`'s keyword arguments.
  """
  summary = convert_index(index, image_dir, output_prefix, num_shards, **options)
  summary.skipped_images = list(skipped_images) + summary.skipped_images
  summary.coco_file = coco_builder.write_converted_json(f"{output_prefix}.json", index,
                                                        summary.written)
  return summary
