"""Tiny data and model for the trainer tests, from Model Garden's own factory and parser.

64 px, ResNet-18, narrow FPN: Model Garden's maskrcnn_resnetfpn_coco shrunk.

`write_records` draws a few images of filled rectangles with exact masks in
Model Garden's tf.Example layout. `tiny_inputs` builds the model with Model
Garden's factory and batches with its Mask R-CNN parser, so the trainer is
tested against the exact formats the plugin's model and pipeline produce.
"""

import os

import numpy as np
import tensorflow as tf

from maskrcnn_plugin.keras_setup import model_garden_keras
from maskrcnn_plugin.training.experiment import Inputs
from official.core import exp_factory
from official.vision.data import tf_example_builder
from official.vision.dataloaders import maskrcnn_input, tf_example_decoder
from official.vision.modeling import factory

IMAGE_SIZE = 64
NUM_CLASSES = 3  # background + 2


def _example(rng: np.random.Generator, source_id: int) -> tf.train.Example:
  image = rng.integers(0, 60, (IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
  boxes, classes, masks = [], [], []
  for _ in range(int(rng.integers(1, 3))):
    label = int(rng.integers(1, NUM_CLASSES))
    size = int(rng.integers(16, 32))
    y0, x0 = rng.integers(0, IMAGE_SIZE - size, 2)
    image[y0:y0 + size, x0:x0 + size] = (200, 60, 60) if label == 1 else (60, 200, 60)
    mask = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    mask[y0:y0 + size, x0:x0 + size] = 1
    boxes.append([y0 / IMAGE_SIZE, x0 / IMAGE_SIZE, (y0 + size) / IMAGE_SIZE,
                  (x0 + size) / IMAGE_SIZE])
    classes.append(label)
    masks.append(mask)
  ymin, xmin, ymax, xmax = np.array(boxes).T.tolist()
  builder = tf_example_builder.TfExampleBuilder()
  builder.add_image_matrix_feature(image, image_source_id=str(source_id).encode())
  builder.add_boxes_feature(xmin, xmax, ymin, ymax, classes)
  builder.add_instance_mask_matrices_feature(np.stack(masks))
  builder.add_ints_feature("image/object/is_crowd", [0] * len(classes))
  return builder.example


def write_records(folder: str, num_train: int = 8, num_val: int = 4) -> dict:
  """Writes train.tfrecord and val.tfrecord to `folder`; returns their paths."""
  rng = np.random.default_rng(0)
  paths = {}
  for split, count, first_id in (("train", num_train, 1), ("val", num_val, 1000)):
    paths[split] = os.path.join(folder, f"{split}.tfrecord")
    with tf.io.TFRecordWriter(paths[split]) as writer:
      for i in range(count):
        writer.write(_example(rng, first_id + i).SerializeToString())
  return paths


def model_config():
  """Model Garden's maskrcnn_resnetfpn_coco model config, shrunk for tests."""
  config = exp_factory.get_exp_config("maskrcnn_resnetfpn_coco").task.model
  config.override({
      "num_classes": NUM_CLASSES, "input_size": [IMAGE_SIZE, IMAGE_SIZE, 3],
      "backbone": {"resnet": {"model_id": 18}},
      "decoder": {"fpn": {"num_filters": 32}},
      "rpn_head": {"num_filters": 32, "num_convs": 1},
      "detection_head": {"num_convs": 0, "num_fcs": 1, "fc_dims": 64},
      "mask_head": {"num_convs": 1, "num_filters": 32},
      "roi_sampler": {"num_sampled_rois": 32},
      "mask_sampler": {"num_sampled_masks": 8},
      "detection_generator": {"max_num_detections": 10},
      "norm_activation": {"use_sync_bn": False},
  }, is_strict=False)
  return config


def build_model(l2_weight_decay: float = 1e-4, **config_overrides):
  """The tiny model, built and called once; `config_overrides` change its model config."""
  config = model_config()
  config.override(config_overrides, is_strict=False)
  keras = model_garden_keras()
  regularizer = keras.regularizers.l2(l2_weight_decay / 2.0) if l2_weight_decay else None
  model = factory.build_maskrcnn(
      input_specs=keras.layers.InputSpec(shape=[None, IMAGE_SIZE, IMAGE_SIZE, 3]),
      model_config=config, l2_regularizer=regularizer)
  model(keras.Input([IMAGE_SIZE, IMAGE_SIZE, 3]), image_shape=keras.layers.Input([2]),
        training=False)
  return model


def dataset_fn(pattern: str, training: bool, batch_size: int = 2):
  """`fn(input_context)` batching `pattern` with Model Garden's parser."""
  config = model_config()
  decoder = tf_example_decoder.TfExampleDecoder(include_mask=True)
  parser = maskrcnn_input.Parser(
      output_size=[IMAGE_SIZE, IMAGE_SIZE], min_level=config.min_level,
      max_level=config.max_level, num_scales=config.anchor.num_scales,
      aspect_ratios=config.anchor.aspect_ratios, anchor_size=config.anchor.anchor_size,
      rpn_batch_size_per_im=64, max_num_instances=8, include_mask=True, mask_crop_size=56)

  def make(input_context=None):
    per_replica = (input_context.get_per_replica_batch_size(batch_size)
                   if input_context else batch_size)
    dataset = tf.data.TFRecordDataset(pattern)
    if input_context and input_context.num_input_pipelines > 1:
      dataset = dataset.shard(input_context.num_input_pipelines,
                              input_context.input_pipeline_id)
    if training:
      dataset = dataset.repeat()
    dataset = dataset.map(lambda record: parser.parse_fn(training)(decoder.decode(record)))
    return dataset.batch(per_replica, drop_remainder=training).prefetch(2)
  return make


def tiny_inputs(records: dict, batch_size: int = 2, l2_weight_decay: float = 1e-4) -> Inputs:
  return Inputs(model_fn=lambda: build_model(l2_weight_decay),
                train_dataset_fn=dataset_fn(records["train"], True, batch_size),
                eval_dataset_fn=dataset_fn(records["val"], False, batch_size),
                eval_files=records["val"])
