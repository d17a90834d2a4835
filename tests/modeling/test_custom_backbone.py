"""A user's backbone: plain tf.keras from a gin file in a fresh interpreter; without output_specs."""

import os
import subprocess
import sys
from pathlib import Path

import gin
import numpy as np
import pytest
import tensorflow as tf
from official.vision.losses import maskrcnn_losses

from maskrcnn_plugin import BACKBONES
from maskrcnn_plugin.gin_config import parse_gin
from maskrcnn_plugin.keras_setup import model_garden_keras
from maskrcnn_plugin.modeling import build_from_gin
from helpers.tiny_models import TINY_SHAPES, training_batch

keras = model_garden_keras()
HERE = Path(__file__).resolve().parent / "custom_backbone"


def _run(order, *gin_files, cwd):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  env.pop("TF_USE_LEGACY_KERAS", None)  # what the plugin must arrange by itself
  return subprocess.run(
      [sys.executable, str(HERE / "run_validate.py"), order, *map(str, gin_files)],
      env=env, cwd=cwd, capture_output=True, text=True, timeout=600)


def test_tf_keras_backbone_from_gin_uncalled_and_built(tmp_path):
  result = _run("plugin_first", HERE / "my_net.gin", HERE / "my_net_built.gin", cwd=tmp_path)
  assert result.returncode == 0, result.stderr
  assert result.stdout.count("parameters:") == 2
  # my_net's own levels (16..128 channels), then the 64-filter FPN.
  assert result.stdout.count("level  2  stride   4  [1, 32, 32, 16]") == 2
  assert result.stdout.count("level  5  stride  32  [1, 4, 4, 128]") == 2
  assert result.stdout.count("detection_masks    [1, 20, 28, 28]") == 2
  # The built form gets no settings from the builder, and says so.
  assert "already-built model (backbones.my_net())" in result.stderr


@pytest.mark.keras3
def test_keras3_backbone_is_one_clear_message(tmp_path):
  result = _run("keras3_first", HERE / "my_net.gin", cwd=tmp_path)
  assert result.returncode == 2
  assert "Traceback" not in result.stderr
  error = [line for line in result.stderr.splitlines() if line.startswith("maskrcnn validate:")]
  assert error == [
      "maskrcnn validate: error: Backbone 'backbones.my_net' is a Functional from Keras 3, but "
      "Model Garden's layers need a tf_keras (Keras 2) model. This happens when `tf.keras` is "
      "used before maskrcnn_plugin is imported: import maskrcnn_plugin first, set "
      "TF_USE_LEGACY_KERAS=1, or build the model with `maskrcnn_plugin.keras` instead of "
      "`keras`/`tf.keras`."]


def _functional_without_output_specs(input_specs, width=8):
  """The README's backbone without its `output_specs` line: the builder infers them."""
  inputs = keras.Input(shape=input_specs.shape[1:])
  x = keras.layers.Conv2D(width, 3, strides=2, padding="same", activation="relu")(inputs)
  features = {}
  for level in range(2, 6):
    x = keras.layers.Conv2D(width * 2**(level - 2), 3, strides=2, padding="same",
                            activation="relu")(x)
    features[str(level)] = x
  return keras.Model(inputs, features, name="without_specs")


def test_functional_backbone_without_output_specs_builds_and_trains_one_step():
  BACKBONES.register("without_specs")(_functional_without_output_specs)
  try:
    parse_gin(["maskrcnn_shapes_r18_cpu"],
              [*TINY_SHAPES, "maskrcnn.build_maskrcnn.backbone = @backbones.without_specs"])
    model = build_from_gin()
  finally:
    gin.clear_config()
    BACKBONES.unregister("without_specs")
  assert {level: shape.as_list() for level, shape in model.backbone.output_specs.items()} == {
      "2": [None, 16, 16, 8], "3": [None, 8, 8, 16], "4": [None, 4, 4, 32],
      "5": [None, 2, 2, 64]}
  assert model.decoder.get_config()["input_specs"].keys() == {"2", "3", "4", "5"}
  images, inputs = training_batch([2, 1])
  before = [v.numpy() for v in model.backbone.trainable_variables]
  with tf.GradientTape() as tape:
    outputs = model(images, **inputs)
    loss = maskrcnn_losses.MaskrcnnLoss()(outputs["mask_outputs"], outputs["mask_targets"],
                                          outputs["mask_class_targets"])
  variables = model.trainable_variables
  keras.optimizers.SGD(0.1).apply_gradients(zip(tape.gradient(loss, variables), variables))
  assert np.isfinite(float(loss))
  assert any(not np.array_equal(old, new.numpy())
             for old, new in zip(before, model.backbone.trainable_variables))
