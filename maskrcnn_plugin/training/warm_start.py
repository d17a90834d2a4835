"""Warm start: model parts read from another checkpoint when model_dir has none yet.

`checkpoints.warm_start` (its gin name) reads one of:

    # A Model Garden ImageNet backbone checkpoint (objects at the root: backbone/...):
    checkpoints.warm_start.checkpoint = '/models/resnet50_imagenet/ckpt-62400'
    checkpoints.warm_start.modules = ['backbone']
    # A Keras weights file (.h5) of the backbone, e.g. a Keras Applications one:
    checkpoints.warm_start.checkpoint = '/models/resnet50_notop.h5'
    # A whole Mask R-CNN from an earlier run (a folder reads its newest checkpoint):
    checkpoints.warm_start.checkpoint = 'runs/shapes_r18_cpu'
    checkpoints.warm_start.modules = ['all']

`modules` picks what is read: 'backbone', 'decoder', 'rpn_head',
'detection_head', 'mask_head', or 'all' (the whole model). When the class count
differs from the checkpoint's, the class-specific layers of Model Garden's heads
(`CLASS_SPECIFIC_LAYERS`: the box classifier, the box regressor and the mask
predictor) keep their fresh initialisation and everything else is restored; a
shape mismatch anywhere else, or a model variable the checkpoint lacks, is one
UserError naming the variables. The returned WarmStartReport says what was
restored, re-initialised and skipped; `WarmStartReport.write` lists every name
in model_dir/warm_start.txt. A folder's newest checkpoint and the message for
damaged files come from run_dir.
"""

import collections
import dataclasses
import os
from typing import Annotated, Dict, List, Optional, Sequence, Tuple

import gin
import tensorflow as tf

from maskrcnn_plugin import errors
from maskrcnn_plugin.errors import UserError
from maskrcnn_plugin.training import run_dir
from registry import Each, OneOf
from registry.constraints import constraint

WARM_START_MODULES = ("backbone", "decoder", "rpn_head", "detection_head", "mask_head")
# Layer names of Model Garden's DetectionHead (classifier, box regressor) and
# MaskHead (mask predictor): their output width is the class count.
CLASS_SPECIFIC_LAYERS = ("detection-scores", "detection-boxes", "mask-logits")
KERAS_WEIGHTS_SUFFIXES = (".h5", ".hdf5")
_SHOWN = 8


@dataclasses.dataclass
class WarmStartReport:
  """What a warm start read.

  Attributes:
    path: The checkpoint or weights file read.
    restored: {module: [checkpoint key or variable name]} of restored variables.
    reinitialized: [(key, checkpoint shape, model shape)] of class-specific
      variables left at their initialisation because the class count differs.
    skipped: Checkpoint keys that were not read (other modules, optimizer
      state, the step counter).
  """
  path: str
  restored: Dict[str, List[str]]
  reinitialized: List[Tuple[str, List[int], List[int]]] = dataclasses.field(default_factory=list)
  skipped: List[str] = dataclasses.field(default_factory=list)

  def summary(self) -> str:
    """A few lines for the training log: counts and the re-initialised variables."""
    counts = ", ".join(f"{module} {len(names)}" for module, names in self.restored.items())
    total = sum(len(names) for names in self.restored.values())
    lines = [f"Warm start from {self.path}: restored {total} variables ({counts})."]
    if self.reinitialized:
      shown = "; ".join(f"{_from_module(key)} {old} -> {new}"
                        for key, old, new in self.reinitialized)
      lines.append(f"  Re-initialised {len(self.reinitialized)} class-specific variables (the "
                   f"class count differs from the checkpoint's): {shown}.")
    if self.skipped:
      groups = collections.Counter(_group(key) for key in self.skipped)
      lines.append(f"  Skipped {len(self.skipped)} checkpoint values not warm-started: " +
                   ", ".join(f"{group} {count}" for group, count in sorted(groups.items())) + ".")
    return "\n".join(lines)

  def details(self) -> str:
    """Every restored, re-initialised and skipped name, one a line."""
    lines = [f"# Warm start from {self.path}"]
    for module, names in self.restored.items():
      lines += [f"restored {module} {name}" for name in names]
    lines += [f"reinitialized {key} checkpoint {old} model {new}"
              for key, old, new in self.reinitialized]
    lines += [f"skipped {key}" for key in self.skipped]
    return "\n".join(lines) + "\n"

  def write(self, model_dir: str) -> str:
    """Writes `details()` to model_dir/warm_start.txt; returns its path."""
    path = os.path.join(model_dir, run_dir.WARM_START_FILE)
    with tf.io.gfile.GFile(path, "w") as f:
      f.write(self.details())
    return path


