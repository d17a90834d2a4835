"""roi_align: crops read with CropAndResize, and their gradients, are Model Garden's."""

import gin
import numpy as np
import pytest
import tensorflow as tf
from official.vision.modeling.layers import roi_aligner as mg_roi_aligner
from official.vision.ops import spatial_transform_ops

from maskrcnn_plugin.errors import GinConfigError
from maskrcnn_plugin.modeling import roi_align
from maskrcnn_plugin.serving.onnx_export import conversion_friendly_model
from helpers.tiny_models import (TINY_SHAPES_SIZE, build_tiny_shapes, parse_tiny_shapes,
                                 training_batch)

SIZE = 512  # levels 2-5: 128x128 to 16x16, and boxes of all four (sqrt(area) 448 is level 5)


def _boxes(batch=2, count=40, seed=1):
  """Boxes of every level, with the cases at the edges of the image and of the level rule."""
  rng = np.random.default_rng(seed)
  top_left = rng.uniform(0, SIZE - 2, [batch, count, 2])
  sides = rng.uniform(1, SIZE, [batch, count, 2])
  boxes = np.concatenate([top_left, np.minimum(top_left + sides, SIZE)], axis=-1)
  boxes[:, :6] = [[0, 0, SIZE, SIZE],                     # the whole image (level 5)
                  [SIZE - 3, SIZE - 9, SIZE, SIZE],       # the bottom-right corner
                  [0, SIZE - 30, 4, SIZE],                # a thin strip on the right edge
                  [10, 10, 10, 10],                       # zero area (lowest level)
                  [0, 0, 0, 0],                           # padding
                  [20.25, 30.5, 20.75, 90.0]]             # less than a pixel high
  return tf.constant(boxes, tf.float32)


