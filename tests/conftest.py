"""Shared test set-up: quiet TensorFlow, the TensorFlow variables the plugin sets at import
(Keras 2 for tf.keras, the pooled CPU allocator, oneDNN), clean gin per test, the fixtures
of tests/helpers."""

import importlib.metadata
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Before any test module imports TensorFlow: the suite runs as `maskrcnn` does.
import maskrcnn_plugin  # noqa: E402,F401  pylint: disable=unused-import,wrong-import-position
import gin  # noqa: E402
import pytest  # noqa: E402

# Fixtures shared by several folders; tests/ is on sys.path (pyproject.toml).
pytest_plugins = ("helpers.fixtures",)


@pytest.fixture(autouse=True)
def clean_gin():
  """Every test starts and ends with an empty, unlocked gin config."""
  gin.clear_config()
  yield
  gin.clear_config()


def _keras_major() -> int:
  try:
    return int(importlib.metadata.version("keras").split(".")[0])
  except importlib.metadata.PackageNotFoundError:
    return 0


def pytest_collection_modifyitems(items):
  """Skips tests marked `keras3` where no Keras 3 exists (the TF 2.14 line)."""
  if _keras_major() >= 3:
    return
  skip = pytest.mark.skip(reason="Keras 3 is not installed (TensorFlow < 2.16 line)")
  for item in items:
    if item.get_closest_marker("keras3"):
      item.add_marker(skip)
