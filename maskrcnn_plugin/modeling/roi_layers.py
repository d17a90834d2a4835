"""Built-in ROI layers: Model Garden's proposal, sampling, align, NMS layers.

Defaults are those of Model Garden's Mask R-CNN config
(`official.vision.configs.maskrcnn`). The ROI aligner registry holds two
factories, as Model Garden's config has two aligners: the box head's
(`multilevel_roi_aligner`, 7x7 crops) and the mask head's
(`multilevel_mask_roi_aligner`, 14x14 crops). Each factory passes its
arguments to the layer it names (`layer_factory.passes_arguments`).
"""

import functools
from typing import Annotated

from official.vision.modeling.layers import detection_generator as mg_detection_generator
from official.vision.modeling.layers import mask_sampler as mg_mask_sampler
from official.vision.modeling.layers import roi_aligner as mg_roi_aligner
from official.vision.modeling.layers import roi_generator as mg_roi_generator
from official.vision.modeling.layers import roi_sampler as mg_roi_sampler

from maskrcnn_plugin.errors import GinConfigError
from maskrcnn_plugin.modeling import native_nms, roi_align
from maskrcnn_plugin.modeling.layer_factory import passes_arguments
from maskrcnn_plugin.modeling.precision import Float32Arguments
from maskrcnn_plugin.params import (Fraction, IoU, NmsKernel, NonNegative, OpenFraction,
                                    OptionalPositive, PositiveInt, RoiAlignKernel)
from maskrcnn_plugin.registries import (DETECTION_GENERATORS, MASK_SAMPLERS, ROI_ALIGNERS,
                                        ROI_GENERATORS, ROI_SAMPLERS)
from registry import OneOf


class ModelGardenROIGenerator(Float32Arguments, mg_roi_generator.MultilevelROIGenerator):
  """Model Garden's proposal generator, decoding in float32 (`precision.py`)."""


class ModelGardenDetectionGenerator(Float32Arguments, mg_detection_generator.DetectionGenerator):
  """Model Garden's detection generator, decoding in float32 (`precision.py`)."""


@ROI_GENERATORS.register("multilevel_roi_generator")
@passes_arguments(not_passed=("nms_kernel",))
def multilevel_roi_generator(*,
                             pre_nms_top_k: PositiveInt = 2000,
                             pre_nms_score_threshold: Fraction = 0.0,
                             pre_nms_min_size_threshold: NonNegative = 0.0,
                             nms_iou_threshold: IoU = 0.7,
                             num_proposals: PositiveInt = 1000,
                             test_pre_nms_top_k: PositiveInt = 1000,
                             test_pre_nms_score_threshold: Fraction = 0.0,
                             test_pre_nms_min_size_threshold: NonNegative = 0.0,
                             test_nms_iou_threshold: IoU = 0.7,
                             test_num_proposals: PositiveInt = 1000,
                             use_batched_nms: bool = False,
                             nms_kernel: NmsKernel = "native"):
  """Model Garden's proposal generator (`roi_generator.MultilevelROIGenerator`).

  Decodes the RPN outputs at every level, keeps the top boxes and runs NMS.
  Output: (rois [batch, num_proposals, 4] as (y1, x1, y2, x2) in pixels,
  scores [batch, num_proposals]); the `test_*` values apply at inference.

  Args:
    pre_nms_top_k: Boxes kept per level before NMS (training).
    pre_nms_score_threshold: Minimum score before NMS (training).
    pre_nms_min_size_threshold: Minimum box side before NMS (training).
    nms_iou_threshold: NMS IoU threshold (training).
    num_proposals: Proposals kept after NMS (training).
    test_pre_nms_top_k: pre_nms_top_k at inference.
    test_pre_nms_score_threshold: pre_nms_score_threshold at inference.
    test_pre_nms_min_size_threshold: pre_nms_min_size_threshold at inference.
    test_nms_iou_threshold: nms_iou_threshold at inference.
    test_num_proposals: num_proposals at inference.
    use_batched_nms: Use tf.image.combined_non_max_suppression.
    nms_kernel: 'native' runs Model Garden's per-level NMS on TensorFlow's
      NMS kernel (`native_nms.NativeNMSROIGenerator`, the same proposals,
      faster on CPUs and GPUs); 'model_garden' runs its tiled NMS.

  Returns:
    The MultilevelROIGenerator layer.
  """
  return (native_nms.NativeNMSROIGenerator if nms_kernel == "native"
          else ModelGardenROIGenerator)


