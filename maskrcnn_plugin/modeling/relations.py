"""Relations between the parts of one Mask R-CNN, checked when it is assembled.

Each part's own ranges are declared in its signature (`maskrcnn_plugin.params`);
what no single part can check is whether they fit together. `check_relations`
raises one GinConfigError naming the bindings on both sides, for settings
that would fail in training or silently waste or distort it:

- the mask sampler asks for more masks than the ROI sampler keeps foreground
  ROIs (the extra slots get background ROIs with a zero mask loss);
- the proposal generator keeps more proposals after NMS than there are boxes
  before it (the rest are zero boxes);
- the training parser's output size differs from the model's image size;
  its mask crops are smaller than the mask targets (blurred targets); it
  makes no masks for a model with a mask head; or its outer-box scale differs
  from the model's (parser settings are compared where gin binds them);
- the training input's class count differs from the model's.

The backbone's levels against the anchor levels, and the image size against
the largest stride, are checked by `contract.py` and `build_maskrcnn`; the
ordering of one sampler's IoU thresholds by `roi_layers.roi_sampler`.
"""

import math
from typing import Any, Mapping, Sequence

import gin

from maskrcnn_plugin.errors import GinConfigError
from maskrcnn_plugin.gin_config import bound_value

_PARSER = "parsers.maskrcnn"


def check_relations(model: Any, names: Mapping[str, str], image_size: Sequence[int],
                    num_anchors_per_location: int, num_classes: int) -> None:
  """Checks that the assembled parts of `model` and the training parser fit together.

  Args:
    model: The assembled MaskRCNNModel (before its first call).
    names: {role: gin name} of its parts, e.g. {"roi_sampler": "roi_samplers.roi_sampler"}.
    image_size: [height, width] of the model's input.
    num_anchors_per_location: Anchors at each location of every level.
    num_classes: The model's classes including background.

  Raises:
    GinConfigError: for the first relation that does not hold.
  """
  config = model.get_config()
  _check_proposals(_config(model.roi_generator), names.get("roi_generator", "roi_generator"),
                   image_size, config["min_level"], config["max_level"],
                   num_anchors_per_location)
  sampler = _config(model.roi_sampler[0])
  sampler_name = names.get("roi_sampler", "roi_sampler")
  mask_target_size = None
  if model.mask_sampler is not None:
    masks = _config(model.mask_sampler)
    mask_target_size = masks.get("mask_target_size")
    foreground = int(sampler["num_sampled_rois"] * sampler["foreground_fraction"])
    if masks.get("num_sampled_masks", 0) > foreground and not sampler.get("skip_subsampling"):
      raise GinConfigError(
          f"{names.get('mask_sampler', 'mask_sampler')}.num_sampled_masks = "
          f"{masks['num_sampled_masks']} is more than the foreground ROIs the ROI sampler keeps "
          f"per image ({sampler_name}.num_sampled_rois {sampler['num_sampled_rois']} x "
          f"foreground_fraction {sampler['foreground_fraction']:g} = {foreground}): the extra "
          f"mask slots would hold background ROIs with no mask loss. Use num_sampled_masks <= "
          f"{foreground}, or sample more foreground ROIs.")
  _check_parser(image_size, mask_target_size, float(config.get("outer_boxes_scale", 1.0)))
  _check_data_classes(num_classes)


def _config(layer: Any) -> Mapping[str, Any]:
  try:
    return layer.get_config()
  except (AttributeError, NotImplementedError):
    return {}


