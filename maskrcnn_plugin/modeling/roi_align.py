"""ROI align on TensorFlow's CropAndResize kernel, with Model Garden's crops.

Model Garden's `multilevel_crop_and_resize` (its `MultilevelROIAligner`)
gathers the four neighbours of every sample point from all FPN levels
flattened into one tensor, written for TPUs. On a CPU, at the shapes demo's
inference (8 images, 100 proposals each at 7x7, the detections at 14x14),
it took 13.5 and 4.8 ms a batch, where TensorFlow's CropAndResize kernel
reading the same sample points took 3.6 and 2.1 ms. In training its
backward pass adds the `AvgPoolGrad` of its 2x2 pooling (the largest single
op of the ROI align in a profile of the shapes demo's training step).

`crop_and_resize_align` keeps Model Garden's level assignment, sample points
and edge clamping and reads them with CropAndResize; the crops are equal to
float32 rounding for boxes inside the (padded) image, which the boxes of
both ROI aligners are: proposals and detections are clipped to the image,
and so are ground-truth and outer boxes. Its gradient to the features is
`_crop_and_resize`'s own: TensorFlow's CPU gradient kernel of CropAndResize
shards the boxes over threads that add into the feature map without
synchronisation, so overlapping boxes lose updates; `_crop_and_resize` adds
each sample's four bilinear weights with one `unsorted_segment_sum` instead.
It passes no gradient to the boxes, as in Model Garden's model, which stops
the gradient of the ROIs before ROI align.

`roi_aligners.multilevel_roi_aligner.inference_kernel` and
`roi_aligners.multilevel_roi_aligner.training_kernel` (and the same on
`multilevel_mask_roi_aligner`) select it: 'crop_and_resize', the default, or
'model_garden'.
"""

import contextlib
from typing import Iterator, List, Mapping, Optional

import tensorflow as tf
from official.vision.modeling.layers import roi_aligner as mg_roi_aligner


