"""Training straight from a COCO annotation JSON and its image folder.

    train/data.input_pipeline.file_pattern = 'annotations/instances_train2017.json'
    data.input_pipeline.decoder = @data_decoders.coco_json
    train/data_decoders.coco_json.image_dir = 'train2017'

The decoder produces the dict Model Garden's TfExampleDecoder produces
(without `groundtruth_instance_masks_png`), so the same parser applies.
Polygons, compressed and uncompressed RLE and crowd regions are read with
pycocotools. Records are image indices in the JSON's `images` list; each
image file is read by tf.data, its masks are rasterized by pycocotools in a
`tf.numpy_function` (there is no TensorFlow op for COCO polygons or RLE).
Converting to TFRecords (`maskrcnn data convert-coco`) is faster for long
trainings: masks are rasterized once, and reading is not bound to one
Python thread.
"""

import os
from typing import Dict, List, Sequence

import numpy as np
import tensorflow as tf

from maskrcnn_plugin.data import coco
from maskrcnn_plugin.dataloaders import validation
from maskrcnn_plugin.errors import UserError
from maskrcnn_plugin.registries import DATA_DECODERS


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
      validation.count_skipped("missing image", f"record {files[0]} #{i}: {message}")
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

  def summarize(self, record: tf.Tensor) -> Dict[str, tf.Tensor]:
    """The fields the record check reads (see validation.summarize_tf_example)."""
    boxes = self._boxes[record]
    return {"encoded": tf.io.read_file(self._paths[record]),
            "ymin": boxes[:, 0], "xmin": boxes[:, 1], "ymax": boxes[:, 2], "xmax": boxes[:, 3],
            "classes": self._classes[record],
            "num_masks": tf.size(self._classes[record]) if self._include_mask else -1}

  def _masks(self, record: np.ndarray) -> np.ndarray:
    image = self._index.images[int(record)]
    height, width = image["height"], image["width"]
    anns = self._index.annotations[image["id"]]
    masks = [coco.segmentation_to_mask(ann["segmentation"], height, width) for ann in anns]
    return np.stack(masks) if masks else np.zeros((0, height, width), np.uint8)

  def decode(self, record: tf.Tensor) -> Dict[str, tf.Tensor]:
    """Decodes image `record` into Model Garden's decoded dict."""
    if self._index is None:
      raise RuntimeError("CocoJsonDecoder.records() must be called before decode().")
    image = tf.io.decode_image(tf.io.read_file(self._paths[record]), channels=3,
                               expand_animations=False)
    image.set_shape([None, None, 3])
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
    }
    if self._include_mask:
      masks = tf.numpy_function(self._masks, [record], tf.uint8, stateful=False)
      masks.set_shape([None, None, None])
      decoded["groundtruth_instance_masks"] = tf.cast(masks, tf.float32)
    return decoded
