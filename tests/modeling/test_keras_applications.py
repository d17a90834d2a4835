"""Keras Applications backbones: feature strides, preprocessing, weights files."""

import types

import numpy as np
import pytest
import tensorflow as tf
from official.vision.ops import preprocess_ops

from maskrcnn_plugin import BACKBONES
from maskrcnn_plugin.errors import UserError
from maskrcnn_plugin.keras_setup import model_garden_keras
from maskrcnn_plugin.modeling import contract, keras_applications
from maskrcnn_plugin.modeling.dry_run import validate
from maskrcnn_plugin.training import warm_start

keras = model_garden_keras()
SIZE = 64
NAMES = ("ResNet50", "ResNet101", "ResNet50V2", "ResNet101V2", "MobileNetV2", "MobileNetV3Small",
         "MobileNetV3Large", "EfficientNetB0", "EfficientNetB1", "EfficientNetB2",
         "EfficientNetB3")
# Where levels 2..5 come from, for the families whose layer names are fixed.
EXPECTED_LAYERS = {
    "ResNet50": ["conv2_block3_out", "conv3_block4_out", "conv4_block6_out", "conv5_block3_out"],
    "ResNet101V2": ["conv2_block3_preact_relu", "conv3_block4_preact_relu",
                    "conv4_block23_preact_relu", "post_relu"],
    "MobileNetV2": ["block_3_expand_relu", "block_6_expand_relu", "block_13_expand_relu",
                    "out_relu"],
    "EfficientNetB0": ["block3a_expand_activation", "block4a_expand_activation",
                       "block6a_expand_activation", "top_activation"],
}


def build(model_name, size=SIZE, **kwargs):
  return keras_applications.keras_application(
      keras.layers.InputSpec(shape=[None, size, size, 3]), model_name=model_name, **kwargs)


@pytest.fixture(scope="module")
def built():
  """build(name) once per name and module, with weights=None."""
  cache = {}

  def get(name):
    if name not in cache:
      cache[name] = build(name)
    return cache[name]
  return get


def test_every_supported_name_is_tested():
  assert set(NAMES) <= set(keras_applications.PREPROCESSING)
  assert "keras_application" in BACKBONES


@pytest.mark.parametrize("name", NAMES)
def test_backbone_keeps_the_contract_with_strides_4_to_32(built, name):
  backbone = built(name)
  outputs = contract.check_backbone(backbone, f"keras_application({name})", [SIZE, SIZE], 2, 5)
  assert sorted(outputs) == ["2", "3", "4", "5"]
  for level, shape in backbone.output_specs.items():
    assert shape[1:3] == [SIZE // 2**int(level)] * 2, (name, level, shape)
  if name in EXPECTED_LAYERS:
    layers = [backbone.output[level].name.split("/")[0] for level in ("2", "3", "4", "5")]
    assert layers == EXPECTED_LAYERS[name]


@pytest.mark.parametrize("mode,reference", [
    ("caffe", keras.applications.resnet.preprocess_input),
    ("tf", keras.applications.mobilenet_v2.preprocess_input),
    ("built_in", lambda rgb: rgb),
])
def test_preprocessing_turns_model_garden_normalised_images_into_the_family_input(
    mode, reference):
  rgb = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype(np.float32)
  normalised = preprocess_ops.normalize_image(tf.constant(rgb / 255.0))
  got = keras_applications.ApplicationPreprocessing(mode)(normalised)
  np.testing.assert_allclose(got.numpy(), reference(rgb.copy()), rtol=1e-4, atol=1e-3)


def test_weights_file_round_trip_and_keras_weights_warm_start(built, tmp_path):
  source = built("MobileNetV3Small")
  path = str(tmp_path / "mobilenet_v3_small_notop.h5")
  source.save_weights(path)
  loaded = build("MobileNetV3Small", weights=path)
  fresh = build("MobileNetV3Small")
  assert any(not np.array_equal(a.numpy(), b.numpy())
             for a, b in zip(fresh.weights, source.weights))
  report = warm_start.warm_start(types.SimpleNamespace(backbone=fresh), path)
  for model in (loaded, fresh):
    for got, expected in zip(model.weights, source.weights):
      np.testing.assert_array_equal(got.numpy(), expected.numpy())
  assert len(report.restored["backbone"]) == len(source.variables)
  with pytest.raises(UserError, match="modules = \\['backbone'\\]"):
    warm_start.warm_start(types.SimpleNamespace(backbone=fresh), path, modules=["all"])
  with pytest.raises(UserError, match="must hold the weights of this backbone"):
    warm_start.warm_start(types.SimpleNamespace(backbone=built("EfficientNetB0")), path)


def test_unknown_name_missing_file_and_dynamic_size_are_clear_errors(tmp_path):
  with pytest.raises(ValueError, match="model_name = 'ResNet18' is not valid: it must be one of "
                                       "'ResNet50'"):
    build("ResNet18")
  with pytest.raises(ValueError, match="no such file"):
    build("MobileNetV2", weights=str(tmp_path / "missing.h5"))
  with pytest.raises(ValueError, match="static image size"):
    keras_applications.keras_application(keras.layers.InputSpec(shape=[None, None, None, 3]))


def test_mask_rcnn_builds_from_gin_with_a_keras_application_backbone():
  model, summary = validate(["maskrcnn_shapes_r18_cpu"], [
      "IMAGE_SIZE = [64, 64]",
      "maskrcnn.build_maskrcnn.backbone = @backbones.keras_application",
      "backbones.keras_application.model_name = 'MobileNetV3Small'",
      "maskrcnn.build_maskrcnn.l2_weight_decay = 1e-4"])
  assert summary.backbone_features["2"] == (1, 16, 16, 72)
  assert model.backbone.losses  # Weight decay reaches the application's kernels.