def _crop_and_resize(image: tf.Tensor, boxes: tf.Tensor, box_indices: tf.Tensor,
                     crop_size: int) -> tf.Tensor:
  """`tf.image.crop_and_resize` (bilinear, zeros outside) with a deterministic image gradient.

  Args:
    image: [batch, height, width, channels] float32.
    boxes: [num_boxes, 4] normalized (y1, x1, y2, x2): sample i of a box is at row
      y1 * (height - 1) + i * (y2 - y1) * (height - 1) / (crop_size - 1).
    box_indices: [num_boxes] int32 image of each box.
    crop_size: Side of each crop.

  Returns:
    [num_boxes, crop_size, crop_size, channels], the kernel's crops. Their
    gradient to `image` is the transpose of the same bilinear sampling, summed
    with `unsorted_segment_sum`; `boxes` and `box_indices` get none.
  """
  boxes, box_indices = tf.stop_gradient(boxes), tf.stop_gradient(box_indices)

  @tf.custom_gradient
  def crops_of(image):
    crops = tf.image.crop_and_resize(image, boxes, box_indices, [crop_size, crop_size])

    def gradient(upstream):
      shape = tf.shape(image)
      height, width, channels = shape[1], shape[2], image.shape[-1]

      def corners(low, high, size):
        """Rows (or columns) of the samples' two neighbours and their weights, [n, crop, 2]."""
        extent = tf.cast(size - 1, tf.float32)
        steps = tf.range(crop_size, dtype=tf.float32)
        if crop_size > 1:
          positions = (low[:, None] * extent
                       + steps[None] * ((high - low) * extent / (crop_size - 1))[:, None])
        else:
          positions = (0.5 * (low + high) * extent)[:, None]
        inside = tf.cast((positions >= 0) & (positions <= extent), tf.float32)
        first = tf.floor(positions)
        fraction = positions - first
        first = tf.clip_by_value(tf.cast(first, tf.int32), 0, size - 1)
        second = tf.minimum(first + 1, size - 1)
        return (tf.stack([first, second], -1),
                tf.stack([1.0 - fraction, fraction], -1) * inside[..., None])

      rows, row_weights = corners(boxes[:, 0], boxes[:, 2], height)
      cols, col_weights = corners(boxes[:, 1], boxes[:, 3], width)
      # [n, crop, crop, 2, 2]: the pixel and weight of each sample's four neighbours.
      pixels = ((box_indices[:, None, None, None, None] * height + rows[:, :, None, :, None])
                * width + cols[:, None, :, None, :])
      weights = row_weights[:, :, None, :, None] * col_weights[:, None, :, None, :]
      updates = upstream[:, :, :, None, None, :] * weights[..., None]
      summed = tf.math.unsorted_segment_sum(tf.reshape(updates, [-1, channels]),
                                            tf.reshape(pixels, [-1]), tf.size(image) // channels)
      return tf.reshape(summed, shape)

    return crops, gradient

  return crops_of(image)


def crop_and_resize_align(features: Mapping[str, tf.Tensor], boxes: tf.Tensor,
                          output_size: int, sample_offset: float = 0.5) -> tf.Tensor:
  """Model Garden's `multilevel_crop_and_resize` crops, read with CropAndResize.

  Args:
    features: {level: [batch, height_l, width_l, channels]}, level l of stride 2**l.
    boxes: [batch, num_boxes, 4] boxes (y1, x1, y2, x2) in image pixels, inside the image.
    output_size: Side of each crop.
    sample_offset: Position of the sample point inside each bin, in [0, 1].

  Returns:
    [batch, num_boxes, output_size, output_size, channels] crops in the
    features' dtype (interpolated in float32). Equal to Model Garden's to
    float32 rounding for boxes inside the image; beyond it Model Garden
    clamps and this reads zeros.
  """
  levels = sorted(int(level) for level in features)
  min_level, max_level = levels[0], levels[-1]
  dtype = features[str(min_level)].dtype
  channels = features[str(min_level)].shape[-1]
  batch_size, num_boxes = tf.shape(boxes)[0], tf.shape(boxes)[1]
  boxes = tf.reshape(tf.cast(boxes, tf.float32), [-1, 4])
  # Model Garden's level of a box: floor(log2(sqrt(area) / 224)) + 4, clipped.
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
    # of a map of H rows; the repeated last row (Model Garden clamps there) makes H - 1 = height.
    sample_boxes = tf.stack([first_y / height, first_x / width,
                             (first_y + (output_size - 1) * bin_height) / height,
                             (first_x + (output_size - 1) * bin_width) / width], axis=1)
    edge_repeated = tf.pad(level_features, [[0, 0], [0, 1], [0, 1], [0, 0]], mode="SYMMETRIC")
    crops.append(_crop_and_resize(edge_repeated, sample_boxes,
                                  tf.gather(box_images, level_positions), output_size))
  crops = tf.dynamic_stitch(positions, crops)
  return tf.cast(tf.reshape(crops, [batch_size, num_boxes, output_size, output_size, channels]),
                 dtype)


class ROIAligner(mg_roi_aligner.MultilevelROIAligner):
  """Model Garden's `MultilevelROIAligner`, its crops read with CropAndResize where chosen.

  Same config plus `inference_kernel` and `training_kernel` ('crop_and_resize'
  for `crop_and_resize_align`, 'model_garden' for Model Garden's gathers),
  same output ([batch, num_boxes, crop_size, crop_size, channels]).
  `model_garden_crops` (set by `use_model_garden_crops` below) makes it run
  Model Garden's gathers in both modes: for XLA, which needs static shapes,
  and for ONNX conversion, which was tested on Model Garden's gathers.
  """

  model_garden_crops = False

  def __init__(self, *, inference_kernel: str = "crop_and_resize",
               training_kernel: str = "crop_and_resize", **kwargs):
    super().__init__(**kwargs)
    self._config_dict.update(inference_kernel=inference_kernel, training_kernel=training_kernel)

  def call(self, features: Mapping[str, tf.Tensor], boxes: tf.Tensor,
           training: Optional[bool] = None) -> tf.Tensor:
    kernel = self._config_dict["training_kernel" if training else "inference_kernel"]
    if kernel == "model_garden" or self.model_garden_crops:
      return super().call(features, boxes, training=training)
    return crop_and_resize_align(features, boxes, self._config_dict["crop_size"],
                                 self._config_dict["sample_offset"])


def use_model_garden_crops(model) -> List[ROIAligner]:
  """Makes the model's `ROIAligner` layers run Model Garden's gathers in training and inference.

  Returns the aligners it switched (those that read with CropAndResize until now).
  """
  aligners = [getattr(model, name, None) for name in ("roi_aligner", "mask_roi_aligner")]
  switched = [aligner for aligner in aligners
              if isinstance(aligner, ROIAligner) and not aligner.model_garden_crops]
  for aligner in switched:
    aligner.model_garden_crops = True
  return switched


@contextlib.contextmanager
def model_garden_crops(model) -> Iterator[None]:
  """While active, the model's ROI aligners run Model Garden's gathers."""
  switched = use_model_garden_crops(model)
  try:
    yield
  finally:
    for aligner in switched:
      aligner.model_garden_crops = False
