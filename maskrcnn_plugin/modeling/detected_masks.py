"""Mask R-CNN whose inference mask head runs only on the kept detections.

Model Garden's `MaskRCNNModel` pads the detections of every image to
`max_num_detections` and runs the mask ROI align and the mask head on all of
them at inference, although only the first `num_detections` (sorted by score,
the padding at the end) are real. On a CPU the mask head (four 3x3 convs at
14x14 per box) is most of that inference time. `detected_mask_outputs`:
- runs the mask ROI align on the first k boxes of every image, k = the
  largest `num_detections` of the batch;
- runs the mask head on the D kept detections of the whole batch, one row
  each (`mask_rows.py`), so its cost follows the batch's total detection
  count, not the batch size times the largest image's count;
- puts the masks back in Model Garden's [batch, max_num_detections] layout,
  with zeros in the padded slots.
The boxes, classes and scores are those of Model Garden's model, the masks of
the kept detections the same (to float rounding: the mask head sees other
rows at once), and the mask of every slot past an image's `num_detections` is
zero (Model Garden's holds the mask of a padded box there).

`maskrcnn.build_maskrcnn.skip_padded_masks` (default True) selects it
(`maskrcnn_model.MaskRCNNModel`); False runs Model Garden's padded masks.
"""

from typing import Dict, Mapping

import tensorflow as tf

from maskrcnn_plugin.modeling.mask_rows import mask_head_on_rows, selected_rows


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
  # The detection generator puts the kept detections first, by score.
  kept = tf.maximum(tf.reduce_max(num_detections), 1)
  is_detection = tf.sequence_mask(num_detections, kept)  # [batch, kept]
  rows = selected_rows(is_detection)  # [D, 2]; one filler row if D = 0.
  slot_features = model.mask_roi_aligner(features, boxes[:, :kept])
  logits = mask_head_on_rows(model, tf.gather_nd(slot_features, rows),
                             tf.gather_nd(classes[:, :kept], rows))
  probabilities = tf.nn.sigmoid(logits) * tf.cast(
      tf.gather_nd(is_detection, rows), tf.float32)[:, tf.newaxis, tf.newaxis]
  mask_shape = logits.shape[1:]
  masks = tf.scatter_nd(rows, probabilities, tf.concat(
      [tf.shape(boxes, tf.int64)[:2], tf.constant(mask_shape.as_list(), tf.int64)], axis=0))
  masks.set_shape(boxes.shape[:2].concatenate(mask_shape))
  model_outputs["detection_masks"] = masks
  return model_outputs
