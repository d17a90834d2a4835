"""nms_kernel = 'native': Model Garden's proposals and detections, on TensorFlow's NMS kernel."""

import numpy as np
import pytest
import tensorflow as tf
from official.vision.modeling.layers import detection_generator as mg_detection_generator
from official.vision.modeling.layers import roi_generator as mg_roi_generator
from official.vision.ops import nms as mg_nms

from maskrcnn_plugin.modeling import build_from_gin, native_nms, roi_layers
from registry import ConstraintError
from helpers.tiny_models import TINY_SHAPES_SIZE, parse_tiny_shapes

# Model Garden's layer internals differ between the TF 2.14 and 2.20 lines: both run these.
pytestmark = pytest.mark.smoke

SIZE = TINY_SHAPES_SIZE


def _clustered_boxes(rng, batch, count, size=SIZE):
  """[batch, count, 4] boxes around a few centres, so that many overlap."""
  centres = rng.uniform(8, size - 8, [batch, 6, 2])
  chosen = centres[np.arange(batch)[:, None], rng.integers(0, 6, [batch, count])]
  centre = chosen + rng.normal(0, 3, [batch, count, 2])
  half = rng.uniform(3, 14, [batch, count, 2])
  boxes = np.concatenate([centre - half, centre + half], axis=-1)
  return np.clip(boxes, 0, size).astype(np.float32)


@pytest.mark.parametrize("iou_threshold", [0.5, 0.7])
@pytest.mark.parametrize("max_output_size", [20, 700])
def test_sorted_nms_padded_equals_model_garden(iou_threshold, max_output_size):
  rng = np.random.default_rng(0)
  boxes = _clustered_boxes(rng, 3, 600)
  scores = -np.sort(-rng.uniform(0, 1, [3, 600]).astype(np.float32), axis=1)
  boxes[1, 5:40] = 0.0  # Dots (removed boxes) are never kept.
  expected_scores, expected_boxes = mg_nms.sorted_non_max_suppression_padded(
      scores, boxes, max_output_size, iou_threshold)
  scores_out, boxes_out = native_nms.sorted_nms_padded(scores, boxes, max_output_size,
                                                       iou_threshold)
  assert scores_out.shape == (3, max_output_size)
  np.testing.assert_array_equal(scores_out.numpy(), expected_scores.numpy())
  np.testing.assert_array_equal(boxes_out.numpy(), expected_boxes.numpy())
  kept = (scores_out.numpy() > 0).sum(axis=1)
  assert (kept > 0).all() and (max_output_size == 20 or (kept < max_output_size).all())


def _rpn_outputs(seed, batch=2):
  """Random RPN outputs and anchors of a 64 px image, levels 2-5, 3 anchors per location."""
  rng = np.random.default_rng(seed)
  raw_boxes, raw_scores, anchors = {}, {}, {}
  for level in range(2, 6):
    side = SIZE // 2**level
    raw_scores[str(level)] = tf.constant(rng.normal(0, 2, [batch, side, side, 3]), tf.float32)
    raw_boxes[str(level)] = tf.constant(rng.normal(0, 0.3, [batch, side, side, 12]), tf.float32)
    centre = (np.stack(np.meshgrid(np.arange(side), np.arange(side), indexing="ij"), -1)
              + 0.5) * 2**level
    half = np.array([1.0, 2.0, 4.0])[:, None] * 2**level
    corners = np.concatenate([centre[:, :, None] - half[:, :1], centre[:, :, None] + half[:, :1]],
                             -1)
    anchors[str(level)] = tf.constant(np.broadcast_to(
        corners.reshape(1, -1, 4), [batch, side * side * 3, 4]), tf.float32)
  return raw_boxes, raw_scores, anchors


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("settings", [
    {},
    {"pre_nms_top_k": 100, "num_proposals": 60, "test_pre_nms_top_k": 50,
     "test_num_proposals": 30, "pre_nms_min_size_threshold": 4.0,
     "test_pre_nms_min_size_threshold": 4.0, "pre_nms_score_threshold": 0.3,
     "test_pre_nms_score_threshold": 0.3},
])
def test_roi_generator_equals_model_garden(training, settings):
  raw_boxes, raw_scores, anchors = _rpn_outputs(1)
  image_shape = tf.constant([[SIZE, SIZE], [48, 56]], tf.float32)
  ours = roi_layers.multilevel_roi_generator(**settings)
  theirs = mg_roi_generator.MultilevelROIGenerator(**settings)
  assert isinstance(ours, native_nms.NativeNMSROIGenerator)
  rois, scores = ours(raw_boxes, raw_scores, anchors, image_shape, training=training)
  expected_rois, expected_scores = theirs(raw_boxes, raw_scores, anchors, image_shape,
                                          training=training)
  np.testing.assert_array_equal(scores.numpy(), expected_scores.numpy())
  np.testing.assert_array_equal(rois.numpy(), expected_rois.numpy())
  assert (scores.numpy() > 0).sum() > 20


