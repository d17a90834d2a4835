"""The run folder (model_dir): its file names, its checkpoints, and reading them back.

A training run writes in model_dir:

    config.gin            the full gin config (`write_config`); config.previous.gin
                          keeps the one before when a resumed run's config differs
    operative_config.gin  the values gin actually used (`write_operative_config`)
    classes.json          the training data's class names (data/class_names.py)
    warm_start.txt        every variable a warm start read or skipped (warm_start.py)
    checkpoint, ckpt-N.*  `tf.train.Checkpoint(model=..., optimizer=..., global_step=...)`
                          written by `CheckpointManager`
    train/, eval/         TensorBoard summaries, eval/metrics_<step>.json

A run killed at any moment leaves loadable checkpoints: TensorFlow writes a
checkpoint's files under temporary names, renames them, and only then points
model_dir/checkpoint at it. Files damaged afterwards (a disk error, a copy cut
short) are another matter: `newest_readable` skips them with a warning.
`restore` reads a checkpoint into a model and, when that fails, says why in one
message: its files cannot be read, or which variables do not fit the model
(another architecture or class count), instead of TensorFlow's first failing
restore op.
"""

import difflib
import gc
import os
from typing import Callable, Dict, Optional, Tuple

import gin
import tensorflow as tf
# Public TensorFlow has no way to list the checkpoint keys an object would use
# (tf.train.list_variables reads them from a file): the object graph view that
# tf.train.Checkpoint itself uses is read here (present from TF 2.9 to 2.20).
from tensorflow.python.checkpoint import graph_view  # pylint: disable=g-direct-tensorflow-import
from tensorflow.python.trackable import trackable_utils  # pylint: disable=g-direct-tensorflow-import

from maskrcnn_plugin import errors
from maskrcnn_plugin.data import class_names
from maskrcnn_plugin.errors import UserError

CONFIG_FILE = "config.gin"
PREVIOUS_CONFIG_FILE = "config.previous.gin"
OPERATIVE_CONFIG_FILE = "operative_config.gin"
CLASS_NAMES_FILE = class_names.FILE_NAME  # The same name beside the data and in exports.
WARM_START_FILE = "warm_start.txt"
VARIABLE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
# What TensorFlow's checkpoint reader raises for damaged files (IndexError: a
# data file cut short).
READ_ERRORS = (tf.errors.OpError, ValueError, IndexError)


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
      tf.io.gfile.copy(path, os.path.join(model_dir, PREVIOUS_CONFIG_FILE), overwrite=True)
      note = ("This run resumes from a checkpoint made with a different gin config "
              f"(the old one is kept as {PREVIOUS_CONFIG_FILE}):\n" + "\n".join(shown))
  with tf.io.gfile.GFile(path, "w") as f:
    f.write(config)
  return note


def write_operative_config(model_dir: str) -> None:
  """Writes gin's operative config (the values actually used) to model_dir."""
  with tf.io.gfile.GFile(os.path.join(model_dir, OPERATIVE_CONFIG_FILE), "w") as f:
    f.write(gin.operative_config_str())


def exported_files(model_dir: str) -> Tuple[str, ...]:
  """The run's files that travel with an export, those that exist.

  They are config.gin, operative_config.gin and classes.json, in that order.
  """
  return tuple(path for path in (os.path.join(model_dir, name) for name in (
      CONFIG_FILE, OPERATIVE_CONFIG_FILE, CLASS_NAMES_FILE)) if tf.io.gfile.exists(path))


def checkpoint_prefix(path: str) -> Optional[str]:
  """The checkpoint `path` names, or None when it names none.

  A folder names its newest checkpoint (the one its `checkpoint` file lists);
  a prefix such as model_dir/ckpt-500 names itself when its .index file exists.
  """
  if tf.io.gfile.isdir(path):
    return tf.train.latest_checkpoint(path)
  return path if tf.io.gfile.exists(path + ".index") else None


