"""Rebuilding a trained model from its training folder (model_dir).

A training run leaves in model_dir its full gin config (`config.gin`), the
operative config (`operative_config.gin`) and `tf.train.Checkpoint(model=...,
optimizer=..., global_step=...)` checkpoints managed by a CheckpointManager.
`restore_run` parses config.gin, builds the model with
`maskrcnn.build_maskrcnn` and reads the checkpoint's `model` (the optimizer
slots are not needed for inference).
"""

import dataclasses
import gc
import os
from typing import Optional, Tuple

import gin
import tensorflow as tf

from maskrcnn_plugin import errors
from maskrcnn_plugin.data import class_names
from maskrcnn_plugin.errors import UserError
from maskrcnn_plugin.gin_config import parse_gin

CONFIG_FILE = "config.gin"
OPERATIVE_CONFIG_FILE = "operative_config.gin"
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
  if checkpoint is None:
    found = tf.train.latest_checkpoint(model_dir)
    if found is None:
      raise CheckpointNotFoundError(
          f"No checkpoint in model_dir {model_dir}: it has no 'checkpoint' file written by "
          "`maskrcnn train`. Train first, wait for the first checkpoint, or pass "
          "--checkpoint=PATH.")
    return found
  if tf.io.gfile.isdir(checkpoint):
    found = tf.train.latest_checkpoint(checkpoint)
    if found is None:
      raise CheckpointNotFoundError(f"--checkpoint folder {checkpoint} holds no checkpoint.")
    return found
  if not tf.io.gfile.exists(checkpoint + ".index"):
    raise CheckpointNotFoundError(
        f"--checkpoint {checkpoint} is not a checkpoint: {checkpoint}.index does not exist. "
        "Give a prefix such as MODEL_DIR/ckpt-1000 (without .index) or a folder.")
  return checkpoint


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
    UserError: the checkpoint does not fit the model config.gin builds.
  """
  # pylint: disable=import-outside-toplevel,unused-import
  # Importing these registers every configurable a run's config.gin names.
  import maskrcnn_plugin.dataloaders  # noqa: F401
  import maskrcnn_plugin.training  # noqa: F401
  from maskrcnn_plugin.modeling import build_from_gin
  from maskrcnn_plugin.modeling.precision import policy_scope
  if not tf.io.gfile.isdir(model_dir):
    raise ModelNotFoundError(f"--model_dir {model_dir} does not exist.")
  config_path = os.path.join(model_dir, CONFIG_FILE)
  if not tf.io.gfile.exists(config_path):
    raise ModelNotFoundError(
        f"--model_dir {model_dir} has no {CONFIG_FILE}: it is not a folder written by "
        "`maskrcnn train`.")
  checkpoint = find_checkpoint(model_dir, checkpoint)
  parse_gin([config_path])
  image_size = _bound_image_size()
  with policy_scope(precision):
    model = build_from_gin()
  mismatch = _read_model_weights(model, checkpoint)
  if mismatch:
    raise UserError(
        f"Checkpoint {checkpoint} does not fit the model that {config_path} builds "
        f"({mismatch}). Was config.gin edited after training?")
  config_files = tuple(p for p in (config_path, os.path.join(model_dir, OPERATIVE_CONFIG_FILE),
                                   os.path.join(model_dir, class_names.FILE_NAME))
                       if tf.io.gfile.exists(p))
  return RestoredRun(model=model, image_size=image_size, checkpoint=checkpoint,
                     config_files=config_files)


def _read_model_weights(model, checkpoint: str) -> Optional[str]:
  """Reads the checkpoint's `model` into `model`; returns why it does not fit, or None."""
  # A failed restore leaves objects that log "unrestored values" warnings when
  # they are freed; they are freed and collected here, quietly, so that the
  # error stays one message.
  logger = tf.get_logger()
  level = logger.level
  logger.setLevel("ERROR")
  try:
    return _read(model, checkpoint)
  finally:
    gc.collect()
    logger.setLevel(level)


def _read(model, checkpoint: str) -> Optional[str]:
  # pylint: disable=import-outside-toplevel
  from maskrcnn_plugin.training import resume
  root = tf.train.Checkpoint(model=model)
  try:
    root.read(checkpoint).expect_partial().assert_existing_objects_matched()
  # IndexError: TensorFlow's checkpoint reader on a data file cut short.
  except (AssertionError, ValueError, tf.errors.OpError, IndexError) as error:
    reason = resume.unreadable(checkpoint)
    if reason:
      return f"its files cannot be read: {reason}"
    return resume.mismatch(root, checkpoint) or errors.first_line(error)
  return None


def _bound_image_size() -> Tuple[int, int]:
  """The image size gin gives build_maskrcnn, following macros (`%IMAGE_SIZE`)."""
  value = gin.query_parameter(_IMAGE_SIZE_BINDING)
  while isinstance(value, gin.config.ConfigurableReference) and str(value).startswith("%"):
    value = gin.query_parameter(str(value))
  height, width = (int(side) for side in value)
  return height, width