@ROI_SAMPLERS.register("roi_sampler")
@passes_arguments()
def roi_sampler(*,
                mix_gt_boxes: bool = True,
                num_sampled_rois: PositiveInt = 512,
                foreground_fraction: OpenFraction = 0.25,
                foreground_iou_threshold: IoU = 0.5,
                background_iou_high_threshold: IoU = 0.5,
                background_iou_low_threshold: IoU = 0.0,
                skip_subsampling: bool = False):
  """Model Garden's training ROI sampler (`roi_sampler.ROISampler`).

  Used in training only: samples [batch, num_sampled_rois, 4] ROIs with their
  matched ground truth. For cascade stages the builder calls it again with
  Model Garden's cascade settings (no gt mixing, IoU threshold of the stage,
  skip_subsampling=True).

  Args:
    mix_gt_boxes: Add the ground-truth boxes to the proposals.
    num_sampled_rois: ROIs sampled per image.
    foreground_fraction: Fraction of foreground ROIs.
    foreground_iou_threshold: IoU at or above which an ROI is foreground.
    background_iou_high_threshold: IoU below which an ROI can be background.
    background_iou_low_threshold: IoU at or above which an ROI can be background.
    skip_subsampling: Keep all ROIs (cascade stages).

  Returns:
    The ROISampler layer.
  """
  if not background_iou_low_threshold < background_iou_high_threshold <= foreground_iou_threshold:
    raise GinConfigError(
        f"roi_samplers.roi_sampler needs background_iou_low_threshold < "
        f"background_iou_high_threshold <= foreground_iou_threshold, got "
        f"{background_iou_low_threshold:g}, {background_iou_high_threshold:g} and "
        f"{foreground_iou_threshold:g}: ROIs between the background and foreground thresholds "
        f"would be both or neither.")
  return mg_roi_sampler.ROISampler


def _roi_aligner_class(inference_kernel: str, training_kernel: str):
  if inference_kernel == training_kernel == "model_garden":
    return mg_roi_aligner.MultilevelROIAligner
  return functools.partial(roi_align.ROIAligner, inference_kernel=inference_kernel,
                           training_kernel=training_kernel)


@ROI_ALIGNERS.register("multilevel_roi_aligner")
@passes_arguments(not_passed=("inference_kernel", "training_kernel"))
def multilevel_roi_aligner(*, crop_size: PositiveInt = 7, sample_offset: Fraction = 0.5,
                           inference_kernel: RoiAlignKernel = "crop_and_resize",
                           training_kernel: RoiAlignKernel = "crop_and_resize"):
  """Model Garden's ROI align for the box head (`roi_aligner.MultilevelROIAligner`).

  Output: [batch, num_rois, crop_size, crop_size, channels], each ROI read from
  the FPN level matching its size.

  Args:
    crop_size: Output side of each ROI crop.
    sample_offset: Sub-pixel sample offset in each bin.
    inference_kernel: 'crop_and_resize' reads Model Garden's crops with
      TensorFlow's CropAndResize kernel at inference (`roi_align.ROIAligner`:
      the same crops to float32 rounding, faster on CPUs); 'model_garden'
      runs its gathers.
    training_kernel: The same choice in training, where 'crop_and_resize'
      also replaces the gathers' gradient by `roi_align`'s deterministic one
      (the same gradient to float32 rounding).

  Returns:
    The ROI aligner layer.
  """
  return _roi_aligner_class(inference_kernel, training_kernel)


