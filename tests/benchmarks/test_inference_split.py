"""benchmarks/inference_split.py: its nested stages are the model's own layers, its FLOP count exact."""

import os
import sys

import numpy as np
import tensorflow as tf
from official.vision.ops import anchor

from helpers.tiny_models import TINY_SHAPES_SIZE, parse_tiny_shapes
from maskrcnn_plugin.modeling import build_from_gin

BENCHMARKS = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "benchmarks")
sys.path.insert(0, os.path.abspath(BENCHMARKS))
import inference_split  # noqa: E402  pylint: disable=wrong-import-position


def test_the_stages_run_the_models_layers_up_to_its_whole_output():
  parse_tiny_shapes()
  model = build_from_gin()
  size = TINY_SHAPES_SIZE
  images = tf.random.stateless_uniform([2, size, size, 3], seed=(3, 4), minval=-2, maxval=2)
  anchors = anchor.Anchor(min_level=2, max_level=5, num_scales=1, aspect_ratios=[0.5, 1.0, 2.0],
                          anchor_size=3.0, image_size=(size, size)).multilevel_boxes
  labels = {"image_info": tf.constant([[[size, size], [size, size], [1, 1], [0, 0]]] * 2,
                                      tf.float32),
            "anchor_boxes": {level: tf.tile(boxes[tf.newaxis], [2, 1, 1, 1])
                             for level, boxes in anchors.items()}}
  stages = inference_split.nested_stages(model)
  assert tuple(stages) == inference_split.STAGES
  expected = model(images, image_shape=labels["image_info"][:, 1, :],
                   anchor_boxes=labels["anchor_boxes"], training=False)
  num_detections, boxes = stages["+ detections"](images, labels)
  np.testing.assert_array_equal(num_detections, expected["num_detections"])
  np.testing.assert_allclose(boxes, expected["detection_boxes"], atol=1e-4)
  whole = stages["= whole model"](images, labels)
  np.testing.assert_allclose(whole["detection_masks"], expected["detection_masks"], atol=1e-5)
  proposals = model.roi_generator.get_config()["test_num_proposals"]
  crops = stages["+ box ROI align"](images, labels)
  assert crops.shape[:2] == (2, proposals)
  scores, _ = stages["+ box head"](images, labels)
  assert scores.shape[:2] == (2, proposals)


def test_flops_counts_a_matmul_and_a_convolution():
  matrix = tf.ones([8, 16])
  assert inference_split._flops(lambda x: tf.matmul(x, tf.ones([16, 4])), matrix) == 2 * 8 * 16 * 4  # pylint: disable=protected-access
  image = tf.ones([2, 5, 5, 3])
  conv = lambda x: tf.nn.conv2d(x, tf.ones([3, 3, 3, 6]), 1, "SAME")  # noqa: E731
  assert inference_split._flops(conv, image) == 2 * 2 * 5 * 5 * 6 * 3 * 3 * 3  # pylint: disable=protected-access
