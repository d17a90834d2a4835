"""ROI align alone: Model Garden's gathers against the plugin's CropAndResize layer.

    python benchmarks/roi_align.py [--rounds=7]

Times the forward and backward pass (gradient to the features) of both
implementations on the demo's shapes: batch 8, FPN levels 2-5 of a 128 px
image with 64 channels, the box head's 128 ROIs per image at 7x7 and the
mask head's 24 foreground ROIs per image at 14x14, in float32 and bfloat16.
Rounds alternate the order of the two sides; each figure is the median of
the rounds' per-call times, the ratio is Model Garden's time over the
plugin's. The largest difference of the crops and of the gradients is
printed too.
"""

import argparse
import time

import numpy as np
import tensorflow as tf
from official.vision.ops import spatial_transform_ops

from maskrcnn_plugin.modeling import native_roi_align

IMAGE_SIZE = 128
CALLS_PER_ROUND = 10


def _inputs(dtype, batch: int, rois: int, channels: int = 64, seed: int = 0):
  """An FPN pyramid and boxes of 2-90 px inside the image, with the edge cases."""
  rng = np.random.default_rng(seed)
  features = {str(level): tf.constant(rng.normal(size=[batch, IMAGE_SIZE // 2**level,
                                                       IMAGE_SIZE // 2**level, channels]), dtype)
              for level in range(2, 6)}
  top_left = rng.uniform(0, IMAGE_SIZE - 4, [batch, rois, 2])
  sides = rng.uniform(2, 90, [batch, rois, 2])
  boxes = np.concatenate([top_left, np.minimum(top_left + sides, IMAGE_SIZE)], axis=-1)
  boxes[:, :3] = [[0, 0, IMAGE_SIZE, IMAGE_SIZE],
                  [IMAGE_SIZE - 10, IMAGE_SIZE - 10, IMAGE_SIZE, IMAGE_SIZE], [0, 0, 0, 0]]
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


def _max_difference(ours, theirs) -> float:
  return float(tf.reduce_max(tf.abs(tf.cast(ours, tf.float32) - tf.cast(theirs, tf.float32))))


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--rounds", type=int, default=7)
  args = parser.parse_args()
  sides = {
      "Model Garden": lambda f, b, size: spatial_transform_ops.multilevel_crop_and_resize(
          f, b, output_size=size),
      "plugin": lambda f, b, size: native_roi_align.multilevel_crop_and_resize(f, b, size, 0.5),
  }
  print("| dtype | ROIs per image x crop | Model Garden ms | plugin ms | MG / plugin "
        "| max crop difference | max gradient difference |")
  print("|---|---|---:|---:|---:|---:|---:|")
  for dtype in (tf.float32, tf.bfloat16):
    for rois, crop_size in ((128, 7), (24, 14)):
      features, boxes = _inputs(dtype, 8, rois)
      steps = {name: _forward_backward(align, crop_size) for name, align in sides.items()}
      (our_crops, our_gradients), (their_crops, their_gradients) = (
          steps[name](features, boxes) for name in ("plugin", "Model Garden"))  # tracing
      times = {name: [] for name in steps}
      for round_index in range(args.rounds):
        order = list(steps) if round_index % 2 == 0 else list(reversed(steps))
        for name in order:
          start = time.perf_counter()
          for _ in range(CALLS_PER_ROUND):
            steps[name](features, boxes)
          times[name].append((time.perf_counter() - start) / CALLS_PER_ROUND)
      theirs, ours = (float(np.median(times[name])) for name in ("Model Garden", "plugin"))
      gradient_gap = max(_max_difference(our_gradients[level], their_gradients[level])
                         for level in features)
      print(f"| {dtype.name} | {rois} x {crop_size}x{crop_size} | {theirs * 1e3:.2f} "
            f"| {ours * 1e3:.2f} | {theirs / ours:.2f} | {_max_difference(our_crops, their_crops):.1e} "
            f"| {gradient_gap:.1e} |", flush=True)


if __name__ == "__main__":
  main()