def unreadable(path: str) -> Optional[str]:
  """Why the checkpoint at `path` (a prefix) cannot be read, or None when it can.

  Every tensor is read, so a damaged data file is found, not only a bad index.
  """
  try:
    reader = tf.train.load_checkpoint(path)
    for name in reader.get_variable_to_shape_map():
      reader.get_tensor(name)
  except READ_ERRORS as error:
    return errors.reason(error, 200)
  return None


def newest_readable(model_dir: str, printer: Callable[[str], None],
                    repoint: bool = True) -> Optional[str]:
  """The newest checkpoint of model_dir whose files can be read, or None if there is none.

  Unreadable newer ones are reported through `printer`; with `repoint`, the
  model_dir/checkpoint state is pointed at the one returned, so that the
  CheckpointManager (and Orbit, which restores through it) use it too.

  Raises:
    UserError: when model_dir lists checkpoints and none of them can be read.
  """
  state = tf.train.get_checkpoint_state(model_dir)  # paths made absolute
  if state is None or not state.model_checkpoint_path:
    return None
  listed = list(dict.fromkeys(list(state.all_model_checkpoint_paths) +
                              [state.model_checkpoint_path]))
  failures = []
  for path in sorted(listed, key=_number, reverse=True):
    reason = unreadable(path)
    if reason is not None:
      failures.append(f"{path}: {reason}")
      continue
    if failures:
      if repoint:
        # Relative names, as the CheckpointManager writes them.
        tf.compat.v1.train.update_checkpoint_state(
            model_dir, os.path.basename(path), all_model_checkpoint_paths=[
                os.path.basename(p) for p in listed if _number(p) <= _number(path)])
      printer(f"Warning: the newest checkpoint{'s' if len(failures) > 1 else ''} in "
              f"{model_dir} cannot be read ({'; '.join(failures)}); resuming from {path}.")
    return path
  raise UserError(f"No checkpoint in {model_dir} can be read ({'; '.join(failures)}). Move the "
                  "damaged files away, or start again with a new --model_dir.")


def _number(path: str) -> int:
  tail = path.rsplit("-", 1)[-1]
  return int(tail) if tail.isdigit() else -1


def variable_keys(root) -> Dict[str, tf.Variable]:
  """{checkpoint key: variable} of the variables `root` (a tf.train.Checkpoint) would save.

  Keys are those of tf.train.list_variables, e.g.
  'model/backbone/layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE'.
  """
  objects, paths = graph_view.ObjectGraphView(root).breadth_first_traversal()
  return {trackable_utils.object_path_to_string(paths[obj]) + VARIABLE_SUFFIX: obj
          for obj in objects if isinstance(obj, tf.Variable)}


def variable_path(key: str) -> str:
  """A checkpoint key without its VARIABLE_SUFFIX: 'model/backbone/.../kernel'."""
  return key[:-len(VARIABLE_SUFFIX)] if key.endswith(VARIABLE_SUFFIX) else key


def mismatch(root, path: str, prefix: str = "model/", examples: int = 3) -> Optional[str]:
  """Describes how the variables under `prefix` of `root` and checkpoint `path` differ.

  Returns:
    None when every variable is in both with one shape; else e.g. "2 variables
    differ in shape (model/decoder/...: checkpoint [64], model [32]; ...);
    10 model variables are not in the checkpoint (...)".
  """
  expected = {k: v.shape for k, v in variable_keys(root).items() if k.startswith(prefix)}
  saved = {k: tf.TensorShape(s) for k, s in tf.train.list_variables(path)
           if k.startswith(prefix) and k.endswith(VARIABLE_SUFFIX)}
  shapes = [(k, saved[k], s) for k, s in sorted(expected.items())
            if k in saved and saved[k] != s]
  missing = sorted(set(expected) - set(saved))
  extra = sorted(set(saved) - set(expected))
  parts = []
  if shapes:
    parts.append(f"{len(shapes)} variable{'s' * (len(shapes) > 1)} differ in shape (" + "; ".join(
        f"{variable_path(k)}: checkpoint {s.as_list()}, model {m.as_list()}"
        for k, s, m in shapes[:examples]) + (", ..." if len(shapes) > examples else "") + ")")
  for keys, what in ((missing, "model variables are not in the checkpoint"),
                     (extra, "checkpoint variables have no place in the model")):
    if keys:
      parts.append(f"{len(keys)} {what} (" + ", ".join(map(variable_path, keys[:examples])) +
                   (", ..." if len(keys) > examples else "") + ")")
  return "; ".join(parts) or None