@gin.configurable(module="checkpoints")
@constraint("checkpoints.warm_start")
def warm_start(model, checkpoint: Optional[str] = None,
               modules: Annotated[Sequence[str], Each(OneOf(*WARM_START_MODULES, "all"),
                                                      min_length=1)] = ("backbone",),
               ) -> Optional[WarmStartReport]:
  """Loads `modules` of `model` from `checkpoint`; returns a report, or None without one.

  Args:
    model: A built MaskRCNNModel.
    checkpoint: A checkpoint prefix, a folder (its newest checkpoint), or a
      Keras weights file (.h5) of the backbone; None does nothing.
    modules: Parts to read (WARM_START_MODULES), or ['all'].

  Raises:
    UserError: when the checkpoint is missing, cannot be read or does not fit
      the modules.
  """
  if not checkpoint:
    return None
  modules = list(WARM_START_MODULES) if list(modules) == ["all"] else list(modules)
  unknown = [m for m in modules if m not in WARM_START_MODULES]
  if unknown or not modules:
    raise UserError(f"checkpoints.warm_start.modules has {unknown or 'nothing'}; choose from "
                    f"{list(WARM_START_MODULES)} or ['all'].")
  if checkpoint.lower().endswith(KERAS_WEIGHTS_SUFFIXES):
    return _load_keras_weights(model, checkpoint, modules)
  path = run_dir.checkpoint_prefix(checkpoint)
  if path is None:
    raise UserError(f"checkpoints.warm_start.checkpoint '{checkpoint}' is not a checkpoint "
                    "(expected a prefix with a .index file, a folder holding one, or a Keras "
                    ".h5 weights file).")
  try:
    return _read_modules(model, path, modules)
  except run_dir.READ_ERRORS as error:
    damaged = run_dir.unreadable_error(path)
    if damaged is None:
      raise
    raise damaged from error


def _read_modules(model, path: str, modules: Sequence[str]) -> WarmStartReport:
  """Reads `modules` of `model` from checkpoint `path`, variable by variable.

  Raises:
    UserError: naming the variables that the checkpoint lacks or holds in
      another shape (other than the class-specific ones).
  """
  shapes = dict(tf.train.list_variables(path))
  parts = {m: getattr(model, m) for m in modules if getattr(model, m, None) is not None}
  if any(key.startswith("model/") for key in shapes):
    keys = _checkpoint_keys(model=model)  # A training checkpoint: model/...
  else:
    keys = _checkpoint_keys(**parts)  # A Model Garden backbone checkpoint: backbone/...
  class_specific = _class_specific_variables(model)
  reader = tf.train.load_checkpoint(path)
  report = WarmStartReport(path=path, restored={})
  missing, mismatched, seen, done = [], [], set(), set()
  for module, part in parts.items():
    for variable in _variables(part):
      key = keys.get(id(variable))
      if key is None or id(variable) in done:
        continue
      done.add(id(variable))
      name = run_dir.variable_path(key)
      if key not in shapes:
        missing.append(name)
        continue
      seen.add(key)
      old, new = list(shapes[key]), variable.shape.as_list()
      if old == new:
        variable.assign(tf.cast(reader.get_tensor(key), variable.dtype))
        report.restored.setdefault(module, []).append(name)
      elif id(variable) in class_specific and old[:-1] == new[:-1]:
        report.reinitialized.append((name, old, new))
      else:
        mismatched.append(f"{name} (checkpoint {old}, model {new})")
  if missing or mismatched:
    raise UserError(_mismatch_message(path, modules, missing, mismatched))
  report.skipped = sorted(run_dir.variable_path(key) for key in shapes
                          if key not in seen and key != "_CHECKPOINTABLE_OBJECT_GRAPH")
  return report


