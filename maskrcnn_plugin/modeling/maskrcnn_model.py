"""Model Garden's `MaskRCNNModel` without its padded mask work.

Model Garden's model is shaped for TPUs: static shapes everywhere, so the
mask branch runs on padded slots, in training (`num_sampled_masks` slots per
image, most of them background) and at inference (`max_num_detections`
slots, most of them empty). `MaskRCNNModel` here has the same constructor,
variables, checkpoint layout and box outputs, and two switches for its mask
branch, each bound through `maskrcnn.build_maskrcnn`:

- `foreground_mask_training` (training): the mask head runs on the batch's
  foreground ROIs only (`foreground_masks.py`); the mask loss is Model
  Garden's.
- `skip_padded_masks` (inference): the mask head runs on the kept
  detections only (`detected_masks.py`); the masks of kept detections are
  Model Garden's.

Either switch off runs Model Garden's code for that mode. Mask logits and
probabilities are float32 under a mixed precision policy. XLA (the train
step under `runtime.jit_compile`, every step on a TPU) needs static shapes:
`use_static_shapes` switches to Model Garden's padded paths for it.
"""

from typing import Any, List, Mapping, Optional

import tensorflow as tf
from official.vision.modeling import maskrcnn_model as mg_maskrcnn_model

from maskrcnn_plugin.modeling.detected_masks import detected_mask_outputs
from maskrcnn_plugin.modeling.foreground_masks import foreground_mask_outputs
from maskrcnn_plugin.modeling.roi_align import use_model_garden_crops


class MaskRCNNModel(mg_maskrcnn_model.MaskRCNNModel):
  """Model Garden's MaskRCNNModel whose mask branch skips padded slots.

  Training outputs with foreground_mask_training: mask_outputs and
  mask_targets [1, F, t, t], mask_class_targets [1, F], F the batch's
  foreground ROI count (see `foreground_mask_outputs`); Model Garden's are
  [batch, num_sampled_masks, ...]. Inference outputs with skip_padded_masks:
  detection_masks [batch, max_num_detections, m, m], zero past each image's
  num_detections. Everything else is Model Garden's.
  """

  def __init__(self, *args, foreground_mask_training: bool = True,
               skip_padded_masks: bool = True, **kwargs):
    super().__init__(*args, **kwargs)
    self.foreground_mask_training = foreground_mask_training
    self.skip_padded_masks = skip_padded_masks

  def use_static_shapes(self, *, inference: bool = True) -> List[str]:
    """Switches to the padded paths XLA compiles; returns the switches it turned off.

    Model Garden's padded mask training, its ROI align gathers in training
    and at inference (`roi_align.py`: CropAndResize's crops are grouped by
    level into tensors of dynamic size) and, with `inference`, its padded
    inference masks. Call before the model's first traced call.
    """
    switched = []
    if self.foreground_mask_training:
      self.foreground_mask_training = False
      switched.append("foreground_mask_training")
    if inference and self.skip_padded_masks:
      self.skip_padded_masks = False
      switched.append("skip_padded_masks")
    if use_model_garden_crops(self):
      switched.append("the ROI aligners' kernel = 'crop_and_resize'")
    return switched

  def get_config(self) -> Mapping[str, Any]:
    return {**super().get_config(), "foreground_mask_training": self.foreground_mask_training,
            "skip_padded_masks": self.skip_padded_masks}

  def _call_mask_outputs(self, model_box_outputs: Mapping[str, tf.Tensor],
                         features: Mapping[str, tf.Tensor], current_rois: tf.Tensor,
                         matched_gt_indices: tf.Tensor, matched_gt_boxes: tf.Tensor,
                         matched_gt_classes: tf.Tensor, gt_masks: tf.Tensor,
                         training: Optional[bool] = None) -> Mapping[str, tf.Tensor]:
    if training and self.foreground_mask_training:
      return {**model_box_outputs, **foreground_mask_outputs(
          self, features, current_rois, matched_gt_indices, matched_gt_boxes,
          matched_gt_classes, gt_masks)}
    if not training and self.skip_padded_masks:
      return detected_mask_outputs(self, model_box_outputs, features)
    return super()._call_mask_outputs(
        model_box_outputs, features, current_rois, matched_gt_indices, matched_gt_boxes,
        matched_gt_classes, gt_masks, training=training)

  def _features_to_mask_outputs(self, features, rois, roi_classes):
    """Model Garden's padded mask branch, with float32 logits and probabilities."""
    logits, _ = super()._features_to_mask_outputs(features, rois, roi_classes)
    logits = tf.cast(logits, tf.float32)
    return logits, tf.nn.sigmoid(logits)
