"""align_kernel = 'native': Model Garden's ROI crops, on TensorFlow's CropAndResize kernel."""

import gin
import numpy as np
import pytest
import tensorflow as tf
from official.vision.modeling.layers import roi_aligner as mg_roi_aligner
from official.vision.ops import spatial_transform_ops

from maskrcnn_plugin.keras_setup import model_garden_keras
from maskrcnn_plugin.modeling import build_from_gin, native_roi_align, roi_layers
from registry import ConstraintError
from helpers.tiny_models import parse_tiny_shapes, training_batch

# Model Garden's layer internals differ between the TF 2.14 and 2.20 lines: both run these.
pytestmark = pytest.mark.smoke

keras = model_garden_keras()
SIZE = 512  # levels 2-5: 128x128 to 16x16, and boxes of all four (sqrt(area) 448 is level 5)


def _pyramid(dtype=tf.float32, batch=2, channels=8, seed=0):
  rng = np.random.default_rng(seed)
  return {str(level): tf.constant(rng.normal(size=[batch, SIZE // 2**level, SIZE // 2**level,
                                                   channels]), dtype)
          for level in range(2, 6)}


def _boxes(batch=2, count=40, seed=1):
  """Boxes of every level, with the cases at the edges of the image and of the rule."""
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
def test_crops_equal_model_gardens(crop_size, sample_offset):
  features, boxes = _pyramid(), _boxes()
  crops = native_roi_align.multilevel_crop_and_resize(features, boxes, crop_size, sample_offset)
  expected = spatial_transform_ops.multilevel_crop_and_resize(
      features, boxes, output_size=crop_size, sample_offset=sample_offset)
  assert crops.shape == expected.shape == (2, 40, crop_size, crop_size, 8)
  assert crops.dtype == tf.float32
  # Sample positions of up to 128 feature pixels differ by float32 rounding
  # (about 1e-5 px), the values by that times the features' slope.
  np.testing.assert_allclose(crops.numpy(), expected.numpy(), rtol=1e-5, atol=2e-4)
  # The edge cases did not hide behind the tolerance: crops of every level differ from 0.
  assert (np.abs(expected.numpy()).reshape(2 * 40, -1).max(axis=1)[[0, 1, 2, 5]] > 0.1).all()


def _op_types(layer, training):
  features, boxes = _pyramid(batch=1), _boxes(batch=1, count=8)
  graph = tf.function(lambda f, b: layer(f, b, training=training)).get_concrete_function(
      features, boxes).graph
  return {op.type for op in graph.get_operations()}


def test_the_layer_reads_crops_with_the_kernel_at_inference_only():
  """Training runs Model Garden's gathers: the CPU gradient of CropAndResize
  adds into the features from several threads without synchronisation."""
  layer = roi_layers.multilevel_roi_aligner()
  assert "CropAndResize" in _op_types(layer, training=False)
  training_ops = _op_types(layer, training=True)
  assert "CropAndResize" not in training_ops and "GatherV2" in training_ops


def test_bfloat16_features_give_bfloat16_crops_of_the_float32_values():
  features, boxes = _pyramid(tf.bfloat16), _boxes()
  crops = native_roi_align.multilevel_crop_and_resize(features, boxes, 7, 0.5)
  assert crops.dtype == tf.bfloat16
  # Interpolated in float32 from the bfloat16 values, then rounded once.
  reference = native_roi_align.multilevel_crop_and_resize(
      {level: tf.cast(value, tf.float32) for level, value in features.items()}, boxes, 7, 0.5)
  np.testing.assert_array_equal(crops.numpy(), tf.cast(reference, tf.bfloat16).numpy())
  model_gardens = spatial_transform_ops.multilevel_crop_and_resize(features, boxes, output_size=7)
  np.testing.assert_allclose(tf.cast(crops, tf.float32).numpy(),
                             tf.cast(model_gardens, tf.float32).numpy(), rtol=0.02, atol=0.05)


def test_the_factories_build_the_native_layer_by_default():
  box_aligner = roi_layers.multilevel_roi_aligner()
  mask_aligner = roi_layers.multilevel_mask_roi_aligner()
  assert isinstance(box_aligner, native_roi_align.NativeROIAligner)
  assert box_aligner.get_config() == {"crop_size": 7, "sample_offset": 0.5}
  assert mask_aligner.get_config() == {"crop_size": 14, "sample_offset": 0.5}
  theirs = roi_layers.multilevel_roi_aligner(align_kernel="model_garden")
  assert type(theirs) is mg_roi_aligner.MultilevelROIAligner  # pylint: disable=unidiomatic-typecheck


def test_unknown_align_kernel_names_the_binding():
  with pytest.raises(ConstraintError,
                     match=r"multilevel_roi_aligner.align_kernel = 'fast' is not valid"):
    roi_layers.multilevel_roi_aligner(align_kernel="fast")


