"""Mask R-CNN whose inference mask head runs only on the kept detections.

Model Garden's `MaskRCNNModel` pads the detections of every image to
`max_num_detections` and runs the mask ROI align and the mask head on all of
them at inference, although only the first `num_detections` (sorted by score,
the padding at the end) are real. On a CPU most of inference time is that mask
head. `detected_mask_outputs` runs it on the first
k = max over the batch of `num_detections` boxes per image and pads the masks
back to `max_num_detections` with zeros: the boxes, classes and scores are
those of Model Garden's model, the masks of the kept detections the same (to
float rounding: the mask head sees fewer rows at once), and the mask of every
slot past an image's `num_detections` is zero (Model Garden's holds the mask
of a padded box there).

`maskrcnn.build_maskrcnn.skip_padded_masks` (default True) selects it
(`maskrcnn_model.MaskRCNNModel`); False runs Model Garden's padded masks.
"""

from typing import Dict, Mapping

import tensorflow as tf


def detected_mask_outputs(model, model_outputs: Mapping[str, tf.Tensor],
                          features: Mapping[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
  """`model_outputs` with `detection_masks` of the kept detections only.

  Args:
    model: A Model Garden `MaskRCNNModel` (its mask_roi_aligner and
      mask_head are used).
    model_outputs: Its inference box outputs (detection_boxes
      [batch, max_num_detections, 4] or detection_outer_boxes,
      detection_classes, num_detections).
    features: The decoder features {level: [batch, h, w, c]}.

  Returns:
    A copy of model_outputs plus detection_masks [batch, max_num_detections,
    m, m] (float32 probabilities), zero in the slots at or past each image's
    num_detections.
  """
  model_outputs = dict(model_outputs)
  boxes = model_outputs["detection_boxes" if model.outer_boxes_scale == 1.0
                        else "detection_outer_boxes"]
  classes = model_outputs["detection_classes"]
  num_detections = tf.cast(model_outputs["num_detections"], tf.int32)
  max_detections = tf.shape(boxes)[1]
  # The detection generator puts the kept detections first, by score. At
  # least one box: TensorFlow's CPU BiasAdd rejects an empty batch of ROIs.
  kept = tf.maximum(tf.reduce_max(num_detections), 1)
  features_kept = model.mask_roi_aligner(features, boxes[:, :kept])
  # Model Garden's mask head reshapes with the static number of ROIs, unknown
  # here: give it one ROI per row and the batch times kept boxes as rows.
  batch_size = tf.shape(boxes)[0]
  crop_shape = features_kept.shape[2:]
  logits = model.mask_head(
      [tf.reshape(features_kept, [-1, 1, *crop_shape]), tf.reshape(classes[:, :kept], [-1, 1])])
  mask_shape = logits.shape[2:]
  probabilities = tf.reshape(tf.nn.sigmoid(tf.cast(logits, tf.float32)),
                             [batch_size, kept, *mask_shape])
  # Zero the masks of slots past each image's own detections, and pad.
  valid = tf.sequence_mask(num_detections, kept, dtype=probabilities.dtype)
  probabilities *= valid[:, :, tf.newaxis, tf.newaxis]
  masks = tf.pad(probabilities, [[0, 0], [0, max_detections - kept], [0, 0], [0, 0]])
  masks.set_shape(boxes.shape[:2].concatenate(mask_shape))
  model_outputs["detection_masks"] = masks
  return model_outputs
