"""Shared test set-up: quiet TensorFlow, Keras 2 for tf.keras, clean gin per test."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import gin  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def clean_gin():
  """Every test starts and ends with an empty, unlocked gin config."""
  gin.clear_config()
  yield
  gin.clear_config()
