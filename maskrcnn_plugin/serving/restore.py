"""Rebuilding a trained model from its training folder (model_dir).

A training run leaves in model_dir its full gin config (`config.gin`), the
operative config (`operative_config.gin`) and `tf.train.Checkpoint(model=...,
optimizer=..., global_step=...)` checkpoints managed by a CheckpointManager
(training/run_dir.py describes the folder). `restore_run` parses config.gin,
builds the model with `maskrcnn.build_maskrcnn` and reads the checkpoint's
`model` (the optimizer slots are not needed for inference).
"""

import dataclasses
import os
from typing import Optional, Tuple

import tensorflow as tf

from maskrcnn_plugin.errors import UserError
from maskrcnn_plugin.gin_config import bound_value, parse_gin

_IMAGE_SIZE_BINDING = "maskrcnn.build_maskrcnn.image_size"


class ModelNotFoundError(UserError):
  """A model folder (training run or SavedModel) is missing or incomplete."""


class CheckpointNotFoundError(UserError):
  """A training folder has no checkpoint, or --checkpoint names none."""


@dataclasses.dataclass(frozen=True)
class RestoredRun:
  """A model rebuilt from a training folder with its checkpoint's weights.

  Attributes:
    model: The built MaskRCNNModel with restored weights.
    image_size: (height, width) the model was built for.
    checkpoint: Path prefix of the checkpoint that was read.
    config_files: The run's files that travel with an export, those that exist:
      config.gin, operative_config.gin and classes.json (the class names).
  """
  model: object
  image_size: Tuple[int, int]
  checkpoint: str
  config_files: Tuple[str, ...]


def find_checkpoint(model_dir: str, checkpoint: Optional[str] = None) -> str:
  """The checkpoint to read: `checkpoint` if given, else the newest in model_dir.

  Args:
    model_dir: The training folder.
    checkpoint: A checkpoint path prefix (`model_dir/ckpt-500`) or a folder
      holding a CheckpointManager's checkpoints, or None.

  Raises:
    CheckpointNotFoundError: naming the folder or prefix and what to do.
  """
  from maskrcnn_plugin.training import run_dir  # pylint: disable=import-outside-toplevel
  found = run_dir.checkpoint_prefix(model_dir if checkpoint is None else checkpoint)
  if found is not None:
    return found
  if checkpoint is None:
    raise CheckpointNotFoundError(
        f"No checkpoint in model_dir {model_dir}: it has no 'checkpoint' file written by "
        "`maskrcnn train`. Train first, wait for the first checkpoint, or pass "
        "--checkpoint=PATH.")
  if tf.io.gfile.isdir(checkpoint):
    raise CheckpointNotFoundError(f"--checkpoint folder {checkpoint} holds no checkpoint.")
  raise CheckpointNotFoundError(
      f"--checkpoint {checkpoint} is not a checkpoint: {checkpoint}.index does not exist. "
      "Give a prefix such as MODEL_DIR/ckpt-1000 (without .index) or a folder.")


def restore_run(model_dir: str, checkpoint: Optional[str] = None, *,
                precision: str = "float32") -> RestoredRun:
  """Builds the model of a training run and reads its checkpoint.

  Args:
    model_dir: The training folder with config.gin and checkpoints.
    checkpoint: See `find_checkpoint`.
    precision: Keras policy the model is built with ('float32',
      'mixed_bfloat16', 'mixed_float16'); its variables are float32 either
      way, so any run's checkpoint reads into it.

  Raises:
    ModelNotFoundError: model_dir or its config.gin is missing.
    CheckpointNotFoundError: there is no checkpoint to read.
    UserError: the checkpoint cannot be read, or does not fit the model
      config.gin builds.
  """
  # pylint: disable=import-outside-toplevel,unused-import
  # Importing these registers every configurable a run's config.gin names (and
  # costs start-up time, which a SavedModel's predict does not pay).
  import maskrcnn_plugin.dataloaders  # noqa: F401
  import maskrcnn_plugin.training  # noqa: F401
  from maskrcnn_plugin.modeling import build_from_gin
  from maskrcnn_plugin.modeling.precision import policy_scope
  from maskrcnn_plugin.training import run_dir
  if not tf.io.gfile.isdir(model_dir):
    raise ModelNotFoundError(f"--model_dir {model_dir} does not exist.")
  config_path = os.path.join(model_dir, run_dir.CONFIG_FILE)
  if not tf.io.gfile.exists(config_path):
    raise ModelNotFoundError(
        f"--model_dir {model_dir} has no {run_dir.CONFIG_FILE}: it is not a folder written by "
        "`maskrcnn train`.")
  checkpoint = find_checkpoint(model_dir, checkpoint)
  parse_gin([config_path])
  image_size = _bound_image_size()
  with policy_scope(precision):
    model = build_from_gin()
  # The optimizer slots are not needed for inference.
  run_dir.restore(tf.train.Checkpoint(model=model), checkpoint, partial=True,
                  config_file=config_path)
  return RestoredRun(model=model, image_size=image_size, checkpoint=checkpoint,
                     config_files=run_dir.exported_files(model_dir))


def _bound_image_size() -> Tuple[int, int]:
  """The image size gin gives build_maskrcnn, macros (`%IMAGE_SIZE`) followed."""
  height, width = (int(side) for side in bound_value(_IMAGE_SIZE_BINDING))
  return height, width
