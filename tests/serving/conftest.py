"""Shared fixtures: a training folder with an untrained shapes model, its
SavedModel, and image files of several sizes.

Building and exporting take tens of seconds on 2 cores, so they are session
scoped; tests must not change them.
"""

import shutil

import gin
import numpy as np
from PIL import Image
import pytest

import maskrcnn_plugin  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow)
from maskrcnn_plugin.data.shapes import draw_image

from helpers.run_folders import export, write_model_dir

# Sizes (height, width) of the test images: square, wide, tall and larger than
# the 128 px the model is built for, so resizing and padding are exercised.
IMAGE_SIZES = ((128, 128), (96, 160), (150, 100), (200, 240))


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> str:
  return write_model_dir(str(tmp_path_factory.mktemp("run")))


@pytest.fixture(scope="session")
def restored(model_dir):
  """The training folder's model rebuilt in-process (RestoredRun)."""
  from maskrcnn_plugin.serving.restore import restore_run  # pylint: disable=import-outside-toplevel
  run = restore_run(model_dir)
  gin.clear_config()
  return run


@pytest.fixture(scope="session")
def saved_model(model_dir, tmp_path_factory) -> str:
  """The training folder exported with the default image_tensor signature."""
  return export(model_dir, str(tmp_path_factory.mktemp("export") / "image_tensor"))


@pytest.fixture(scope="session")
def image_files(tmp_path_factory):
  """PNG shapes images of IMAGE_SIZES: [(path, uint8 pixels)]."""
  folder = tmp_path_factory.mktemp("images")
  rng = np.random.default_rng(7)
  files = []
  for index, (height, width) in enumerate(IMAGE_SIZES):
    square, _ = draw_image(max(height, width), rng)
    pixels = np.ascontiguousarray(square[:height, :width])
    path = folder / f"{index:06d}.png"
    Image.fromarray(pixels).save(path)
    files.append((str(path), pixels))
  return files


@pytest.fixture
def image_folder(image_files, tmp_path):
  """A folder with the test images, a corrupt PNG and a text file."""
  folder = tmp_path / "images"
  folder.mkdir()
  for path, _ in image_files:
    shutil.copy(path, folder)
  (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not a PNG")
  (folder / "notes.txt").write_text("not an image")
  return folder
