"""The plugin's registries, one per kind of Mask R-CNN component.

Each registry's kind is also the gin module of its factories, e.g.
`@backbones.resnet`, `decoders.fpn.num_filters = 128`. Installed packages can
add components through the entry-point group `maskrcnn_plugin` (see
`registry.entry_points`).
"""

from typing import Tuple

from registry import Registry, UnknownNameError, did_you_mean

PLUGIN_GROUP = "maskrcnn_plugin"

BACKBONES = Registry("backbones", plugin_group=PLUGIN_GROUP)
DECODERS = Registry("decoders", plugin_group=PLUGIN_GROUP)
RPN_HEADS = Registry("rpn_heads", plugin_group=PLUGIN_GROUP)
DETECTION_HEADS = Registry("detection_heads", plugin_group=PLUGIN_GROUP)
MASK_HEADS = Registry("mask_heads", plugin_group=PLUGIN_GROUP)
ROI_GENERATORS = Registry("roi_generators", plugin_group=PLUGIN_GROUP)
ROI_SAMPLERS = Registry("roi_samplers", plugin_group=PLUGIN_GROUP)
ROI_ALIGNERS = Registry("roi_aligners", plugin_group=PLUGIN_GROUP)
DETECTION_GENERATORS = Registry("detection_generators", plugin_group=PLUGIN_GROUP)
MASK_SAMPLERS = Registry("mask_samplers", plugin_group=PLUGIN_GROUP)
DATA_DECODERS = Registry("data_decoders", plugin_group=PLUGIN_GROUP)
PARSERS = Registry("parsers", plugin_group=PLUGIN_GROUP)
OPTIMIZERS = Registry("optimizers", plugin_group=PLUGIN_GROUP)
LR_SCHEDULES = Registry("lr_schedules", plugin_group=PLUGIN_GROUP)
STRATEGIES = Registry("strategies", plugin_group=PLUGIN_GROUP)

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
