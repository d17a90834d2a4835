"""Training straight from a COCO annotation JSON and its image folder.

    train/data.input_pipeline.file_pattern = 'annotations/instances_train2017.json'
    data.input_pipeline.decoder = @data_decoders.coco_json
    train/data_decoders.coco_json.image_dir = 'train2017'

The decoder produces the dict Model Garden's TfExampleDecoder produces
(without `groundtruth_instance_masks_png`), so the same parser applies.
Polygons, compressed and uncompressed RLE and crowd regions are read with
pycocotools. Records are image indices in the JSON's `images` list; each
image is decoded by `data.images.decode_image` (EXIF orientation, any mode to
8-bit RGB, the annotated size checked) and its masks are rasterized by
pycocotools, in a `tf.numpy_function` (there is no TensorFlow op for COCO
polygons or RLE, nor for EXIF orientation).

Every annotation is checked when the dataset is built
(`data.annotation_checks`): with `data.input_pipeline.bad_records = 'error'`
the first bad one is an error naming the annotation id, the image file and
the reason; with 'skip' only that annotation is left out and counted by
reason (`skipped_record_counts()`, keys 'annotation: REASON'). An image that
cannot be decoded, or a mask that covers no pixel once rasterized, is a bad
record naming the image file and the reason.
Converting to TFRecords (`maskrcnn data convert-coco`) is faster for long
trainings: masks are rasterized once, and reading is not bound to one
Python thread.
"""

import os
from typing import Dict, List, Sequence

import numpy as np
import tensorflow as tf

from maskrcnn_plugin.data import annotation_checks, coco, images
from maskrcnn_plugin.dataloaders import record_checks
from maskrcnn_plugin.errors import UserError
from maskrcnn_plugin.registries import DATA_DECODERS, RecordSummary