@ROI_ALIGNERS.register("multilevel_mask_roi_aligner")
@passes_arguments(not_passed=("inference_kernel", "training_kernel"))
def multilevel_mask_roi_aligner(*, crop_size: PositiveInt = 14,
                                sample_offset: Fraction = 0.5,
                                inference_kernel: RoiAlignKernel = "crop_and_resize",
                                training_kernel: RoiAlignKernel = "crop_and_resize"):
  """Model Garden's ROI align for the mask head (Model Garden's `MaskROIAligner`).

  The same layer as `multilevel_roi_aligner` with the mask head's 14x14
  crops; the mask target size is crop_size * the mask head's upsample_factor.

  Args:
    crop_size: Output side of each ROI crop.
    sample_offset: Sub-pixel sample offset in each bin.
    inference_kernel: As `multilevel_roi_aligner`'s.
    training_kernel: As `multilevel_roi_aligner`'s.

  Returns:
    The ROI aligner layer.
  """
  return _roi_aligner_class(inference_kernel, training_kernel)


@DETECTION_GENERATORS.register("detection_generator")
@passes_arguments(not_passed=("nms_kernel",))
def detection_generator(*,
                        apply_nms: bool = True,
                        pre_nms_top_k: PositiveInt = 5000,
                        pre_nms_score_threshold: Fraction = 0.05,
                        nms_iou_threshold: IoU = 0.5,
                        max_num_detections: PositiveInt = 100,
                        nms_version: Annotated[str, OneOf("v2", "v1", "batched")] = "v2",
                        use_cpu_nms: bool = False,
                        soft_nms_sigma: OptionalPositive = None,
                        use_sigmoid_probability: bool = False,
                        nms_kernel: NmsKernel = "native"):
  """Model Garden's final box decoding and NMS (`detection_generator.DetectionGenerator`).

  Used at inference. Output (apply_nms=True): detection_boxes
  [batch, max_num_detections, 4], detection_scores and detection_classes
  [batch, max_num_detections], num_detections [batch]; always padded to
  max_num_detections.

  Args:
    apply_nms: Run NMS; False returns all decoded boxes and scores.
    pre_nms_top_k: Boxes per class kept before NMS.
    pre_nms_score_threshold: Minimum score of a detection.
    nms_iou_threshold: NMS IoU threshold.
    max_num_detections: Detections kept per image.
    nms_version: 'v2' (per-class NMS), 'v1' (supports soft NMS) or 'batched'.
    use_cpu_nms: Place NMS on the CPU.
    soft_nms_sigma: Soft-NMS sigma (nms_version 'v1' only); None for hard NMS.
    use_sigmoid_probability: Sigmoid instead of softmax class probabilities.
    nms_kernel: 'native' runs the 'v2' per-class NMS on TensorFlow's NMS
      kernel (`native_nms.NativeNMSDetectionGenerator`, the same detections,
      faster on CPUs and GPUs); 'model_garden' runs its tiled NMS.

  Returns:
    The DetectionGenerator layer.
  """
  return (native_nms.NativeNMSDetectionGenerator if nms_kernel == "native"
          else ModelGardenDetectionGenerator)


@MASK_SAMPLERS.register("mask_sampler")
@passes_arguments()
def mask_sampler(mask_target_size: PositiveInt, *, num_sampled_masks: PositiveInt = 128):
  """Model Garden's training mask-target sampler (`mask_sampler.MaskSampler`).

  Used in training only: crops and resizes the ground-truth masks of
  num_sampled_masks foreground ROIs to [batch, num_sampled_masks,
  mask_target_size, mask_target_size].

  Args:
    mask_target_size: Side of the mask targets; the builder passes the mask
      ROI aligner's crop_size times the mask head's upsample_factor.
    num_sampled_masks: Foreground ROIs per image that get a mask loss.

  Returns:
    The MaskSampler layer.
  """
  return mg_mask_sampler.MaskSampler
