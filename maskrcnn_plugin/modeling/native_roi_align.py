"""ROI align at inference on TensorFlow's CropAndResize kernel, Model Garden's crops.

Model Garden's `MultilevelROIAligner` (`spatial_transform_ops.
multilevel_crop_and_resize`) is written for TPUs: it flattens every FPN level
of the batch into one matrix, gathers the 4 neighbours of every sample point
of every ROI from it and weights them. At inference the layer here keeps
Model Garden's level assignment (level = floor(4 + log2(sqrt(area) / 224)),
clipped to the pyramid) and its sample points (one bilinear sample per bin,
at `sample_offset` of the bin, crop_size x crop_size bins per box) and reads
each level's boxes with the CropAndResize kernel.

In training it runs Model Garden's gathers: the gradient of CropAndResize
(`CropAndResizeGradImage`) on the CPU shards the boxes over threads that add
into the same feature map without synchronisation, so overlapping boxes lose
updates (measured: 0.9% of the largest gradient value, different from run
to run, on the finest level of an R50-FPN batch; TensorFlow runs it on one
thread only with `enable_op_determinism`, for the whole process).

The crops equal Model Garden's to float32 rounding for boxes inside the image
(every box the model aligns: proposals and detections are clipped to it).
Two details keep that exact:
- Model Garden clamps sample points past the last row or column of a level
  to it; the kernel gets the level with its last row and column repeated, so
  points between the last row and the map's edge read the same values.
- The kernel interpolates in float32. Under mixed precision the crops are
  computed in float32 from the reduced-precision features and cast back to
  their type (Model Garden interpolates in the features' type).
Boxes reaching beyond the image are where the two differ: Model Garden
clamps to the edge (and extrapolates linearly below 0), the kernel reads
zeros there.

XLA has no CropAndResize kernel: on TPUs these layers run Model Garden's
gathers at inference too (`use_model_garden_kernel`, called by
`MaskRCNNModel.use_static_shapes`).

`roi_aligners.multilevel_roi_aligner.align_kernel` and
`roi_aligners.multilevel_mask_roi_aligner.align_kernel` select this layer
('native', the default) or Model Garden's everywhere ('model_garden').
"""

from typing import List, Mapping

import tensorflow as tf
from official.vision.modeling.layers import roi_aligner as mg_roi_aligner


def multilevel_crop_and_resize(features: Mapping[str, tf.Tensor], boxes: tf.Tensor,
                               output_size: int, sample_offset: float) -> tf.Tensor:
  """Model Garden's `multilevel_crop_and_resize`, on the CropAndResize kernel.

  Args:
    features: {level: [batch, height_l, width_l, channels]}, the same
      channels and dtype at every level, level l of stride 2**l.
    boxes: [batch, num_boxes, 4] boxes (y1, x1, y2, x2) in image pixels.
    output_size: Side of each crop.
    sample_offset: Position of the sample point inside each bin, in [0, 1].

  Returns:
    [batch, num_boxes, output_size, output_size, channels] crops, in the
    features' dtype.
  """
  levels = sorted(int(level) for level in features)
  min_level, max_level = levels[0], levels[-1]
  dtype = features[str(min_level)].dtype
  channels = features[str(min_level)].shape[-1]
  batch_size, num_boxes = tf.shape(boxes)[0], tf.shape(boxes)[1]

  boxes = tf.reshape(tf.cast(boxes, tf.float32), [-1, 4])
  areas_sqrt = tf.sqrt((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))
  box_levels = tf.cast(tf.math.floordiv(tf.math.log(tf.math.divide_no_nan(areas_sqrt, 224.0)),
                                        tf.math.log(2.0)) + 4.0, tf.int32)
  box_levels = tf.clip_by_value(box_levels, min_level, max_level) - min_level
  box_images = tf.repeat(tf.range(batch_size), num_boxes)
  positions = tf.dynamic_partition(tf.range(batch_size * num_boxes), box_levels, len(levels))

  crops = []
  for level, level_positions in zip(levels, positions):
    level_features = tf.cast(features[str(level)], tf.float32)
    height = tf.cast(tf.shape(level_features)[1], tf.float32)
    width = tf.cast(tf.shape(level_features)[2], tf.float32)
    level_boxes = tf.gather(boxes, level_positions) / float(2**level)
    bin_height = (level_boxes[:, 2] - level_boxes[:, 0]) / output_size
    bin_width = (level_boxes[:, 3] - level_boxes[:, 1]) / output_size
    first_y = level_boxes[:, 0] + sample_offset * bin_height
    first_x = level_boxes[:, 1] + sample_offset * bin_width
    # CropAndResize samples y1 * (H - 1) + i * (y2 - y1) * (H - 1) / (output_size - 1)
    # of a map of H rows; the repeated last row makes H - 1 = height.
    sample_boxes = tf.stack([first_y / height, first_x / width,
                             (first_y + (output_size - 1) * bin_height) / height,
                             (first_x + (output_size - 1) * bin_width) / width], axis=1)
    edge_repeated = tf.pad(level_features, [[0, 0], [0, 1], [0, 1], [0, 0]], mode="SYMMETRIC")
    crops.append(tf.image.crop_and_resize(edge_repeated, sample_boxes,
                                          tf.gather(box_images, level_positions),
                                          [output_size, output_size]))
  crops = tf.dynamic_stitch(positions, crops)
  return tf.cast(tf.reshape(crops, [batch_size, num_boxes, output_size, output_size, channels]),
                 dtype)


class NativeROIAligner(mg_roi_aligner.MultilevelROIAligner):
  """Model Garden's `MultilevelROIAligner` (same config and call), on CropAndResize at inference.

  In training, and with `model_garden_kernel = True` (for XLA), it runs
  Model Garden's own gathers.
  """

  model_garden_kernel = False

  def call(self, features: Mapping[str, tf.Tensor], boxes: tf.Tensor, training: bool = None):
    """[batch, num_boxes, crop_size, crop_size, channels] crops of `boxes` (see the module)."""
    if training or self.model_garden_kernel:
      return super().call(features, boxes, training=training)
    return multilevel_crop_and_resize(features, boxes, self._config_dict["crop_size"],
                                      self._config_dict["sample_offset"])


def use_model_garden_kernel(model) -> List[str]:
  """Switches the model's native ROI aligners to Model Garden's gathers.

  Args:
    model: A Model Garden `MaskRCNNModel`, before its first traced call.

  Returns:
    The names of the attributes switched by this call ('roi_aligner',
    'mask_roi_aligner').
  """
  switched = []
  for name in ("roi_aligner", "mask_roi_aligner"):
    layer = getattr(model, name, None)
    if isinstance(layer, NativeROIAligner) and not layer.model_garden_kernel:
      layer.model_garden_kernel = True
      switched.append(name)
  return switched