def _load_keras_weights(model, path: str, modules: Sequence[str]) -> WarmStartReport:
  """Loads a Keras weights file into the backbone (by layer order, as Keras saved it)."""
  if modules != ["backbone"]:
    raise UserError(f"checkpoints.warm_start.checkpoint '{path}' is a Keras weights file, which "
                    f"holds one Keras model: set checkpoints.warm_start.modules = ['backbone'] "
                    f"(got {modules}).")
  if not tf.io.gfile.exists(path):
    raise UserError(f"checkpoints.warm_start.checkpoint '{path}' does not exist.")
  try:
    model.backbone.load_weights(path)
  except (ValueError, OSError) as error:
    raise UserError(f"Warm start from Keras weights file '{path}' failed: "
                    f"{errors.first_line(error, 300)}. The file must hold the weights of "
                    "this backbone (same type, depth and width; Keras Applications files "
                    "without the top, '..._notop.h5').") from error
  return WarmStartReport(path=path, restored={
      "backbone": [v.name.split(":")[0] for v in model.backbone.variables]})


def _checkpoint_keys(**root) -> Dict[int, str]:
  """{id(variable): checkpoint key} for a `tf.train.Checkpoint(**root)`."""
  keys = run_dir.variable_keys(tf.train.Checkpoint(**root))
  return {id(variable): key for key, variable in keys.items()}


def _variables(part) -> List[tf.Variable]:
  parts = part if isinstance(part, (list, tuple)) else [part]
  return [v for p in parts for v in p.variables]


def _class_specific_variables(model) -> set:
  """ids of the variables of the heads' CLASS_SPECIFIC_LAYERS."""
  heads = list(_as_list(getattr(model, "detection_head", None)))
  heads += _as_list(getattr(model, "mask_head", None))
  return {id(v) for head in heads for layer in head.submodules
          if getattr(layer, "name", None) in CLASS_SPECIFIC_LAYERS for v in layer.variables}


def _as_list(value) -> list:
  if value is None:
    return []
  return list(value) if isinstance(value, (list, tuple)) else [value]


def _mismatch_message(path: str, modules: Sequence[str], missing: List[str],
                      mismatched: List[str]) -> str:
  parts = []
  if mismatched:
    parts.append(f"{len(mismatched)} variables have a different shape: " +
                 "; ".join(mismatched[:_SHOWN]) + (" ..." if len(mismatched) > _SHOWN else ""))
  if missing:
    parts.append(f"{len(missing)} model variables are not in the checkpoint: " +
                 ", ".join(missing[:_SHOWN]) + (" ..." if len(missing) > _SHOWN else ""))
  return (f"Warm start from '{path}' ({', '.join(modules)}) does not fit the model: "
          f"{'. '.join(parts)}. Only the class-specific layers "
          f"({', '.join(CLASS_SPECIFIC_LAYERS)}) may differ: use the backbone, decoder and head "
          "settings of the run that wrote the checkpoint, or warm start fewer parts "
          "(checkpoints.warm_start.modules).")


def _from_module(key: str) -> str:
  """A key from its module on: 'model/_config_dict/detection_head/x' -> 'detection_head/x'."""
  for module in WARM_START_MODULES:
    marker = f"{module}/"
    if marker in key:
      return key[key.index(marker):]
  return key


def _group(key: str) -> str:
  """Coarse group of a skipped checkpoint key, for the summary."""
  if key.startswith("optimizer/") or "/.OPTIMIZER_SLOT/" in key:
    return "optimizer state"
  if key.startswith(("global_step", "save_counter")):
    return "step counter"
  for module in WARM_START_MODULES:
    if f"{module}/" in key:
      return module
  return "other"
