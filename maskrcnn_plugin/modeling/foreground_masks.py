"""Mask head training on the foreground ROIs only.

Model Garden's `MaskSampler` fills `num_sampled_masks` (128) slots per image:
its foreground ROIs first, then background ROIs as padding. The mask ROI
align, the mask-target crop and the mask head (four 3x3 convs of 256 channels
at 14x14, with batch norm) run on every slot, and `MaskrcnnLoss` gives the
background slots weight 0. On typical data 3-21 of the 128 slots hold
foreground, so most of that work (more than half of a CPU training step for
R50-FPN) only feeds the batch-norm statistics. Detectron2 and torchvision run
the mask head on foreground proposals only; so does this module.

`foreground_mask_outputs` selects the same foreground ROIs as Model Garden's
sampler, in the same order (the top-k of `class > 0`, lower index first):
- the mask ROI align runs on the first k slots of every image, k = the
  largest foreground count of the batch (capped by num_sampled_masks);
- the mask-target crop and the mask head run on the F foreground ROIs of the
  whole batch, one row each, so their cost follows the batch's total
  foreground count, not the largest image's.
With no foreground ROI in the batch, one background row keeps the shapes
non-empty (its loss weight is 0, as Model Garden gives it).

The mask loss is Model Garden's `MaskrcnnLoss` unchanged: the sum of the
per-pixel losses of the foreground slots over the (replica-averaged) count of
foreground pixels. Dropping weight-0 slots changes neither, so the loss and
its gradients equal Model Garden's for a mask head without batch norm. With
batch norm, the head's batch statistics come from the foreground ROIs only,
which is closer to what it sees at inference (detections, not background
ROIs); Detectron2's and torchvision's mask heads have no batch norm at all.
"""

from typing import Dict

import tensorflow as tf
from official.vision.ops import spatial_transform_ops

from maskrcnn_plugin.modeling.mask_rows import mask_head_on_rows, selected_rows


def foreground_mask_outputs(model, features: Dict[str, tf.Tensor], rois: tf.Tensor,
                            matched_gt_indices: tf.Tensor, matched_gt_boxes: tf.Tensor,
                            matched_gt_classes: tf.Tensor,
                            gt_masks: tf.Tensor) -> Dict[str, tf.Tensor]:
  """The mask branch's training outputs on the batch's foreground ROIs.

  Args:
    model: A Model Garden `MaskRCNNModel` (its mask_sampler's settings,
      mask_roi_aligner and mask_head are used).
    features: The decoder features {level: [batch, h, w, c]}.
    rois: [batch, N, 4] sampled ROIs (y1, x1, y2, x2) in pixels, float32.
    matched_gt_indices: [batch, N] index of each ROI's ground truth (-1: none).
    matched_gt_boxes: [batch, N, 4] matched ground-truth boxes.
    matched_gt_classes: [batch, N] matched classes, 0 for background ROIs.
    gt_masks: [batch, max_num_instances, mh, mw] ground-truth masks.

  Returns:
    With F the number of foreground ROIs of the batch (at most
    num_sampled_masks per image; 1 when there is none):
    mask_outputs [1, F, t, t] logits of each ROI's class, mask_targets
    [1, F, t, t] and mask_class_targets [1, F] (0 for the one filler row),
    in the layout Model Garden's mask loss reads ([batch, masks, ...]).
  """
  sampler = model.mask_sampler.get_config()
  target_size = sampler["mask_target_size"]
  is_foreground = tf.cast(matched_gt_classes > 0, tf.int32)  # [batch, N]
  slots = tf.clip_by_value(tf.reduce_max(tf.reduce_sum(is_foreground, axis=1)), 1,
                           sampler["num_sampled_masks"])
  # Model Garden's MaskSampler takes the top num_sampled_masks of this with
  # tf.nn.top_k, which puts equal values in index order: the first `slots`
  # of its picks, in its order.
  _, picks = tf.nn.top_k(is_foreground, k=slots)  # [batch, slots]
  slot_rois = tf.gather(rois, picks, batch_dims=1)
  slot_classes = tf.gather(matched_gt_classes, picks, batch_dims=1)

  # Rows: the foreground (image, slot) pairs of the batch; (0, 0) if none.
  rows = selected_rows(slot_classes > 0)
  row_rois = tf.gather_nd(slot_rois, rows)  # [F, 4]
  row_classes = tf.gather_nd(slot_classes, rows)  # [F]
  row_gt_boxes = tf.gather_nd(tf.gather(matched_gt_boxes, picks, batch_dims=1), rows)
  row_gt_indices = tf.gather_nd(tf.gather(matched_gt_indices, picks, batch_dims=1), rows)
  row_gt_indices = tf.maximum(tf.cast(row_gt_indices, tf.int64), 0)  # -1 -> 0, as Model Garden
  row_gt_masks = tf.gather_nd(gt_masks, tf.stack([rows[:, 0], row_gt_indices], axis=1))

  # [F, 1, ...]: one mask per row, since crop_mask_in_target_box and the mask
  # head need a static number of masks per row.
  mask_targets = spatial_transform_ops.crop_mask_in_target_box(
      row_gt_masks[:, tf.newaxis], row_gt_boxes[:, tf.newaxis], row_rois[:, tf.newaxis],
      target_size, sample_offset=0.5)
  slot_features = model.mask_roi_aligner(features, slot_rois)  # [batch, slots, s, s, c]
  row_features = tf.gather_nd(slot_features, rows)  # [F, s, s, c]
  logits = mask_head_on_rows(model, row_features, row_classes)
  return {
      "mask_outputs": logits[tf.newaxis],
      "mask_targets": tf.stop_gradient(tf.reshape(mask_targets,
                                                  [1, -1, target_size, target_size])),
      "mask_class_targets": row_classes[tf.newaxis],
  }
