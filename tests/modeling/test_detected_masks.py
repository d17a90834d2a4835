"""skip_padded_masks: the same detections as Model Garden's model, masks only where kept."""

import numpy as np
import pytest
import tensorflow as tf

from maskrcnn_plugin.errors import GinConfigError
from maskrcnn_plugin.gin_config import parse_gin
from maskrcnn_plugin.modeling import build_from_gin
from maskrcnn_plugin.modeling.mask_rows import mask_head_on_rows
from maskrcnn_plugin.modeling.maskrcnn_model import MaskRCNNModel as PluginMaskRCNNModel
from maskrcnn_plugin.serving.detection import DetectionExportModule
from maskrcnn_plugin.serving.export import export_saved_model
from helpers.tiny_models import TINY_SHAPES_SIZE, build_tiny_shapes
from official.vision.modeling.maskrcnn_model import MaskRCNNModel

SIZE = TINY_SHAPES_SIZE
# The tiny shapes model with 40 proposals and 10 detections.
FEWER_DETECTIONS = ("mask_heads.mask_head.num_convs = 2",
                    "roi_generators.multilevel_roi_generator.test_num_proposals = 40",
                    "detection_generators.detection_generator.max_num_detections = 10")


def _build(skip_padded_masks):
  return build_tiny_shapes(*FEWER_DETECTIONS,
                           f"maskrcnn.build_maskrcnn.skip_padded_masks = {skip_padded_masks}")


@pytest.fixture(scope="module")
def models():
  """(plugin model with skip_padded_masks, Model Garden's model) with the same weights."""
  ours, theirs = _build(True), _build(False)
  theirs.set_weights(ours.get_weights())
  return ours, theirs


@pytest.fixture(scope="module")
def images():
  return tf.random.stateless_uniform([3, SIZE, SIZE, 3], seed=(3, 4), minval=-2, maxval=2)


def _set_score_threshold(models, threshold):
  for model in models:  # Read by the detection generator at each (eager) call.
    model.detection_generator._config_dict["pre_nms_score_threshold"] = threshold  # pylint: disable=protected-access


def _thresholds(models, images):
  """Score thresholds: one that keeps a different number of detections per
  image, one with which one image fills every slot and another does not."""
  _set_score_threshold(models, 0.0)
  scores = models[1](images, image_shape=tf.constant([[SIZE, SIZE]] * 3, tf.float32),
                     training=False)["detection_scores"].numpy()
  lowest = np.sort(scores.min(axis=1))
  return float(np.median(scores[0])), float(lowest[-1] - 0.5 * (lowest[-1] - lowest[-2]))


def _assert_same_kept_detections(actual, expected):
  counts = np.asarray(expected["num_detections"])
  np.testing.assert_array_equal(actual["num_detections"], counts)
  for key in ("detection_boxes", "detection_classes", "detection_scores"):
    np.testing.assert_array_equal(actual[key], expected[key])
  masks, reference = np.asarray(actual["detection_masks"]), np.asarray(expected["detection_masks"])
  assert masks.shape == reference.shape
  for index, count in enumerate(counts):
    np.testing.assert_allclose(masks[index, :count], reference[index, :count], atol=1e-5)
    assert not masks[index, count:].any()


def test_the_option_selects_the_mask_path(models):
  ours, theirs = models
  assert isinstance(ours, PluginMaskRCNNModel) and isinstance(ours, MaskRCNNModel)
  assert ours.skip_padded_masks and not theirs.skip_padded_masks


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "tf.function"])
def test_same_kept_detections_with_varied_and_zero_counts(models, images, compiled):
  ours, theirs = models
  image_shape = tf.constant([[SIZE, SIZE], [SIZE, 48], [48, SIZE]], tf.float32)
  varied, one_full = _thresholds(models, images)
  slots = theirs.detection_generator.get_config()["max_num_detections"]
  for score_threshold in (varied, one_full, 1.1):  # then no detections at all
    _set_score_threshold(models, score_threshold)
    run = [(lambda x, s, m=m: m(x, image_shape=s, training=False)) for m in models]
    if compiled:
      run = [tf.function(f) for f in run]
    actual, expected = (f(images, image_shape) for f in run)
    counts = np.asarray(expected["num_detections"])
    if score_threshold > 1:
      assert not counts.any()
    elif score_threshold == one_full:  # k = max_num_detections: nothing to skip.
      assert counts.min() < counts.max() == slots
    else:  # The skipping path: kept and padded slots in every image.
      assert 0 < counts.min() < counts.max() < slots
    _assert_same_kept_detections(actual, expected)
  _set_score_threshold(models, 0.05)


