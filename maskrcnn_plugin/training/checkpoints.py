"""Checkpoint helpers: warm start of model parts and the run's gin config files.

    warm_start.checkpoint = '/models/resnet18_imagenet'   # file prefix or folder
    warm_start.modules = ['backbone']                     # or ['backbone', 'decoder']

Training checkpoints are `tf.train.Checkpoint(model=..., optimizer=...,
global_step=...)` written by a tf.train.CheckpointManager in model_dir.
"""

import difflib
import os
from typing import Optional, Sequence

import gin
import tensorflow as tf

from maskrcnn_plugin.errors import UserError

CONFIG_FILE = "config.gin"
OPERATIVE_CONFIG_FILE = "operative_config.gin"
WARM_START_MODULES = ("backbone", "decoder")


@gin.configurable(module="checkpoints")
def warm_start(model, checkpoint: Optional[str] = None,
               modules: Sequence[str] = ("backbone",)) -> Optional[str]:
  """Loads `modules` of `model` from `checkpoint`; returns the path read, or None.

  Accepts Model Garden's backbone checkpoints (objects at the root:
  `backbone/...`) and this plugin's or Model Garden's training checkpoints
  (`model/backbone/...`).

  Raises:
    UserError: when the checkpoint is missing or does not match the modules.
  """
  if not checkpoint:
    return None
  unknown = [m for m in modules if m not in WARM_START_MODULES]
  if unknown:
    raise UserError(f"checkpoints.warm_start.modules has {unknown}; choose from "
                    f"{list(WARM_START_MODULES)}.")
  path = tf.train.latest_checkpoint(checkpoint) if tf.io.gfile.isdir(checkpoint) else checkpoint
  if not path or not tf.io.gfile.glob(path + ".index"):
    raise UserError(f"checkpoints.warm_start.checkpoint '{checkpoint}' is not a checkpoint "
                    "(expected a prefix with a .index file, or a folder holding one).")
  keys = [name for name, _ in tf.train.list_variables(path)]
  parts = {module: getattr(model, module) for module in modules}
  if any(key.startswith("model/") for key in keys):
    reader = tf.train.Checkpoint(model=tf.train.Checkpoint(**parts))
  else:
    reader = tf.train.Checkpoint(**parts)
  try:
    reader.read(path).expect_partial().assert_existing_objects_matched()
  except AssertionError as error:
    raise UserError(f"Warm start from '{path}' failed: its {', '.join(modules)} variables do "
                    f"not match the model's ({str(error).splitlines()[0]}). Check that the "
                    "backbone settings (type, depth, width) are those of the checkpoint.") from error
  return path


def write_config(model_dir: str, config: str, *, resumed: bool, max_lines: int = 40) -> str:
  """Writes `config` to model_dir/config.gin; returns a diff note for a resumed run.

  When a resumed run's config differs from the saved one, the old file is kept
  as config.previous.gin and the returned note holds a short unified diff.
  """
  path = os.path.join(model_dir, CONFIG_FILE)
  note = ""
  if resumed and tf.io.gfile.exists(path):
    with tf.io.gfile.GFile(path) as f:
      previous = f.read()
    if previous != config:
      diff = list(difflib.unified_diff(previous.splitlines(), config.splitlines(),
                                       "saved config.gin", "this run", lineterm="", n=0))
      shown = diff[:max_lines] + ([f"... ({len(diff) - max_lines} more lines)"]
                                  if len(diff) > max_lines else [])
      tf.io.gfile.copy(path, os.path.join(model_dir, "config.previous.gin"), overwrite=True)
      note = ("This run resumes from a checkpoint made with a different gin config "
              "(the old one is kept as config.previous.gin):\n" + "\n".join(shown))
  with tf.io.gfile.GFile(path, "w") as f:
    f.write(config)
  return note


def write_operative_config(model_dir: str) -> None:
  """Writes gin's operative config (the values actually used) to model_dir."""
  with tf.io.gfile.GFile(os.path.join(model_dir, OPERATIVE_CONFIG_FILE), "w") as f:
    f.write(gin.operative_config_str())
