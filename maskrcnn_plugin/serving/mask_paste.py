"""Pasting per-detection masks into full-image canvases, inside the graph.

Model Garden's COCO evaluator pastes the mask head's M x M probabilities with
`official.vision.ops.mask_ops.paste_instance_masks`, a NumPy/OpenCV function
that cannot run in a SavedModel. `paste_instance_masks` below is its graph
version: the same one-pixel zero padding, the same expanded and truncated
reference box, and the same half-pixel bilinear resize (Model Garden's
`spatial_transform_ops.bilinear_resize_to_bbox`, which clamps at the border as
`cv2.resize` does), so thresholding its output at 0.5 gives the evaluator's
masks and exported models score the AP the evaluator reports.
"""

import tensorflow as tf

from official.vision.ops import spatial_transform_ops


def paste_instance_masks(masks: tf.Tensor, boxes: tf.Tensor, image_size) -> tf.Tensor:
  """Pastes mask probabilities into image-sized canvases.

  Args:
    masks: float [batch, num_detections, mask_height, mask_width] probabilities,
      each relative to its box.
    boxes: float [batch, num_detections, 4] boxes (ymin, xmin, ymax, xmax) in
      pixels of the canvas.
    image_size: int [height, width] of the canvas (a tensor or two ints).

  Returns:
    float32 [batch, num_detections, height, width] probabilities; zero outside
    each (expanded) box. `> 0.5` gives the evaluator's binary masks.
  """
  masks = tf.cast(masks, tf.float32)
  boxes = tf.cast(boxes, tf.float32)
  batch_size = tf.shape(masks)[0]
  num_detections = tf.shape(masks)[1]
  mask_height, mask_width = masks.shape[2], masks.shape[3]
  height, width = image_size[0], image_size[1]

  padded = tf.pad(tf.reshape(masks, [-1, mask_height, mask_width]), [[0, 0], [1, 1], [1, 1]])
  scale = max((mask_width + 2.0) / mask_width, (mask_height + 2.0) / mask_height)
  ymin, xmin, ymax, xmax = tf.unstack(tf.reshape(boxes, [-1, 4]), axis=-1)
  y_center, x_center = (ymin + ymax) / 2.0, (xmin + xmax) / 2.0
  half_height, half_width = (ymax - ymin) / 2.0 * scale, (xmax - xmin) / 2.0 * scale
  # Truncation toward zero and the inclusive far edge follow the evaluator's
  # `ref_boxes.astype(np.int32)` and `w = x1 - x0 + 1`.
  expanded = tf.stack([y_center - half_height, x_center - half_width,
                       y_center + half_height, x_center + half_width], axis=-1)
  expanded = tf.cast(tf.cast(expanded, tf.int32), tf.float32)
  expanded += tf.constant([0.0, 0.0, 1.0, 1.0])
  pasted = spatial_transform_ops.bilinear_resize_to_bbox(padded, expanded, [height, width])
  return tf.reshape(pasted, [batch_size, num_detections, height, width])