@pytest.mark.parametrize("crop_size,sample_offset", [(7, 0.5), (14, 0.5), (7, 0.0), (1, 0.5)])
def test_crop_and_resize_reads_model_gardens_crops(crop_size, sample_offset):
  rng = np.random.default_rng(0)
  features = {str(level): tf.constant(rng.normal(size=[2, SIZE // 2**level, SIZE // 2**level, 8]),
                                      tf.float32) for level in range(2, 6)}
  boxes = _boxes()
  crops = roi_align.crop_and_resize_align(features, boxes, crop_size, sample_offset)
  expected = spatial_transform_ops.multilevel_crop_and_resize(
      features, boxes, output_size=crop_size, sample_offset=sample_offset)
  assert crops.shape == expected.shape == (2, 40, crop_size, crop_size, 8)
  # Sample positions of up to 128 feature pixels differ by float32 rounding
  # (about 1e-5 px), the values by that times the features' slope.
  np.testing.assert_allclose(crops.numpy(), expected.numpy(), rtol=1e-5, atol=2e-4)
  assert (np.abs(expected.numpy()).reshape(80, -1).max(axis=1)[[0, 1, 2, 5]] > 0.1).all()


def _build(kernel, training_kernel=None):
  training_kernel = training_kernel or kernel
  return build_tiny_shapes(*[
      f"roi_aligners.{aligner}.{mode}_kernel = '{value}'"
      for aligner in ("multilevel_roi_aligner", "multilevel_mask_roi_aligner")
      for mode, value in (("inference", kernel), ("training", training_kernel))])


def test_crop_gradients_are_model_gardens():
  rng = np.random.default_rng(3)
  features = {str(level): tf.Variable(rng.normal(size=[2, SIZE // 2**level, SIZE // 2**level, 8]),
                                      dtype=tf.float32) for level in range(2, 6)}
  boxes = _boxes()
  upstream = tf.constant(rng.normal(size=[2, 40, 7, 7, 8]), tf.float32)

  def gradients(crop):
    with tf.GradientTape() as tape:
      loss = tf.reduce_sum(crop(features, boxes) * upstream)
    return tape.gradient(loss, [features[str(level)] for level in range(2, 6)])

  ours = gradients(lambda f, b: roi_align.crop_and_resize_align(f, b, 7))
  theirs = gradients(lambda f, b: spatial_transform_ops.multilevel_crop_and_resize(f, b, 7))
  for mine, expected in zip(ours, theirs):
    assert np.abs(expected.numpy()).max() > 0.1
    np.testing.assert_allclose(mine.numpy(), expected.numpy(), rtol=1e-4, atol=1e-4)
  # Deterministic: the same sums in the same order (TensorFlow's kernel adds from several threads).
  again = gradients(lambda f, b: roi_align.crop_and_resize_align(f, b, 7))
  for first, second in zip(ours, again):
    np.testing.assert_array_equal(first.numpy(), second.numpy())


@pytest.fixture(scope="module")
def models():
  """(the default model, the same with Model Garden's gathers), same weights."""
  ours, theirs = _build("crop_and_resize"), _build("model_garden")
  theirs.set_weights(ours.get_weights())
  return ours, theirs


def _count_crop_and_resize_calls(monkeypatch):
  calls = []
  original = roi_align.crop_and_resize_align

  def counting(*args, **kwargs):
    calls.append(args[2])  # the crop size
    return original(*args, **kwargs)

  monkeypatch.setattr(roi_align, "crop_and_resize_align", counting)
  return calls


def test_the_option_selects_the_layers(models):
  ours, theirs = models
  for aligner in (ours.roi_aligner, ours.mask_roi_aligner):
    assert isinstance(aligner, roi_align.ROIAligner)
    assert aligner.get_config()["training_kernel"] == "crop_and_resize"
  for aligner in (theirs.roi_aligner, theirs.mask_roi_aligner):
    assert type(aligner) is mg_roi_aligner.MultilevelROIAligner  # pylint: disable=unidiomatic-typecheck


def test_inference_detections_and_masks_are_model_gardens(models, monkeypatch):
  ours, theirs = models
  calls = _count_crop_and_resize_calls(monkeypatch)
  images = tf.random.stateless_uniform([2, TINY_SHAPES_SIZE, TINY_SHAPES_SIZE, 3], seed=(7, 8),
                                       minval=-2, maxval=2)
  shapes = tf.constant([[TINY_SHAPES_SIZE, TINY_SHAPES_SIZE], [TINY_SHAPES_SIZE, 40]], tf.float32)
  actual = tf.function(lambda x: ours(x, image_shape=shapes, training=False))(images)
  expected = theirs(images, image_shape=shapes, training=False)
  assert sorted(calls) == [7, 14]  # both aligners, once each
  counts = expected["num_detections"].numpy()
  assert counts.min() > 0
  np.testing.assert_array_equal(actual["num_detections"], counts)
  np.testing.assert_array_equal(actual["detection_classes"], expected["detection_classes"])
  for key, tolerance in (("detection_boxes", 1e-3), ("detection_scores", 1e-5),
                         ("detection_masks", 1e-4)):
    np.testing.assert_allclose(actual[key], expected[key], atol=tolerance)


def test_training_losses_and_gradients_are_model_gardens(models, monkeypatch):
  ours, theirs = models
  calls = _count_crop_and_resize_calls(monkeypatch)
  images, inputs = training_batch([2, 1])

  def loss_and_gradients(model):
    tf.random.set_seed(11)  # The same sampled ROIs on both sides.
    with tf.GradientTape() as tape:
      outputs = model(images, **inputs)
      loss = tf.add_n([tf.reduce_sum(outputs[key] ** 2) for key in
                       ("class_outputs", "box_outputs", "mask_outputs")])
    return loss, tape.gradient(loss, model.trainable_variables), outputs

  loss, grads, outputs = loss_and_gradients(ours)
  assert sorted(calls) == [7, 14]  # both aligners, once each
  assert outputs["mask_outputs"].shape[1] >= 3  # The mask branch ran (the ground truths' ROIs).
  expected_loss, expected_grads, _ = loss_and_gradients(theirs)
  np.testing.assert_allclose(loss, expected_loss, rtol=1e-4)
  # Relative to the largest gradient: the biases before batch norm have
  # gradients of float32 noise only (about 1e-4 of it) on both sides.
  pairs = [(variable.name, mine, expected) for variable, mine, expected
           in zip(ours.trainable_variables, grads, expected_grads) if expected is not None]
  scale = max(float(tf.reduce_max(tf.abs(expected))) for _, _, expected in pairs)
  assert len(pairs) > 20 and scale > 1.0
  for name, mine, expected in pairs:
    np.testing.assert_allclose(mine / scale, expected / scale, atol=1e-4, err_msg=name)


def test_the_training_kernel_alone_selects_model_gardens_gathers(monkeypatch):
  model = _build("crop_and_resize", training_kernel="model_garden")
  calls = _count_crop_and_resize_calls(monkeypatch)
  images, inputs = training_batch([2, 1])
  model(images, **inputs)
  assert not calls


def test_static_shapes_and_onnx_conversion_switch_to_model_gardens_gathers(monkeypatch):
  model = _build("crop_and_resize")
  calls = _count_crop_and_resize_calls(monkeypatch)
  images = tf.zeros([1, TINY_SHAPES_SIZE, TINY_SHAPES_SIZE, 3])
  shape = tf.constant([[TINY_SHAPES_SIZE, TINY_SHAPES_SIZE]], tf.float32)
  with conversion_friendly_model(model):
    model(images, image_shape=shape, training=False)
  assert not calls
  model(images, image_shape=shape, training=False)  # restored after the conversion
  assert calls
  assert "the ROI aligners' kernel = 'crop_and_resize'" in model.use_static_shapes()
  calls.clear()
  model(images, image_shape=shape, training=False)
  assert not calls


def test_an_unknown_kernel_is_one_clear_message():
  with pytest.raises(GinConfigError, match=r"roi_aligners.multilevel_roi_aligner.inference_kernel"
                                           r" = 'crop' is not valid: it must be one of "
                                           r"'crop_and_resize', 'model_garden'"):
    parse_tiny_shapes("roi_aligners.multilevel_roi_aligner.inference_kernel = 'crop'")
  gin.clear_config()