def test_the_mask_head_runs_on_the_batchs_kept_detections_only(models, images, monkeypatch):
  from maskrcnn_plugin.modeling import detected_masks  # pylint: disable=import-outside-toplevel
  ours, _ = models
  varied, _ = _thresholds(models, images)
  _set_score_threshold(models, varied)
  rows = []

  def counting(model, row_features, row_classes):
    rows.append(int(row_features.shape[0]))
    return mask_head_on_rows(model, row_features, row_classes)

  monkeypatch.setattr(detected_masks, "mask_head_on_rows", counting)
  outputs = ours(images, image_shape=tf.constant([[SIZE, SIZE]] * 3, tf.float32), training=False)
  _set_score_threshold(models, 0.05)
  counts = outputs["num_detections"].numpy()
  assert counts.min() < counts.max()  # A padded layout would run 3 * max rows.
  assert rows == [counts.sum()]


def test_training_outputs_are_model_gardens(models, images):
  ours, theirs = models
  boxes = tf.constant([[[4., 4., 30., 30.], [20., 24., 60., 50.]]] * 3)
  inputs = {
      "image_shape": tf.constant([[SIZE, SIZE]] * 3, tf.float32),
      "anchor_boxes": None, "gt_boxes": boxes, "gt_classes": tf.constant([[1, 2]] * 3),
      "gt_masks": tf.ones([3, 2, 28, 28])}
  # Same seeds: the ROI and mask samplers draw the same samples.
  tf.random.set_seed(5)
  ours_out = ours(images, **_with_anchors(ours, inputs), training=True)
  tf.random.set_seed(5)
  theirs_out = theirs(images, **_with_anchors(theirs, inputs), training=True)
  np.testing.assert_allclose(ours_out["mask_outputs"], theirs_out["mask_outputs"], atol=1e-5)


def _with_anchors(model, inputs):
  from official.vision.ops import anchor  # pylint: disable=import-outside-toplevel
  config = model.get_config()
  anchor_boxes = anchor.Anchor(
      min_level=config["min_level"], max_level=config["max_level"],
      num_scales=config["num_scales"], aspect_ratios=config["aspect_ratios"],
      anchor_size=config["anchor_size"], image_size=(SIZE, SIZE)).multilevel_boxes
  batched = {level: tf.tile(boxes[tf.newaxis], [3, 1, 1, 1])
             for level, boxes in anchor_boxes.items()}
  return {**inputs, "anchor_boxes": batched}


def test_exported_savedmodel_keeps_the_same_detections(models, tmp_path):
  ours, theirs = models
  _set_score_threshold(models, 0.05)
  pixels = tf.cast(tf.random.stateless_uniform([2, 80, 96, 3], seed=(5, 6), maxval=256),
                   tf.uint8)
  outputs = []
  for name, model in (("ours", ours), ("theirs", theirs)):
    module = DetectionExportModule(model, image_size=[SIZE, SIZE], mask_output="probabilities")
    folder = export_saved_model(module, str(tmp_path / name))
    serve = tf.saved_model.load(folder).signatures["serving_default"]
    outputs.append({k: v.numpy() for k, v in serve(inputs=pixels).items()})
  actual, expected = outputs
  assert expected["num_detections"].min() > 0
  _assert_same_kept_detections(actual, expected)


def test_a_non_boolean_setting_is_one_clear_message():
  parse_gin(["maskrcnn_shapes_r18_cpu"], ["maskrcnn.build_maskrcnn.skip_padded_masks = 'yes'"])
  with pytest.raises(GinConfigError, match=r"maskrcnn.build_maskrcnn.skip_padded_masks = 'yes' "
                                           r"is not valid: it must be True or False"):
    build_from_gin()
