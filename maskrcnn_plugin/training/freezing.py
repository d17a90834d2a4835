"""Freezing parts of the backbone for fine-tuning, set in gin.

    freezing.freeze.backbone = True          # the whole backbone
    freezing.freeze.backbone_stages = 2      # or: the stem and the level-2 stage
    freezing.freeze.frozen_batch_norm = True # every backbone batch norm in inference mode

A frozen layer gets `trainable = False`: the trainer applies gradients only to
`model.trainable_variables`, so its weights stay as loaded, and Keras 2 runs a
non-trainable BatchNormalization in inference mode (moving statistics used and
not updated), like Detectron2's FrozenBatchNorm2d. `frozen_batch_norm` does
that for every batch norm of the backbone, which suits small per-replica
batches (1-4 images), whose batch statistics are too noisy.

Stages follow Detectron2's FREEZE_AT: stage 1 is the stem (layers whose
outputs have stride <= 2), stage N the layers up to level N (stride <= 2**N).
A layer's stride is read from its output shape in the backbone's functional
graph, so this works for Model Garden's and Keras Applications backbones and
for any functional user backbone.
"""

import dataclasses
from typing import Annotated, List, Optional

import gin

from maskrcnn_plugin.errors import UserError
from maskrcnn_plugin.keras_setup import model_garden_keras
from registry import Range
from registry.constraints import constraint


@dataclasses.dataclass
class FreezeReport:
  """What `freeze` froze: layer and variable counts, for the training log."""
  layers: int = 0
  variables: int = 0
  batch_norms: int = 0
  what: str = ""

  def summary(self) -> Optional[str]:
    """One line for the training log, or None when nothing is frozen."""
    if not self.what:
      return None
    if not self.layers:
      return f"Frozen: {self.batch_norms} backbone batch norms (inference mode, fixed gamma/beta)."
    return (f"Frozen: {self.what} ({self.layers} layers, {self.variables} variables); "
            f"{self.batch_norms} batch norms in inference mode.")


@gin.configurable(module="freezing")
@constraint("freezing.freeze")
def freeze(model, backbone: bool = False, backbone_stages: Annotated[int, Range(0, 10)] = 0,
           frozen_batch_norm: bool = False) -> FreezeReport:
  """Makes the chosen backbone layers non-trainable; returns what it froze.

  Args:
    model: A built MaskRCNNModel (its `backbone` is frozen).
    backbone: Freeze the whole backbone.
    backbone_stages: Freeze the stem and the stages up to this level (0: none;
      1: the stem; 2: the stem and level 2; ...). Needs a functional backbone.
    frozen_batch_norm: Run every batch norm of the backbone in inference mode
      with its gamma and beta fixed.

  Raises:
    UserError: for a backbone whose layers' strides cannot be read (a stage
      outside [0, 10] is a registry.ConstraintError).
  """
  report = FreezeReport()
  net = model.backbone
  if backbone:
    layers, report.what = [net], "the backbone"
  elif backbone_stages:
    layers = _layers_up_to_stride(net, 2**backbone_stages)
    report.what = ("the backbone stem" if backbone_stages == 1 else
                   f"the backbone stem and stages up to level {backbone_stages}")
  else:
    layers = []
  for layer in layers:
    layer.trainable = False
  report.layers = len(_flatten(layers))
  report.variables = len({id(v) for layer in layers for v in layer.variables})
  norms = _batch_norms(net)
  if frozen_batch_norm:
    for norm in norms:
      norm.trainable = False
    report.what = report.what or "backbone batch norms"
  report.batch_norms = sum(not norm.trainable for norm in norms)
  return report


def _layers_up_to_stride(net, max_stride: int) -> list:
  """The top-level layers of a functional backbone whose output stride is <= max_stride."""
  inputs = getattr(net, "inputs", None)
  height = inputs[0].shape[1] if inputs else None
  if not getattr(net, "_is_graph_network", False) or not height:
    raise UserError(
        f"freezing.freeze.backbone_stages needs a functional backbone built for a static image "
        f"size; {type(net).__name__} is not one: use freezing.freeze.backbone = True, or set "
        f"`trainable = False` on its layers in its factory.")
  chosen = []
  for layer in net.layers:
    if not layer.weights:
      continue
    outputs = [t for t in _flat(layer.output) if t.shape.rank == 4 and t.shape[1]]
    if outputs and all(height / t.shape[1] <= max_stride for t in outputs):
      chosen.append(layer)
  return chosen


def _flat(value) -> list:
  if isinstance(value, dict):
    return [t for v in value.values() for t in _flat(v)]
  if isinstance(value, (list, tuple)):
    return [t for v in value for t in _flat(v)]
  return [value]


def _flatten(layers) -> List:
  """The layers and all their sublayers."""
  found = {}
  for layer in layers:
    for sub in [layer] + list(layer.submodules):
      if hasattr(sub, "trainable_weights"):
        found[id(sub)] = sub
  return list(found.values())


def _batch_norms(net) -> list:
  keras = model_garden_keras()
  return [layer for layer in _flatten([net])
          if isinstance(layer, keras.layers.BatchNormalization)]
