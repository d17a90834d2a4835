"""Shared fixtures: a training folder with an untrained shapes model, its
SavedModel, and image files of several sizes.

Building and exporting take tens of seconds on 2 cores, so they are session
scoped; tests must not change them.
"""

import os
import shutil

import gin
import numpy as np
from PIL import Image
import pytest

import maskrcnn_plugin  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow)
from maskrcnn_plugin.cli.main import main as cli_main
from maskrcnn_plugin.data.shapes import draw_image

# Sizes (height, width) of the test images: square, wide, tall and larger than
# the 128 px the model is built for, so resizing and padding are exercised.
IMAGE_SIZES = ((128, 128), (96, 160), (150, 100), (200, 240))


def write_model_dir(model_dir: str, *gin_params: str) -> str:
  """A folder as `maskrcnn train` leaves it: config.gin and a checkpoint of an untrained model."""
  # pylint: disable=import-outside-toplevel
  import tensorflow as tf
  import maskrcnn_plugin.dataloaders  # noqa: F401
  import maskrcnn_plugin.training  # noqa: F401
  from maskrcnn_plugin.gin_config import parse_gin
  from maskrcnn_plugin.keras_setup import model_garden_keras
  from maskrcnn_plugin.modeling import build_from_gin

  parse_gin(["maskrcnn_shapes_r18_cpu"], list(gin_params))
  model_garden_keras().utils.set_random_seed(0)
  model = build_from_gin()
  os.makedirs(model_dir, exist_ok=True)
  with open(os.path.join(model_dir, "config.gin"), "w", encoding="utf-8") as file:
    file.write(gin.config_str())
  checkpoint = tf.train.Checkpoint(model=model, global_step=tf.Variable(0, dtype=tf.int64))
  tf.train.CheckpointManager(checkpoint, model_dir, max_to_keep=1).save()
  gin.clear_config()
  return model_dir


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


def export(model_dir: str, output: str, *flags: str) -> str:
  """Runs `maskrcnn export`; returns the SavedModel folder."""
  assert cli_main(["export", f"--model_dir={model_dir}", f"--output={output}", *flags]) == 0
  gin.clear_config()
  return output


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
