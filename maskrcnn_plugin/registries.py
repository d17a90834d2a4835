"""The plugin's registries, one per kind of Mask R-CNN component.

Each registry's kind is also the gin module of its factories, e.g.
`@backbones.resnet`, `decoders.fpn.num_filters = 128`. Installed packages can
add components through the entry-point group `maskrcnn_plugin` (see
`registry.entry_points`).

The built-in components import TensorFlow and Model Garden, so they register
on the first lookup in any registry (or `load_components()`), not when
`maskrcnn_plugin` is imported.
"""

import importlib
from typing import Tuple

from registry import Registry, UnknownNameError, did_you_mean, load_entry_points

PLUGIN_GROUP = "maskrcnn_plugin"
BUILTIN_MODULES = (
    "maskrcnn_plugin.modeling",
    "maskrcnn_plugin.dataloaders",
    "maskrcnn_plugin.training",
)


def load_components() -> None:
  """Registers the built-in components, then installed plugins (once each)."""
  for module in BUILTIN_MODULES:
    importlib.import_module(module)
  load_entry_points(PLUGIN_GROUP)


BACKBONES = Registry("backbones", loader=load_components)
DECODERS = Registry("decoders", loader=load_components)
RPN_HEADS = Registry("rpn_heads", loader=load_components)
DETECTION_HEADS = Registry("detection_heads", loader=load_components)
MASK_HEADS = Registry("mask_heads", loader=load_components)
ROI_GENERATORS = Registry("roi_generators", loader=load_components)
ROI_SAMPLERS = Registry("roi_samplers", loader=load_components)
ROI_ALIGNERS = Registry("roi_aligners", loader=load_components)
DETECTION_GENERATORS = Registry("detection_generators", loader=load_components)
MASK_SAMPLERS = Registry("mask_samplers", loader=load_components)
DATA_DECODERS = Registry("data_decoders", loader=load_components)
PARSERS = Registry("parsers", loader=load_components)
OPTIMIZERS = Registry("optimizers", loader=load_components)
LR_SCHEDULES = Registry("lr_schedules", loader=load_components)
STRATEGIES = Registry("strategies", loader=load_components)

ALL = {
    r.kind: r for r in (
        BACKBONES, DECODERS, RPN_HEADS, DETECTION_HEADS, MASK_HEADS, ROI_GENERATORS,
        ROI_SAMPLERS, ROI_ALIGNERS, DETECTION_GENERATORS, MASK_SAMPLERS, DATA_DECODERS,
        PARSERS, OPTIMIZERS, LR_SCHEDULES, STRATEGIES)
}

register_backbone = BACKBONES.register
register_decoder = DECODERS.register
register_rpn_head = RPN_HEADS.register
register_detection_head = DETECTION_HEADS.register
register_mask_head = MASK_HEADS.register
register_data_decoder = DATA_DECODERS.register
register_parser = PARSERS.register
register_optimizer = OPTIMIZERS.register
register_lr_schedule = LR_SCHEDULES.register


def get_registry(kind: str) -> Registry:
  """The registry named `kind`; an unknown kind raises with close matches."""
  if kind not in ALL:
    raise UnknownNameError(f"No registry named '{kind}'.{did_you_mean(kind, ALL)} "
                           f"Registries: {', '.join(sorted(ALL))}.")
  return ALL[kind]


def lookup(qualified_name: str) -> Tuple[Registry, str]:
  """Returns (registry, name) for 'kind.name', e.g. 'backbones.resnet'.

  Raises registry.UnknownNameError naming close matches for an unknown kind or
  name.
  """
  kind, _, name = qualified_name.partition(".")
  registry_ = get_registry(kind)
  if not name:
    raise UnknownNameError(f"'{qualified_name}' names a registry, not a component: use "
                           f"'{kind}.<name>' with one of: {', '.join(registry_.names())}.")
  registry_.get(name)  # raises with close matches when unknown
  return registry_, name