@pytest.mark.parametrize("bbox_per_class", [True, False])
def test_detection_generator_equals_model_garden(bbox_per_class):
  rng = np.random.default_rng(2)
  num_classes, num_rois = 5, 200
  rois = tf.constant(_clustered_boxes(rng, 2, num_rois), tf.float32)
  raw_scores = tf.constant(rng.normal(0, 2, [2, num_rois, num_classes]), tf.float32)
  box_columns = 4 * num_classes if bbox_per_class else 4
  raw_boxes = tf.constant(rng.normal(0, 0.2, [2, num_rois, box_columns]), tf.float32)
  image_shape = tf.constant([[SIZE, SIZE], [SIZE, 40]], tf.float32)
  settings = {"max_num_detections": 30, "pre_nms_top_k": 150}
  ours = roi_layers.detection_generator(**settings)
  theirs = mg_detection_generator.DetectionGenerator(**settings)
  assert isinstance(ours, native_nms.NativeNMSDetectionGenerator)
  outputs = ours(raw_boxes, raw_scores, rois, image_shape, bbox_per_class=bbox_per_class)
  expected = theirs(raw_boxes, raw_scores, rois, image_shape, bbox_per_class=bbox_per_class)
  assert outputs.keys() == expected.keys()
  for key in expected:
    assert outputs[key].dtype == expected[key].dtype, key
    np.testing.assert_array_equal(outputs[key].numpy(), expected[key].numpy(), err_msg=key)
  assert expected["num_detections"].numpy().min() > 5


def _tiny_model(nms_kernel):
  parse_tiny_shapes(
      "mask_heads.mask_head.num_convs = 1",
      "detection_generators.detection_generator.pre_nms_score_threshold = 0.2",
      f"roi_generators.multilevel_roi_generator.nms_kernel = '{nms_kernel}'",
      f"detection_generators.detection_generator.nms_kernel = '{nms_kernel}'")
  return build_from_gin()


def test_model_detections_equal_with_either_kernel():
  ours, theirs = _tiny_model("native"), _tiny_model("model_garden")
  assert isinstance(ours.roi_generator, native_nms.NativeNMSROIGenerator)
  # Model Garden's own NMS (its layer, with float32 arguments), not the kernel's.
  assert isinstance(theirs.detection_generator, mg_detection_generator.DetectionGenerator)
  assert not isinstance(theirs.detection_generator, native_nms.NativeNMSDetectionGenerator)
  theirs.set_weights(ours.get_weights())
  images = tf.random.stateless_uniform([2, SIZE, SIZE, 3], seed=(5, 6), minval=-2, maxval=2)
  image_shape = tf.constant([[SIZE, SIZE]] * 2, tf.float32)
  outputs = ours(images, image_shape=image_shape, training=False)
  expected = theirs(images, image_shape=image_shape, training=False)
  for key in ("num_detections", "detection_boxes", "detection_classes", "detection_scores",
              "detection_masks"):
    np.testing.assert_allclose(outputs[key].numpy(), expected[key].numpy(), atol=1e-5,
                               err_msg=key)
  assert expected["num_detections"].numpy().min() > 0


def test_unknown_nms_kernel_names_the_binding():
  with pytest.raises(ConstraintError, match=r"multilevel_roi_generator.nms_kernel = 'fast' is not"):
    roi_layers.multilevel_roi_generator(nms_kernel="fast")
