"""ROI align alone: Model Garden's gathers against the plugin's CropAndResize layer.

    python benchmarks/roi_align.py [--setting=shapes|r50] [--rounds=7]

Times the forward and backward pass (gradient to the features) of both
implementations, in float32 and bfloat16, on the shapes of a setting of
`compare_model_garden.py`:
- shapes (the demo): batch 8, FPN levels 2-5 of a 128 px image with 64
  channels, the box head's 128 ROIs per image at 7x7, the mask head's 24
  foreground ROIs per image at 14x14 (late in the demo's training);
- r50: batch 2, levels 2-5 of a 256 px image with 256 channels, 512 box ROIs
  per image at 7x7, 16 foreground mask ROIs per image at 14x14.
Rounds alternate the order of the two sides; each figure is the median of
the rounds' per-call times, the ratio is Model Garden's time over the
plugin's. Each side's error is against Model Garden's float32 result on the
same (rounded) features: the largest difference of the crops, and of the
feature gradients per level, over the largest magnitude of the reference. In
bfloat16 Model Garden interpolates and sums the gradient in bfloat16, the
plugin in float32.
"""

import argparse
import time

import numpy as np
import tensorflow as tf
from official.vision.ops import spatial_transform_ops

from maskrcnn_plugin.modeling import native_roi_align

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


def _forward_backward(align, crop_size: int):
  @tf.function
  def step(features, boxes):
    with tf.GradientTape() as tape:
      tape.watch(features)
      crops = align(features, boxes, crop_size)
      weights = tf.reshape(tf.cast(tf.range(tf.size(crops)) % 7, tf.float32), tf.shape(crops))
      loss = tf.reduce_sum(tf.cast(crops, tf.float32) * weights)
    return crops, tape.gradient(loss, features)
  return step


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
      "plugin": lambda f, b, size: native_roi_align.multilevel_crop_and_resize(f, b, size, 0.5),
  }
  print("| dtype | ROIs per image x crop | Model Garden ms | plugin ms | MG / plugin "
        "| crop error MG, plugin | gradient error MG, plugin |")
  print("|---|---|---:|---:|---:|---:|---:|")
  for dtype in (tf.float32, tf.bfloat16):
    for rois, crop_size in roi_crops:
      features, boxes = _inputs(dtype, batch, image_size, channels, rois)
      steps = {name: _forward_backward(align, crop_size) for name, align in sides.items()}
      results = {name: step(features, boxes) for name, step in steps.items()}  # tracing
      reference_crops, reference_gradients = _forward_backward(sides["Model Garden"], crop_size)(
          {level: tf.cast(value, tf.float32) for level, value in features.items()}, boxes)
      errors = {}
      for name, (side_crops, side_gradients) in results.items():
        gradient_error = max(_relative_difference(side_gradients[level],
                                                  reference_gradients[level])
                             for level in features
                             if tf.reduce_any(reference_gradients[level] != 0))
        errors[name] = (_relative_difference(side_crops, reference_crops), gradient_error)
      times = {name: [] for name in steps}
      for round_index in range(args.rounds):
        order = list(steps) if round_index % 2 == 0 else list(reversed(steps))
        for name in order:
          start = time.perf_counter()
          for _ in range(CALLS_PER_ROUND):
            steps[name](features, boxes)
          times[name].append((time.perf_counter() - start) / CALLS_PER_ROUND)
      theirs, ours = (float(np.median(times[name])) for name in ("Model Garden", "plugin"))
      (mg_crops, mg_gradients), (our_crops, our_gradients) = (
          errors[name] for name in ("Model Garden", "plugin"))
      print(f"| {dtype.name} | {rois} x {crop_size}x{crop_size} | {theirs * 1e3:.2f} "
            f"| {ours * 1e3:.2f} | {theirs / ours:.2f} | {mg_crops:.1e}, {our_crops:.1e} "
            f"| {mg_gradients:.1e}, {our_gradients:.1e} |", flush=True)


if __name__ == "__main__":
  main()
