"""The tiny Mask R-CNN of the tests, built from gin, and inputs for it.

One definition per way a test gets its model:
  * in process: `parse_tiny_shapes(*bindings)` parses the shapes demo config
    shrunk by `TINY_SHAPES` (64 px, 16-filter FPN, RPN and mask heads);
    `build_from_gin()` then builds it in about 2 s;
  * through `maskrcnn train`: `TINY_TRAINING_GIN`, a gin file (ResNet-10,
    64 px, batch 2, a checkpoint after every step) for whole training runs;
  * without the plugin's builder: `model_garden_training` builds its model
    with Model Garden's own factory, to test the trainer against it.
"""

import pathlib

import numpy as np
import tensorflow as tf
from official.vision.ops import anchor

from maskrcnn_plugin.gin_config import parse_gin

# Fewer inference proposals and detections, and one combined NMS op instead of
# a per-class loop (91 classes run thousands of eager ops): parameter counts
# are unchanged and an inference pass of a COCO model at 128 px takes ~1 s.
FAST_INFERENCE = (
    "roi_generators.multilevel_roi_generator.test_num_proposals = 64",
    "detection_generators.detection_generator.max_num_detections = 10",
    "detection_generators.detection_generator.nms_version = 'batched'",
)

# The shapes demo config (maskrcnn_shapes_r18_cpu) shrunk to 64 px images and
# 16-filter FPN, RPN and mask heads: builds in about 2 s. Tests add their own
# bindings (e.g. mask_heads.mask_head.num_convs) after these.
TINY_SHAPES_SIZE = 64
TINY_SHAPES = (
    f"IMAGE_SIZE = [{TINY_SHAPES_SIZE}, {TINY_SHAPES_SIZE}]",
    "decoders.fpn.num_filters = 16",
    "rpn_heads.rpn_head.num_filters = 16",
    "detection_heads.detection_head.fc_dims = 32",
    "mask_heads.mask_head.num_filters = 16",
)
SHAPES_CONFIG = "maskrcnn_shapes_r18_cpu"
# Bind SHAPES_DIR to a shapes dataset when training with it.
TINY_TRAINING_GIN = str(pathlib.Path(__file__).with_name("tiny_training.gin"))


def parse_tiny_shapes(*bindings: str) -> None:
  """Parses the shapes config with `TINY_SHAPES`, then `bindings` (which override them)."""
  parse_gin([SHAPES_CONFIG], [*TINY_SHAPES, *bindings])


def build_tiny_shapes(*bindings: str):
  """The tiny shapes model with `bindings`, its weights drawn from seed 0; clears gin after.

  Two models built with different switches hold the same weights.
  """
  # pylint: disable=import-outside-toplevel
  import gin
  from maskrcnn_plugin.keras_setup import model_garden_keras
  from maskrcnn_plugin.modeling import build_from_gin
  parse_tiny_shapes(*bindings)
  model_garden_keras().utils.set_random_seed(0)
  model = build_from_gin()
  gin.clear_config()
  return model


def training_batch(instances_per_image, *, size=TINY_SHAPES_SIZE, max_instances=8, seed=0):
  """Model inputs of a training forward pass: random boxes, classes 1-3 and masks.

  Args:
    instances_per_image: Ground-truth instances of each image (0 allowed).
    size: Image side; anchors are those of the shapes config (levels 2-5,
      3 aspect ratios, anchor size 3).
    max_instances: Padded instance count (padding: boxes and classes -1).
    seed: Seed of the boxes, classes, masks and images.

  Returns:
    (images [B, size, size, 3], keyword arguments of the model's call).
  """
  rng = np.random.default_rng(seed)
  batch = len(instances_per_image)
  boxes = np.full([batch, max_instances, 4], -1, np.float32)
  classes = np.full([batch, max_instances], -1, np.int32)
  for image, count in enumerate(instances_per_image):
    for instance in range(count):
      top, left = rng.uniform(0, size * 0.6, 2)
      height, width = rng.uniform(size * 0.15, size * 0.4, 2)
      boxes[image, instance] = [top, left, top + height, left + width]
      classes[image, instance] = rng.integers(1, 4)
  masks = (rng.uniform(size=[batch, max_instances, 28, 28]) > 0.5).astype(np.float32)
  anchor_boxes = anchor.Anchor(min_level=2, max_level=5, num_scales=1,
                               aspect_ratios=[0.5, 1.0, 2.0], anchor_size=3.0,
                               image_size=(size, size)).multilevel_boxes
  images = tf.random.stateless_uniform([batch, size, size, 3], seed=(seed, 1), minval=-2,
                                       maxval=2)
  return images, {
      "image_shape": tf.constant([[size, size]] * batch, tf.float32),
      "anchor_boxes": {level: tf.tile(boxes_[tf.newaxis], [batch, 1, 1, 1])
                       for level, boxes_ in anchor_boxes.items()},
      "gt_boxes": tf.constant(boxes), "gt_classes": tf.constant(classes),
      "gt_masks": tf.constant(masks), "training": True,
  }
