"""The plugin makes `tf.keras` Model Garden's Keras, or says why it cannot."""

import pytest

from helpers.fresh_python import run_python


def _run(code):
  return run_python(code, unset=["TF_USE_LEGACY_KERAS"],
                    python_args=["-W", "always::RuntimeWarning"])


def test_importing_the_plugin_first_makes_tf_keras_model_gardens_keras():
  result = _run("""
      import maskrcnn_plugin
      import tensorflow as tf
      from maskrcnn_plugin import keras_setup
      assert keras_setup.tf_keras_is_model_garden_keras()
      assert maskrcnn_plugin.keras.layers.Layer is tf.keras.layers.Layer
      print("ok")
  """)
  assert result.returncode == 0, result.stderr[-2000:]
  assert "RuntimeWarning" not in result.stderr


def test_importing_tensorflow_first_is_fine_until_tf_keras_is_used():
  result = _run("""
      import tensorflow as tf
      import maskrcnn_plugin
      from maskrcnn_plugin import keras_setup
      assert keras_setup.tf_keras_is_model_garden_keras()
  """)
  assert result.returncode == 0, result.stderr[-2000:]
  assert "RuntimeWarning" not in result.stderr


@pytest.mark.keras3
def test_using_tf_keras_before_the_plugin_warns_with_the_remedy():
  result = _run("""
      import tensorflow as tf
      tf.keras.layers.Dense(1)
      import maskrcnn_plugin
  """)
  assert result.returncode == 0, result.stderr[-2000:]
  assert "`tf.keras` was used before maskrcnn_plugin was imported, so it is Keras 3" in result.stderr
  assert "TF_USE_LEGACY_KERAS=1" in result.stderr


def test_importing_the_plugin_does_not_import_tensorflow():
  result = _run("""
      import sys
      import maskrcnn_plugin
      from maskrcnn_plugin.cli import main
      main.build_parser()
      assert "tensorflow" not in sys.modules
  """)
  assert result.returncode == 0, result.stderr[-2000:]