def unreadable_error(path: str) -> Optional[UserError]:
  """The UserError "Checkpoint P cannot be read (why). ..." when the files of
  checkpoint `path` are damaged, else None."""
  reason = unreadable(path)
  if reason is None:
    return None
  return UserError(f"Checkpoint {path} cannot be read ({reason}). Pass another one, or "
                   "train again.")


def restore(root: tf.train.Checkpoint, path: str, *, partial: bool = False,
            config_file: Optional[str] = None) -> None:
  """Reads checkpoint `path` into `root`, or raises one UserError that says why it cannot.

  Args:
    root: What to read into, e.g. `tf.train.Checkpoint(model=..., optimizer=...)`;
      its `model/` variables are compared with the checkpoint's when they differ.
    path: A checkpoint prefix.
    partial: Whether the checkpoint may hold values `root` has no place for
      (the optimizer state, when evaluating or exporting).
    config_file: The gin file the model was built from when it is a run's saved
      config.gin (export, predict); None when it is the gin config of this
      command (train, eval).

  Raises:
    UserError: "Checkpoint P cannot be read (why). ..." when its files are
      damaged; "Checkpoint P does not match the model built from this gin
      config: 2 variables differ in shape (...)" (with `config_file`: "does not
      fit the model that F builds (...)") when it holds another model.
  """
  # A failed restore leaves objects that log "unrestored values" warnings when
  # they are freed; they are freed and collected here, quietly, so that the
  # error stays one message.
  logger = tf.get_logger()
  level = logger.level
  logger.setLevel("ERROR")
  try:
    failure = _read(root, path, partial)
  finally:
    gc.collect()
    logger.setLevel(level)
  if failure is None:
    return
  damaged = unreadable_error(path)
  if damaged:
    raise damaged
  details = mismatch(root, path) or failure
  if config_file is None:
    raise UserError(f"Checkpoint {path} does not match the model built from this gin config: "
                    f"{details}. Use the config it was trained with (model_dir/config.gin) or "
                    "a new --model_dir.")
  raise UserError(f"Checkpoint {path} does not fit the model that {config_file} builds "
                  f"({details}). Was config.gin edited after training?")


def _read(root: tf.train.Checkpoint, path: str, partial: bool) -> Optional[str]:
  """Restores `path` into `root`; the first line of the error when that fails, else None."""
  try:
    status = root.restore(path)
    if partial:
      status.expect_partial()
    status.assert_existing_objects_matched()
  except (AssertionError, *READ_ERRORS) as error:
    return errors.first_line(error, 300)
  return None


class CheckpointManager(tf.train.CheckpointManager):
  """A CheckpointManager whose failed save (disk full, folder gone) is one clear message.

  TensorFlow writes a checkpoint under temporary names and points
  model_dir/checkpoint at it only once it is complete, so after a failed save
  the newest checkpoint listed is still whole.
  """

  def save(self, *args, **kwargs):
    try:
      return super().save(*args, **kwargs)
    except (tf.errors.OpError, OSError) as error:
      raise UserError(
          f"Writing a checkpoint to {self.directory} failed ({errors.reason(error, 200)}). The "
          f"newest complete checkpoint is {self.latest_checkpoint or 'none'}: free disk space "
          "or fix the folder, then run the same command to resume from it.") from error
