"""The box head's conv kernel gradient as chunked matmuls against TensorFlow's kernel.

    python benchmarks/conv_kernel_gradient.py [--rounds=7]

`conv_kernel_gradient.kernel_gradient` computes the kernel gradient of a 3x3
stride-1 'SAME' convolution as nine matmuls per chunk of rows, in place of
TensorFlow's `Conv2DBackpropFilter` (oneDNN's kernel on x86-64). This script
times both, with the convolution's forward pass and input gradient for
scale, in bfloat16 and float32, on the convolutions of compare_model_garden's
settings:
- the 4conv box head (256 to 256 channels at 7x7) on 1024 ROIs (the R50
  settings' batch 2 x 512, the shapes_4conv setting's 8 x 128) and on 512;
- the R50 mask head: about 40 foreground ROIs per image x 2 at 14x14, 256
  channels, where the plugin keeps TensorFlow's kernel.
Rounds alternate the order of the sides; each figure is the median of the
rounds' per-call times. 'ratio' is TensorFlow's kernel-gradient time over
the matmuls'; 'error' the matmuls' largest difference from TensorFlow's
kernel gradient over its largest magnitude. The plugin uses the matmuls only
in bfloat16 and only in the box head (`matmul_kernel_gradient_applies`).
"""

import argparse

import numpy as np
import maskrcnn_plugin  # noqa: F401  (Keras and the CPU runtime set up before TensorFlow is imported)
import tensorflow as tf

from kernel_timing import median_call_times, relative_difference
from maskrcnn_plugin.modeling.conv_kernel_gradient import kernel_gradient

CALLS_PER_ROUND = 5
# name: (crops, side, channels in and out).
SHAPES = {"box head, 1024 ROIs": (1024, 7, 256), "box head, 512 ROIs": (512, 7, 256),
          "R50 mask head": (82, 14, 256)}


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--rounds", type=int, default=7)
  args = parser.parse_args()
  print("| dtype | convolution | forward ms | input gradient ms | TensorFlow kernel gradient ms "
        "| matmul kernel gradient ms | ratio | error |")
  print("|---|---|---:|---:|---:|---:|---:|---:|")
  for dtype in (tf.bfloat16, tf.float32):
    for name, (crops, side, channels) in SHAPES.items():
      rng = np.random.default_rng(0)
      inputs = tf.constant(rng.normal(size=[crops, side, side, channels]), dtype)
      kernel = tf.constant(rng.normal(size=[3, 3, channels, channels]) * 0.05, dtype)
      output_gradient = tf.constant(rng.normal(size=[crops, side, side, channels]), dtype)
      conv = dict(strides=[1, 1, 1, 1], padding="SAME")
      calls = {
          "forward": (tf.function(lambda x: tf.nn.conv2d(x, kernel, 1, "SAME")), (inputs,)),
          "input gradient": (tf.function(lambda dy: tf.raw_ops.Conv2DBackpropInput(
              input_sizes=inputs.shape, filter=kernel, out_backprop=dy, **conv)),
                             (output_gradient,)),
          "TensorFlow": (tf.function(lambda x, dy: tf.raw_ops.Conv2DBackpropFilter(
              input=x, filter_sizes=kernel.shape, out_backprop=dy, **conv)),
                         (inputs, output_gradient)),
          "matmuls": (tf.function(kernel_gradient), (inputs, output_gradient)),
      }
      results = {key: function(*call_args) for key, (function, call_args) in calls.items()}
      error = relative_difference(results["matmuls"], results["TensorFlow"])
      median = {key: seconds * 1e3
                for key, seconds in median_call_times(calls, args.rounds, CALLS_PER_ROUND).items()}
      print(f"| {dtype.name} | {name} [{crops}, {side}, {side}, {channels}] "
            f"| {median['forward']:.1f} | {median['input gradient']:.1f} "
            f"| {median['TensorFlow']:.1f} | {median['matmuls']:.1f} "
            f"| {median['TensorFlow'] / median['matmuls']:.2f} | {error:.1e} |", flush=True)


if __name__ == "__main__":
  main()
