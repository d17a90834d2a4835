"""Mask R-CNN whose inference mask head runs only on the kept detections.

Model Garden's `MaskRCNNModel` pads the detections of every image to
`max_num_detections` and runs the mask ROI align and the mask head on all of
them at inference, although only the first `num_detections` (sorted by score,
the padding at the end) are real. On a CPU most of inference time is that mask
head. `DetectedMasksMaskRCNNModel` runs it on the first
k = max over the batch of `num_detections` boxes per image and pads the masks
back to `max_num_detections` with zeros: the boxes, classes and scores are
those of Model Garden's model, the masks of the kept detections the same (to
float rounding: the mask head sees fewer rows at once), and the mask of every
slot past an image's `num_detections` is zero (Model Garden's holds the mask
of a padded box there). Training is Model Garden's, unchanged.

`maskrcnn.build_maskrcnn.skip_padded_masks` (default True) selects it; False
gives Model Garden's `MaskRCNNModel`.
"""

from typing import Mapping, Optional

import tensorflow as tf
from official.vision.modeling import maskrcnn_model


class DetectedMasksMaskRCNNModel(maskrcnn_model.MaskRCNNModel):
  """`MaskRCNNModel` that computes inference masks of kept detections only.

  Same constructor, variables, checkpoint layout and outputs as Model
  Garden's model; `detection_masks` [batch, max_num_detections, m, m] is zero
  in the slots at or past each image's `num_detections`.
  """

  def _call_mask_outputs(self,
                         model_box_outputs: Mapping[str, tf.Tensor],
                         features: Mapping[str, tf.Tensor],
                         current_rois: tf.Tensor,
                         matched_gt_indices: tf.Tensor,
                         matched_gt_boxes: tf.Tensor,
                         matched_gt_classes: tf.Tensor,
                         gt_masks: tf.Tensor,
                         training: Optional[bool] = None) -> Mapping[str, tf.Tensor]:
    if training:
      return super()._call_mask_outputs(
          model_box_outputs, features, current_rois, matched_gt_indices, matched_gt_boxes,
          matched_gt_classes, gt_masks, training=training)
    model_outputs = dict(model_box_outputs)
    boxes = model_outputs["detection_boxes" if self.outer_boxes_scale == 1.0
                          else "detection_outer_boxes"]
    classes = model_outputs["detection_classes"]
    num_detections = tf.cast(model_outputs["num_detections"], tf.int32)
    max_detections = tf.shape(boxes)[1]
    # The detection generator puts the kept detections first, by score. At
    # least one box: TensorFlow's CPU BiasAdd rejects an empty batch of ROIs.
    kept = tf.maximum(tf.reduce_max(num_detections), 1)
    features_kept = self.mask_roi_aligner(features, boxes[:, :kept])
    # Model Garden's mask head reshapes with the static number of ROIs, unknown
    # here: give it one ROI per row and the batch times kept boxes as rows.
    batch_size = tf.shape(boxes)[0]
    crop_shape = features_kept.shape[2:]
    logits = self.mask_head(
        [tf.reshape(features_kept, [-1, 1, *crop_shape]), tf.reshape(classes[:, :kept], [-1, 1])])
    mask_shape = logits.shape[2:]
    probabilities = tf.reshape(tf.nn.sigmoid(logits), [batch_size, kept, *mask_shape])
    # Zero the masks of slots past each image's own detections, and pad.
    valid = tf.sequence_mask(num_detections, kept, dtype=probabilities.dtype)
    probabilities *= valid[:, :, tf.newaxis, tf.newaxis]
    masks = tf.pad(probabilities, [[0, 0], [0, max_detections - kept], [0, 0], [0, 0]])
    masks.set_shape(boxes.shape[:2].concatenate(mask_shape))
    model_outputs["detection_masks"] = masks
    return model_outputs
