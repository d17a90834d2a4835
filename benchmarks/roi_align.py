"""ROI align on TensorFlow's CropAndResize kernel: a candidate measured, not kept.

    python benchmarks/roi_align.py [--setting=shapes|r50] [--rounds=7]

`crop_and_resize_align` below reads Model Garden's ROI crops (its level
assignment and sample points) with the CropAndResize kernel instead of
Model Garden's gathers (`spatial_transform_ops.multilevel_crop_and_resize`).
This script times the forward pass of both, in float32 and bfloat16, on the
shapes of a setting of `compare_model_garden.py`:
- shapes (the demo): batch 8, FPN levels 2-5 of a 128 px image with 64
  channels, the box head's 128 ROIs per image at 7x7, the mask head's 24
  ROIs per image at 14x14;
- r50: batch 2, levels 2-5 of a 256 px image with 256 channels, 512 box ROIs
  per image at 7x7, 16 mask ROIs per image at 14x14.
Rounds alternate the order of the two sides; each figure is the median of
the rounds' per-call times, the ratio is Model Garden's time over the
kernel's. Each side's crop error is against Model Garden's float32 crops of
the same (rounded) features: the largest difference over the largest
magnitude. The last column is why training cannot use it: the largest
difference between two identical backward passes of CropAndResize (gradient
to the features, float32) over the largest gradient value. Its CPU kernel
shards the boxes over threads that add into the feature map without
synchronisation, so overlapping boxes lose updates.
"""

import argparse
import time

import numpy as np
import tensorflow as tf
from official.vision.ops import spatial_transform_ops

CALLS_PER_ROUND = 10
# setting: (batch, image size, channels, [(ROIs per image, crop size)]).
SETTINGS = {"shapes": (8, 128, 64, [(128, 7), (24, 14)]),
            "r50": (2, 256, 256, [(512, 7), (16, 14)])}


def crop_and_resize_align(features, boxes, output_size: int, sample_offset: float = 0.5):
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
    crops.append(tf.image.crop_and_resize(edge_repeated, sample_boxes,
                                          tf.gather(box_images, level_positions),
                                          [output_size, output_size]))
  crops = tf.dynamic_stitch(positions, crops)
  return tf.cast(tf.reshape(crops, [batch_size, num_boxes, output_size, output_size, channels]),
                 dtype)


def _inputs(dtype, batch: int, image_size: int, channels: int, rois: int, seed: int = 0):
  """An FPN pyramid and boxes of 2 px to 70% of the image inside it, with the edge cases."""
  rng = np.random.default_rng(seed)
  features = {str(level): tf.constant(rng.normal(size=[batch, image_size // 2**level,
                                                       image_size // 2**level, channels]), dtype)
              for level in range(2, 6)}
  top_left = rng.uniform(0, image_size - 4, [batch, rois, 2])
  sides = rng.uniform(2, 0.7 * image_size, [batch, rois, 2])
  boxes = np.concatenate([top_left, np.minimum(top_left + sides, image_size)], axis=-1)
  boxes[:, :3] = [[0, 0, image_size, image_size],
                  [image_size - 10, image_size - 10, image_size, image_size], [0, 0, 0, 0]]
  return features, tf.constant(boxes, tf.float32)


def _feature_gradients(align, crop_size: int):
  @tf.function
  def gradients(features, boxes):
    with tf.GradientTape() as tape:
      tape.watch(features)
      crops = align(features, boxes, crop_size)
      weights = tf.reshape(tf.cast(tf.range(tf.size(crops)) % 7, tf.float32), tf.shape(crops))
      loss = tf.reduce_sum(tf.cast(crops, tf.float32) * weights)
    return tape.gradient(loss, features)
  return gradients


def _relative_difference(values, reference) -> float:
  """The largest difference over the largest magnitude of the reference."""
  values, reference = tf.cast(values, tf.float32), tf.cast(reference, tf.float32)
  return float(tf.reduce_max(tf.abs(values - reference)) / tf.reduce_max(tf.abs(reference)))


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--setting", choices=sorted(SETTINGS), default="shapes")
  parser.add_argument("--rounds", type=int, default=7)
  args = parser.parse_args()
  batch, image_size, channels, roi_crops = SETTINGS[args.setting]
  sides = {
      "Model Garden": lambda f, b, size: spatial_transform_ops.multilevel_crop_and_resize(
          f, b, output_size=size),
      "CropAndResize": lambda f, b, size: crop_and_resize_align(f, b, size),
  }
  print("| dtype | ROIs per image x crop | Model Garden ms | CropAndResize ms | ratio "
        "| crop error MG, CropAndResize | CropAndResize gradient, run to run |")
  print("|---|---|---:|---:|---:|---:|---:|")
  for dtype in (tf.float32, tf.bfloat16):
    for rois, crop_size in roi_crops:
      features, boxes = _inputs(dtype, batch, image_size, channels, rois)
      calls = {name: tf.function(lambda f, b, align=align, size=crop_size: align(f, b, size))
               for name, align in sides.items()}
      crops = {name: call(features, boxes) for name, call in calls.items()}  # tracing
      reference = calls["Model Garden"](
          {level: tf.cast(value, tf.float32) for level, value in features.items()}, boxes)
      errors = {name: _relative_difference(value, reference) for name, value in crops.items()}
      times = {name: [] for name in calls}
      for round_index in range(args.rounds):
        order = list(calls) if round_index % 2 == 0 else list(reversed(calls))
        for name in order:
          start = time.perf_counter()
          for _ in range(CALLS_PER_ROUND):
            calls[name](features, boxes)
          times[name].append((time.perf_counter() - start) / CALLS_PER_ROUND)
      theirs, ours = (float(np.median(times[name])) for name in ("Model Garden", "CropAndResize"))
      race_text = "-"
      if dtype == tf.float32:
        gradients = _feature_gradients(sides["CropAndResize"], crop_size)
        first, second = gradients(features, boxes), gradients(features, boxes)
        race = max(_relative_difference(first[level], second[level]) for level in features
                   if tf.reduce_any(second[level] != 0))
        race_text = f"{race:.1e}"
      print(f"| {dtype.name} | {rois} x {crop_size}x{crop_size} | {theirs * 1e3:.2f} "
            f"| {ours * 1e3:.2f} | {theirs / ours:.2f} | {errors['Model Garden']:.1e}, "
            f"{errors['CropAndResize']:.1e} | {race_text} |", flush=True)


if __name__ == "__main__":
  main()
