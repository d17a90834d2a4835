"""Mixed precision: convs in the reduced type, box math, targets and masks in float32."""

import gin
import numpy as np
import pytest
import tensorflow as tf

from maskrcnn_plugin.keras_setup import model_garden_keras
from maskrcnn_plugin.modeling import build_from_gin
from helpers.tiny_models import TINY_SHAPES_SIZE, parse_tiny_shapes, training_batch

keras = model_garden_keras()
REDUCED = {"mixed_bfloat16": tf.bfloat16, "mixed_float16": tf.float16}


@pytest.fixture(scope="module", params=sorted(REDUCED))
def mixed_model(request):
  """(policy name, the tiny shapes model built under it)."""
  keras.mixed_precision.set_global_policy(request.param)
  try:
    parse_tiny_shapes("mask_heads.mask_head.num_convs = 1")
    keras.utils.set_random_seed(0)
    model = build_from_gin()
  finally:
    gin.clear_config()
    keras.mixed_precision.set_global_policy("float32")
  return request.param, model


@pytest.mark.smoke
def test_layers_compute_in_the_right_type(mixed_model):
  policy, model = mixed_model
  for layer in (model.roi_generator, *model.roi_sampler, model.detection_generator,
                model.mask_sampler):
    assert layer.compute_dtype == "float32", type(layer).__name__
  for layer in (model.backbone, model.decoder, model.rpn_head, *model.detection_head,
                model.mask_head):
    assert layer.compute_dtype == REDUCED[policy].name, type(layer).__name__


def test_prediction_layers_compute_in_float32(mixed_model):
  """The heads' last layers are float32; the layers feeding them keep the reduced type."""
  policy, model = mixed_model
  layers = {layer.name: layer for layer in model._flatten_layers()}  # pylint: disable=protected-access
  for name in ("rpn-scores", "rpn-boxes", "detection-scores", "detection-boxes", "mask-logits"):
    assert layers[name].compute_dtype == "float32", name
  for name in ("detection-fc_0", "mask-conv_0"):
    assert layers[name].compute_dtype == REDUCED[policy].name, name


def test_training_targets_are_float32(mixed_model):
  policy, model = mixed_model
  images, inputs = training_batch([3, 1])
  outputs = model(images, **inputs)
  features = model.decoder(model.backbone(images))
  assert features["2"].dtype == REDUCED[policy]  # the convs' outputs
  # The heads' predictions (their last layer runs in float32) and the targets.
  for key in ("box_outputs", "class_outputs", "box_targets", "mask_targets", "mask_outputs"):
    assert outputs[key].dtype == tf.float32, key
  assert outputs["rpn_boxes"]["2"].dtype == outputs["rpn_scores"]["2"].dtype == tf.float32


def test_inference_outputs_are_float32(mixed_model):
  _, model = mixed_model
  images, inputs = training_batch([1, 1])
  outputs = model(images, image_shape=inputs["image_shape"], training=False)
  for key in ("detection_boxes", "detection_scores", "detection_masks"):
    assert outputs[key].dtype == tf.float32, key


def test_proposals_are_decoded_in_float32(mixed_model):
  """Reduced-type RPN outputs (a head whose last layer is not float32) give the
  proposals that float32 decoding of the same values gives: no box coordinate
  is rounded to the reduced type."""
  policy, model = mixed_model
  images, inputs = training_batch([1, 1])
  size = TINY_SHAPES_SIZE
  scale = 600.0 / size  # coordinates above 512, where bfloat16 steps by 4 pixels
  features = model.decoder(model.backbone(images))
  reduced = lambda values: {k: tf.cast(v, REDUCED[policy]) for k, v in values.items()}
  scores, boxes = (reduced(outputs) for outputs in model.rpn_head(features))
  anchors = {level: value * scale for level, value in inputs["anchor_boxes"].items()}
  image_shape = inputs["image_shape"] * scale
  rois, _ = model.roi_generator(boxes, scores, anchors, image_shape, training=False)
  as_float32 = lambda values: {k: tf.cast(v, tf.float32) for k, v in values.items()}
  reference, _ = model.roi_generator(as_float32(boxes), as_float32(scores), anchors,
                                     image_shape, training=False)
  assert rois.dtype == tf.float32
  np.testing.assert_array_equal(rois, reference)
  # The same decoding in the reduced type would have rounded them.
  rounded = tf.cast(tf.cast(reference, REDUCED[policy]), tf.float32)
  assert policy == "mixed_float16" or np.abs(rounded - reference).max() >= 1.0
