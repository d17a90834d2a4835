"""Which checkpoint a run resumes from, and why a checkpoint does not fit a model.

A run killed at any moment leaves loadable checkpoints: TensorFlow writes a
checkpoint's files under temporary names, renames them, and only then points
model_dir/checkpoint at it. Files damaged afterwards (a disk error, a copy cut
short) are another matter: `newest_readable` skips them with a warning.
`mismatch` lists the variables of a checkpoint that do not fit a model (another
architecture or class count) instead of TensorFlow's first failing restore op.
"""

import os
from typing import Callable, Dict, Optional

import tensorflow as tf
# Public TensorFlow has no way to list the checkpoint keys an object would use
# (tf.train.list_variables reads them from a file): the object graph view that
# tf.train.Checkpoint itself uses is read here (present from TF 2.9 to 2.20).
from tensorflow.python.checkpoint import graph_view  # pylint: disable=g-direct-tensorflow-import
from tensorflow.python.trackable import trackable_utils  # pylint: disable=g-direct-tensorflow-import

from maskrcnn_plugin import errors
from maskrcnn_plugin.errors import UserError

VARIABLE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"


def unreadable(path: str) -> Optional[str]:
  """Why the checkpoint at `path` (a prefix) cannot be read, or None when it can.

  Every tensor is read, so a damaged data file is found, not only a bad index.
  """
  try:
    reader = tf.train.load_checkpoint(path)
    for name in reader.get_variable_to_shape_map():
      reader.get_tensor(name)
  # TensorFlow's reader raises IndexError for a data file cut short.
  except (tf.errors.OpError, ValueError, IndexError) as error:
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
        f"{_short(k)}: checkpoint {s.as_list()}, model {m.as_list()}"
        for k, s, m in shapes[:examples]) + (", ..." if len(shapes) > examples else "") + ")")
  for keys, what in ((missing, "model variables are not in the checkpoint"),
                     (extra, "checkpoint variables have no place in the model")):
    if keys:
      parts.append(f"{len(keys)} {what} (" + ", ".join(map(_short, keys[:examples])) +
                   (", ..." if len(keys) > examples else "") + ")")
  return "; ".join(parts) or None


def _short(key: str) -> str:
  return key[:-len(VARIABLE_SUFFIX)] if key.endswith(VARIABLE_SUFFIX) else key