@DATA_DECODERS.register("coco_json")
class CocoJsonDecoder:
  """Reads images and instances of one COCO annotation JSON.

  Args:
    image_dir: Folder that `file_name` of each image is relative to.
    include_mask: Rasterize instance masks (groundtruth_instance_masks).
  """

  def __init__(self, image_dir: str = None, include_mask: bool = True):
    if not image_dir:
      raise UserError("data_decoders.coco_json needs image_dir, the folder the annotation "
                      "file's `file_name` entries are relative to, e.g. "
                      "`train/data_decoders.coco_json.image_dir = 'train2017'`.")
    if not os.path.isdir(image_dir):
      raise UserError(f"data_decoders.coco_json.image_dir '{image_dir}' is not a folder.")
    self._image_dir = image_dir
    self._include_mask = include_mask
    self._index = None

  def records(self, files: Sequence[str], bad_records: str = "error") -> tf.data.Dataset:
    """A dataset of (image index, image path, image index) for one JSON file.

    Images whose file is missing are an error naming them, or with
    `bad_records='skip'` left out and counted.
    """
    if len(files) != 1:
      raise UserError(f"data_decoders.coco_json reads one annotation JSON; file_pattern "
                      f"matched {len(files)} files: {', '.join(files[:5])}.")
    index = coco.load_coco(files[0])
    skipped = coco.check_annotations(
        index, include_masks=self._include_mask, skip_bad=bad_records == "skip",
        fix="bind data.input_pipeline.bad_records = 'skip' to skip and count it")
    for message, key in zip(skipped.messages, skipped.keys):
      record_checks.count_skipped(f"annotation: {key}", message)
    self._index = index
    paths = [coco.image_path(self._image_dir, image) for image in index.images]
    keep = []
    for i, path in enumerate(paths):
      if os.path.exists(path):
        keep.append(i)
        continue
      message = (f"image #{i} '{path}' of {index.path} does not exist (image_dir is "
                 f"'{self._image_dir}')")
      if bad_records == "error":
        raise coco.BadImageError(f"Bad record {files[0]} #{i}: {message}.")
      record_checks.count_skipped("missing image", f"record {files[0]} #{i}: {message}")
    self._build_tables(index, paths)
    keep = tf.constant(keep, tf.int64)
    return tf.data.Dataset.from_tensor_slices(keep).map(
        lambda i: (i, tf.gather(self._paths, i), i))

  def _build_tables(self, index: coco.CocoIndex, paths: List[str]) -> None:
    boxes, classes, crowd, areas, lengths = [], [], [], [], []
    for image in index.images:
      anns = index.annotations[image["id"]]
      lengths.append(len(anns))
      for ann in anns:
        x, y, w, h = (list(ann["bbox"]) + [0.0] * 4)[:4]
        boxes.append([y / image["height"], x / image["width"],
                      (y + h) / image["height"], (x + w) / image["width"]])
        classes.append(int(ann["category_id"]))
        crowd.append(bool(ann.get("iscrowd", 0)))
        areas.append(float(ann.get("area", w * h)))
    lengths = np.array(lengths, np.int64)
    ragged = lambda values, dtype, shape: tf.RaggedTensor.from_row_lengths(
        np.array(values, dtype).reshape(shape), lengths)
    self._paths = tf.constant(paths)
    self._source_ids = tf.constant([str(image["id"]) for image in index.images])
    self._sizes = tf.constant([[image["height"], image["width"]] for image in index.images],
                              tf.int64)
    self._boxes = ragged(boxes, np.float32, (-1, 4))
    self._classes = ragged(classes, np.int64, (-1,))
    self._crowd = ragged(crowd, bool, (-1,))
    self._areas = ragged(areas, np.float32, (-1,))

  def summarize(self, record: tf.Tensor) -> RecordSummary:
    """The fields the record check reads (registries.RecordSummary)."""
    boxes = self._boxes[record]
    return {"encoded": tf.io.read_file(self._paths[record]),
            "ymin": boxes[:, 0], "xmin": boxes[:, 1], "ymax": boxes[:, 2], "xmax": boxes[:, 3],
            "classes": self._classes[record],
            "num_masks": tf.size(self._classes[record]) if self._include_mask else -1}

  def _image_and_masks(self, record: np.ndarray, encoded: bytes):
    """(uint8 [H, W, 3] image, uint8 [N, H, W] masks, problem) of image `record`.

    The problem is b"" for a good image, else why the record is bad (naming
    the image file or the annotation); the arrays are then empty.
    """
    image = self._index.images[int(record)]
    height, width = int(image["height"]), int(image["width"])
    path = coco.image_path(self._image_dir, image)
    empty = (np.zeros((0, 0, 3), np.uint8), np.zeros((0, 0, 0), np.uint8))
    try:
      # tf.numpy_function passes a string scalar as a 0-d object array.
      pixels = images.decode_image(np.asarray(encoded).item(), path, (height, width))
    except images.BadImageError as error:
      return (*empty, str(error).encode())
    anns = self._index.annotations[image["id"]] if self._include_mask else []
    masks = []
    for ann in anns:
      mask = coco.segmentation_to_mask(ann["segmentation"], height, width)
      problem = annotation_checks.empty_mask_problem(mask)
      if problem:
        message = annotation_checks.describe(self._index.path, ann, image, problem)
        return (*empty, message.encode())
      masks.append(mask)
    masks = np.stack(masks) if masks else np.zeros((0, height, width), np.uint8)
    return pixels, masks, b""

  def decode(self, record: tf.Tensor) -> Dict[str, tf.Tensor]:
    """Decodes image `record` into Model Garden's decoded dict.

    Also returns `decode_problem` (string scalar, "" for a good record), which
    `record_checks.decode_or_reject` turns into a bad record and removes.
    """
    if self._index is None:
      raise RuntimeError("CocoJsonDecoder.records() must be called before decode().")
    image, masks, problem = tf.numpy_function(
        self._image_and_masks, [record, tf.io.read_file(self._paths[record])],
        [tf.uint8, tf.uint8, tf.string], stateful=False)
    image.set_shape([None, None, 3])
    masks.set_shape([None, None, None])
    problem.set_shape([])
    size = self._sizes[record]
    decoded = {
        "source_id": self._source_ids[record],
        "image": image,
        "height": size[0],
        "width": size[1],
        "groundtruth_classes": self._classes[record],
        "groundtruth_is_crowd": self._crowd[record],
        "groundtruth_area": self._areas[record],
        "groundtruth_boxes": self._boxes[record],
        record_checks.DECODE_PROBLEM: problem,
    }
    if self._include_mask:
      decoded["groundtruth_instance_masks"] = tf.cast(masks, tf.float32)
    return decoded
