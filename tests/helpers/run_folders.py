"""A folder as `maskrcnn train` leaves it (untrained model) and its `maskrcnn export`."""

import os

import gin

import maskrcnn_plugin  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow)
from maskrcnn_plugin.cli.main import main as cli_main


def write_model_dir(model_dir: str, *gin_params: str) -> str:
  """A folder as `maskrcnn train` leaves it: config.gin and a checkpoint of an untrained model.

  The model is the shapes demo config (128 px) with `gin_params`, seeded with 0.
  """
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


def export(model_dir: str, output: str, *flags: str) -> str:
  """Runs `maskrcnn export`; returns the SavedModel folder."""
  assert cli_main(["export", f"--model_dir={model_dir}", f"--output={output}", *flags]) == 0
  gin.clear_config()
  return output
