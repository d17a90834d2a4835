"""ROI align on TensorFlow's CropAndResize kernel against Model Garden's gathers.

    python benchmarks/roi_align.py [--setting=shapes|r50] [--rounds=7]

The plugin's `roi_align.crop_and_resize_align` (the default in training and at inference) reads
Model Garden's ROI crops (its level assignment and sample points) with the
CropAndResize kernel instead of Model Garden's gathers
(`spatial_transform_ops.multilevel_crop_and_resize`).
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
magnitude. The last column is the largest difference between two identical
backward passes of `crop_and_resize_align` (gradient to the features,
float32) over the largest gradient value: 0 with its `unsorted_segment_sum`
gradient. TensorFlow's own CPU gradient kernel of CropAndResize shards the
boxes over threads that add into the feature map without synchronisation,
so overlapping boxes would lose updates.
"""

import argparse

import numpy as np
import maskrcnn_plugin  # noqa: F401  (Keras and the CPU runtime set up before TensorFlow is imported)
import tensorflow as tf
from official.vision.ops import spatial_transform_ops

from kernel_timing import median_call_times, relative_difference
from maskrcnn_plugin.modeling.roi_align import crop_and_resize_align

CALLS_PER_ROUND = 10
# setting: (batch, image size, channels, [(ROIs per image, crop size)]).
SETTINGS = {"shapes": (8, 128, 64, [(128, 7), (24, 14)]),
            "r50": (2, 256, 256, [(512, 7), (16, 14)])}


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
      errors = {name: relative_difference(value, reference) for name, value in crops.items()}
      median = median_call_times({name: (call, (features, boxes)) for name, call in calls.items()},
                                 args.rounds, CALLS_PER_ROUND)
      theirs, ours = median["Model Garden"], median["CropAndResize"]
      race_text = "-"
      if dtype == tf.float32:
        gradients = _feature_gradients(sides["CropAndResize"], crop_size)
        first, second = gradients(features, boxes), gradients(features, boxes)
        race = max(relative_difference(first[level], second[level]) for level in features
                   if tf.reduce_any(second[level] != 0))
        race_text = f"{race:.1e}"
      print(f"| {dtype.name} | {rois} x {crop_size}x{crop_size} | {theirs * 1e3:.2f} "
            f"| {ours * 1e3:.2f} | {theirs / ours:.2f} | {errors['Model Garden']:.1e}, "
            f"{errors['CropAndResize']:.1e} | {race_text} |", flush=True)


if __name__ == "__main__":
  main()
