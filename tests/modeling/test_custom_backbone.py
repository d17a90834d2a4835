"""A user's backbone in plain tf.keras, from a gin file, in a fresh interpreter."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

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
