"""The mask head on selected (image, slot) rows, for the unpadded mask paths.

Model Garden's mask branch runs the mask head on every slot of a
[batch, slots] layout: padded to `num_sampled_masks` in training and to
`max_num_detections` at inference. The plugin's mask paths
(`foreground_masks.py`, `detected_masks.py`) run it on the slots that hold
a foreground ROI or a kept detection only, one row each, so that its cost
follows the batch's total count rather than the batch size times the
largest image's count.
"""

import tensorflow as tf


def selected_rows(selected: tf.Tensor) -> tf.Tensor:
  """The (image, slot) pairs where `selected` [batch, slots] (bool) is True.

  Returns:
    [R, 2] int64 in row-major order. With nothing selected, one filler row
    (0, 0): TensorFlow's CPU kernels (BiasAdd) reject an empty batch of ROIs,
    so a caller gives that row weight 0 (check `tf.gather_nd(selected, rows)`).
  """
  rows = tf.where(selected)
  return tf.cond(tf.shape(rows)[0] > 0, lambda: rows, lambda: tf.zeros([1, 2], tf.int64))


def mask_head_on_rows(model, row_features: tf.Tensor, row_classes: tf.Tensor) -> tf.Tensor:
  """Mask logits of each row's class.

  Args:
    model: A Model Garden `MaskRCNNModel` (its mask_head is used).
    row_features: [R, s, s, c] ROI-aligned features, one ROI per row.
    row_classes: [R] class of each row.

  Returns:
    [R, m, m] float32 logits (the head may compute in a reduced type).
  """
  # Model Garden's mask head reshapes with the static number of ROIs per
  # image, unknown here: one ROI per image, R images.
  logits = model.mask_head([row_features[:, tf.newaxis], row_classes[:, tf.newaxis]])
  return tf.cast(logits[:, 0], tf.float32)