def _check_proposals(generator: Mapping[str, Any], name: str, image_size: Sequence[int],
                     min_level: int, max_level: int, anchors_per_location: int) -> None:
  """Proposals kept after NMS must not outnumber the boxes kept before it (per image)."""
  height, width = image_size
  anchors = [math.ceil(height / 2**level) * math.ceil(width / 2**level) * anchors_per_location
             for level in range(min_level, max_level + 1)]
  for prefix, when in (("", "training"), ("test_", "inference")):
    top_k = generator.get(f"{prefix}pre_nms_top_k")
    proposals = generator.get(f"{prefix}num_proposals")
    if top_k is None or proposals is None:
      continue
    before = sum(min(top_k, count) for count in anchors)
    if proposals > before:
      raise GinConfigError(
          f"{name}.{prefix}num_proposals = {proposals} is more than the boxes kept before NMS "
          f"in {when} ({name}.{prefix}pre_nms_top_k = {top_k} per level over levels "
          f"{min_level}..{max_level} of {height}x{width} images: {before} boxes); the other "
          f"proposals would be zero boxes. Use {prefix}num_proposals <= {before}, or raise "
          f"{prefix}pre_nms_top_k.")


def _check_data_classes(num_classes: int) -> None:
  """The training input's class count (its label check) must be the model's."""
  for key in ("train/data.input_pipeline.num_classes", "data.input_pipeline.num_classes"):
    data_classes = bound_value(key)
    if data_classes is None:
      continue
    if data_classes != num_classes:
      raise GinConfigError(
          f"{key} = {data_classes} differs from maskrcnn.build_maskrcnn.num_classes = "
          f"{num_classes}: records with class ids the model has no output for would pass the "
          f"input check. Bind both to %NUM_CLASSES.")
    return


def _parser_value(parameter: str) -> Any:
  """The training parser's value of `parameter` bound in gin (scope train, else none), or None.

  Unbound parser settings are not compared: a config without data settings
  (one that only builds the model) has nothing to disagree with.
  """
  for key in (f"train/{_PARSER}.{parameter}", f"{_PARSER}.{parameter}"):
    value = bound_value(key)
    if value is not None:
      return value
  return None


def _uses_builtin_parser() -> bool:
  """Whether training parses with parsers.maskrcnn (the default of data.input_pipeline)."""
  for key in ("train/data.input_pipeline.parser", "data.input_pipeline.parser"):
    try:
      value = gin.query_parameter(key)
    except ValueError:
      continue
    selector = getattr(value, "selector", None)
    return selector in (_PARSER, "maskrcnn") or value is None
  return True


def _check_parser(image_size: Sequence[int], mask_target_size: Any,
                  outer_boxes_scale: float) -> None:
  """The training parser's images and targets must be what the model is built for."""
  if not _uses_builtin_parser():
    return
  output_size = _parser_value("output_size")
  if output_size is not None and [int(s) for s in output_size] != [int(s) for s in image_size]:
    raise GinConfigError(
        f"{_PARSER}.output_size = {list(output_size)} differs from maskrcnn.build_maskrcnn."
        f"image_size = {list(image_size)}: training images would not have the size the model "
        f"and its anchors are built for. Bind both to %IMAGE_SIZE.")
  if mask_target_size is None:
    return
  if _parser_value("include_mask") is False:
    raise GinConfigError(
        f"{_PARSER}.include_mask = False, but the model has a mask head "
        f"(maskrcnn.build_maskrcnn.include_mask = True): training would have no mask targets. "
        f"Set both to the same value.")
  crop = _parser_value("mask_crop_size")
  if crop is not None and crop < mask_target_size:
    raise GinConfigError(
        f"{_PARSER}.mask_crop_size = {crop} is smaller than the mask targets "
        f"({mask_target_size}x{mask_target_size}: the mask ROI aligner's crop_size x the mask "
        f"head's upsample_factor): the targets would be upsampled from coarser crops. Use "
        f"mask_crop_size >= {mask_target_size} (Model Garden uses 112 for 28).")
  parser_scale = _parser_value("outer_boxes_scale")
  if parser_scale is not None and float(parser_scale) != outer_boxes_scale:
    raise GinConfigError(
        f"{_PARSER}.outer_boxes_scale = {parser_scale:g} differs from maskrcnn.build_maskrcnn."
        f"outer_boxes_scale = {outer_boxes_scale:g}: the mask targets would be cropped with "
        f"other boxes than the mask head sees. Bind both to the same value.")
