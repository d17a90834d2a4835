"""The registered Mask R-CNN parser: Model Garden's, configured from gin.

    parsers.maskrcnn.output_size = %IMAGE_SIZE
    train/parsers.maskrcnn.aug_scale_min = 0.8

Anchors come from `maskrcnn.AnchorSettings`, the settings the model uses, so
RPN targets are labelled on the anchors the model generates.
"""

from typing import Annotated, Optional, Sequence

from official.vision.dataloaders import maskrcnn_input

from maskrcnn_plugin.errors import UserError
from maskrcnn_plugin.modeling.anchors import AnchorSettings
from maskrcnn_plugin.params import (Fraction, ImageSize, IoU, OpenFraction, Positive, PositiveInt,
                                    ScaleAtLeastOne)
from maskrcnn_plugin.registries import PARSERS
from registry import OneOf


@PARSERS.register("maskrcnn")
def maskrcnn(output_size: ImageSize = (1024, 1024),
             anchors: Optional[AnchorSettings] = None,
             rpn_match_threshold: IoU = 0.7,
             rpn_unmatched_threshold: IoU = 0.3,
             rpn_batch_size_per_im: PositiveInt = 256,
             rpn_fg_fraction: OpenFraction = 0.5,
             aug_rand_hflip: bool = True,
             aug_scale_min: Positive = 1.0,
             aug_scale_max: Positive = 1.0,
             skip_crowd_during_training: bool = True,
             max_num_instances: PositiveInt = 100,
             include_mask: bool = True,
             outer_boxes_scale: ScaleAtLeastOne = 1.0,
             mask_crop_size: PositiveInt = 112,
             dtype: Annotated[str, OneOf("float32", "bfloat16", "float16")] = "float32",
             ) -> maskrcnn_input.Parser:
  """Model Garden's `maskrcnn_input.Parser` (the pipeline calls `parse_fn`).

  Args:
    output_size: [height, width] of the network input; each must be a
      multiple of 2**max_level (base/data.gin binds %IMAGE_SIZE).
    anchors: Anchor settings; default `maskrcnn.AnchorSettings()` from gin.
    rpn_match_threshold, rpn_unmatched_threshold: IoU above which an anchor is
      foreground, below which background.
    rpn_batch_size_per_im, rpn_fg_fraction: RPN anchors sampled per image and
      their foreground fraction.
    aug_rand_hflip: Random horizontal flips (training only).
    aug_scale_min, aug_scale_max: Scale jitter range (training only).
    skip_crowd_during_training: Drop crowd instances from training targets.
    max_num_instances: Ground truth is padded/clipped to this many instances.
    include_mask: Produce mask targets (must match the decoder's include_mask).
    outer_boxes_scale: Scale (>= 1) of the boxes masks are cropped with.
    mask_crop_size: Size of the ground-truth mask crops.
    dtype: Image dtype: 'float32', 'bfloat16' or 'float16'.
  """
  anchors = anchors or AnchorSettings()
  size = [int(s) for s in output_size]
  stride = 2 ** anchors.max_level
  if len(size) != 2 or any(s % stride for s in size):
    raise UserError(f"parsers.maskrcnn.output_size must be [height, width] with multiples "
                     f"of 2**max_level = {stride}, got {list(output_size)}.")
  for low, high, (low_name, high_name) in (
      (rpn_unmatched_threshold, rpn_match_threshold,
       ("rpn_unmatched_threshold", "rpn_match_threshold")),
      (aug_scale_min, aug_scale_max, ("aug_scale_min", "aug_scale_max"))):
    if low > high:
      raise UserError(f"parsers.maskrcnn.{low_name} = {low:g} is above parsers.maskrcnn."
                      f"{high_name} = {high:g}: use {low_name} <= {high_name}.")
  return maskrcnn_input.Parser(
      output_size=size,
      min_level=anchors.min_level,
      max_level=anchors.max_level,
      num_scales=anchors.num_scales,
      aspect_ratios=list(anchors.aspect_ratios),
      anchor_size=anchors.anchor_size,
      rpn_match_threshold=rpn_match_threshold,
      rpn_unmatched_threshold=rpn_unmatched_threshold,
      rpn_batch_size_per_im=rpn_batch_size_per_im,
      rpn_fg_fraction=rpn_fg_fraction,
      aug_rand_hflip=aug_rand_hflip,
      aug_scale_min=aug_scale_min,
      aug_scale_max=aug_scale_max,
      skip_crowd_during_training=skip_crowd_during_training,
      max_num_instances=max_num_instances,
      include_mask=include_mask,
      outer_boxes_scale=outer_boxes_scale,
      mask_crop_size=mask_crop_size,
      dtype=dtype)