def _tiny_model(align_kernel):
  parse_tiny_shapes(
      "mask_heads.mask_head.num_convs = 1",
      "detection_generators.detection_generator.pre_nms_score_threshold = 0.2",
      f"roi_aligners.multilevel_roi_aligner.align_kernel = '{align_kernel}'",
      f"roi_aligners.multilevel_mask_roi_aligner.align_kernel = '{align_kernel}'")
  keras.utils.set_random_seed(0)
  model = build_from_gin()
  gin.clear_config()
  return model


@pytest.fixture(scope="module")
def models():
  ours, theirs = _tiny_model("native"), _tiny_model("model_garden")
  assert isinstance(ours.mask_roi_aligner, native_roi_align.NativeROIAligner)
  assert not isinstance(theirs.roi_aligner, native_roi_align.NativeROIAligner)
  theirs.set_weights(ours.get_weights())
  return ours, theirs


def test_model_detections_equal_with_either_kernel(models):
  ours, theirs = models
  size = 64
  images = tf.random.stateless_uniform([2, size, size, 3], seed=(5, 6), minval=-2, maxval=2)
  image_shape = tf.constant([[size, size]] * 2, tf.float32)
  outputs = ours(images, image_shape=image_shape, training=False)
  expected = theirs(images, image_shape=image_shape, training=False)
  assert expected["num_detections"].numpy().min() > 0
  for key in ("num_detections", "detection_boxes", "detection_classes", "detection_scores",
              "detection_masks"):
    np.testing.assert_allclose(outputs[key].numpy(), expected[key].numpy(), atol=1e-4,
                               err_msg=key)


def test_training_losses_and_gradients_equal_with_either_kernel(models):
  """Both train with Model Garden's gathers."""
  images, inputs = training_batch([3, 1])
  results = []
  for model in models:
    tf.random.set_seed(7)  # the ROI samplers draw the same ROIs
    with tf.GradientTape() as tape:
      outputs = model(images, **inputs)
      loss = (tf.reduce_sum(outputs["class_outputs"] ** 2) + tf.reduce_sum(outputs["box_outputs"])
              + tf.reduce_sum(outputs["mask_outputs"]))
    results.append((outputs, loss, tape.gradient(loss, model.trainable_variables)))
  (ours, our_loss, our_gradients), (theirs, their_loss, their_gradients) = results
  np.testing.assert_array_equal(ours["class_targets"], theirs["class_targets"])
  np.testing.assert_allclose(our_loss, their_loss, rtol=1e-5)
  pairs = [(variable.name, mine, reference) for variable, mine, reference
           in zip(models[0].trainable_variables, our_gradients, their_gradients)
           if reference is not None]
  assert len(pairs) > 20  # heads, FPN and backbone
  # Float32 rounding: relative to each gradient, plus a floor relative to the
  # largest one for the biases in front of a batch norm (true gradient 0).
  largest = max(np.linalg.norm(reference) for _, _, reference in pairs)
  for name, mine, reference in pairs:
    gap = np.linalg.norm(mine - reference)
    assert gap <= 1e-5 * np.linalg.norm(reference) + 1e-6 * largest, (name, gap)


def test_jit_compile_keeps_the_inference_kernel():
  """XLA compiles the train step only, whose ROI align is Model Garden's
  anyway: the trainer leaves the aligners and the inference masks alone."""
  # pylint: disable=import-outside-toplevel
  import orbit
  from maskrcnn_plugin.training.losses import MaskRCNNLosses
  from maskrcnn_plugin.training.trainer import MaskRCNNTrainer

  model = _tiny_model("native")
  MaskRCNNTrainer(model=model, optimizer=keras.optimizers.SGD(0.01), losses=MaskRCNNLosses(model),
                  dataset_fn=lambda context: tf.data.Dataset.range(1),
                  strategy=tf.distribute.get_strategy(),
                  global_step=orbit.utils.create_global_step(), jit_compile=True)
  assert not model.foreground_mask_training
  assert model.skip_padded_masks
  assert not (model.roi_aligner.model_garden_kernel or model.mask_roi_aligner.model_garden_kernel)
  features, boxes = _pyramid(batch=1), _boxes(batch=1, count=8)
  compiled = tf.function(lambda f, b: model.roi_aligner(f, b, training=True), jit_compile=True)
  np.testing.assert_allclose(compiled(features, boxes).numpy(),
                             native_roi_align.multilevel_crop_and_resize(features, boxes, 7, 0.5),
                             rtol=1e-5, atol=2e-4)


def test_static_shapes_switch_every_dynamic_path_once():
  """What a TPU (XLA everywhere) runs: Model Garden's padded masks and ROI align."""
  model = _tiny_model("native")
  assert model.use_static_shapes() == [
      "foreground_mask_training", "skip_padded_masks", "roi_aligner align_kernel 'native'",
      "mask_roi_aligner align_kernel 'native'"]
  assert not (model.foreground_mask_training or model.skip_padded_masks)
  assert model.use_static_shapes() == []
