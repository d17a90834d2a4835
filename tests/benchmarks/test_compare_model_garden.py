"""benchmarks/compare_model_garden.py: its ceiling rows time the layers the model runs."""

import os
import sys

import numpy as np
import tensorflow as tf

from helpers.tiny_models import TINY_SHAPES_SIZE, parse_tiny_shapes
from maskrcnn_plugin.modeling import build_from_gin

BENCHMARKS = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "benchmarks")
sys.path.insert(0, os.path.abspath(BENCHMARKS))
import compare_model_garden  # noqa: E402  pylint: disable=wrong-import-position


def _moving_means(model):
  return [variable.numpy() for variable in model.backbone.non_trainable_variables
          if "moving_mean" in variable.name]


def test_shared_layers_are_the_models_own_backbone_fpn_and_rpn_head():
  parse_tiny_shapes()
  model = build_from_gin()
  images = tf.random.stateless_uniform([2, TINY_SHAPES_SIZE, TINY_SHAPES_SIZE, 3], seed=(3, 4),
                                       minval=-2, maxval=2)
  size = float(TINY_SHAPES_SIZE)
  outputs = model(images, image_shape=tf.constant([[size, size]] * 2), training=False)
  shared = compare_model_garden.shared_layers(model)

  # Inference: the same values the whole model computes for these layers.
  expected = sum(float(tf.reduce_mean(output)) for key in
                 ("decoder_features", "rpn_scores", "rpn_boxes")
                 for output in outputs[key].values())
  before = _moving_means(model)
  np.testing.assert_allclose(float(shared.infer(images)), expected, rtol=1e-5)
  for old, new in zip(before, _moving_means(model)):
    np.testing.assert_array_equal(old, new)

  # Training: batch norm in training mode, and a gradient.
  norm = float(shared.train_step(images))
  assert np.isfinite(norm) and norm > 0
  assert any(not np.array_equal(old, new) for old, new in zip(before, _moving_means(model)))
