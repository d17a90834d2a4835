"""The box head's 3x3 convolutions with their kernel gradient as matmuls (bfloat16 on CPU).

The 4conv box head runs four 3x3 convolutions of 256 channels on every sampled
ROI: 1024 crops of 7x7 a step at batch 2. In bfloat16 on an AMX CPU, oneDNN's
forward and input-gradient kernels run that shape at 1.5-1.8 TFLOP/s, but its
kernel gradient (`Conv2DBackpropFilter`) at about 0.45: the four kernel
gradients are the largest single cost of the R50 4conv bfloat16 step.

The kernel gradient of a 3x3 'SAME' convolution is nine matmuls, one per
kernel tap, over the input shifted by that tap:

    dW[i, j] = x_pad[:, i:i + h, j:j + w, :]^T  dy     (rows = crops * h * w)

Split into chunks of about `ROWS_PER_CHUNK` rows, so that a chunk's operands
stay in cache, and summed over the chunks in float32, they ran that shape
1.50x faster than the kernel (1.71x on 512 crops; benchmarks/conv_kernel_gradient.py,
docs/performance.md). The forward pass
and the input gradient stay oneDNN's. The result equals
`Conv2DBackpropFilter`'s to bfloat16 rounding. The bias gradient, which
oneDNN fuses into its kernel gradient, is summed in float32 (`bias_add`).

`matmul_kernel_gradient_applies` says where it is used: where it was measured
to win (bfloat16 compute, a 3x3 kernel, stride 1, no dilation, 'same'
padding, channels last, one group, a static input shape, no GPU visible:
cuDNN's kernel gradient is not the slow one). Every other call keeps Keras'
op and TensorFlow's gradient. At 14x14 on the mask head's ~80 foreground
crops, oneDNN's kernel was the faster, so the mask head keeps it.
"""

from typing import List

import tensorflow as tf
from official.vision.modeling.heads import instance_heads

from maskrcnn_plugin.keras_setup import model_garden_keras

# Rows (crops * height * width) per chunk of the kernel-gradient matmuls: 2-4
# chunks of the box head's 50176 rows ran fastest (docs/performance.md).
ROWS_PER_CHUNK = 16384

keras = model_garden_keras()


def _chunk_sizes(crops: int, rows_per_crop: int) -> List[int]:
  """Crops per chunk, as even as possible, about ROWS_PER_CHUNK rows each."""
  chunks = max(1, min(crops, round(crops * rows_per_crop / ROWS_PER_CHUNK)))
  base, extra = divmod(crops, chunks)
  return [base + 1] * extra + [base] * (chunks - extra)


def kernel_gradient(inputs: tf.Tensor, output_gradient: tf.Tensor) -> tf.Tensor:
  """The kernel gradient of a 3x3 stride-1 'SAME' convolution, as chunked matmuls.

  Args:
    inputs: [crops, height, width, channels_in], static shape.
    output_gradient: [crops, height, width, channels_out], the same dtype.

  Returns:
    [3, 3, channels_in, channels_out] in the inputs' dtype, summed over the
    chunks in float32.
  """
  crops, height, width, channels_in = inputs.shape
  channels_out = output_gradient.shape[-1]
  sizes = _chunk_sizes(crops, height * width)
  total = None
  for x, dy in zip(tf.split(inputs, sizes), tf.split(output_gradient, sizes)):
    padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])
    dy = tf.reshape(dy, [-1, channels_out])
    taps = [tf.matmul(tf.reshape(padded[:, i:i + height, j:j + width, :], [-1, channels_in]),
                      dy, transpose_a=True)
            for i in range(3) for j in range(3)]
    chunk = tf.cast(tf.stack(taps), tf.float32)
    total = chunk if total is None else total + chunk
  return tf.cast(tf.reshape(total, [3, 3, channels_in, channels_out]), inputs.dtype)


@tf.custom_gradient
def conv3x3(inputs: tf.Tensor, kernel: tf.Tensor):
  """`tf.nn.conv2d(inputs, kernel, 1, 'SAME')` whose kernel gradient is `kernel_gradient`.

  Args:
    inputs: [crops, height, width, channels_in], static shape.
    kernel: [3, 3, channels_in, channels_out], the inputs' dtype.

  Returns:
    [crops, height, width, channels_out]; the input gradient is TensorFlow's.
  """
  outputs = tf.nn.conv2d(inputs, kernel, strides=1, padding="SAME")

  def gradient(output_gradient):
    input_gradient = tf.raw_ops.Conv2DBackpropInput(
        input_sizes=tf.shape(inputs), filter=kernel, out_backprop=output_gradient,
        strides=[1, 1, 1, 1], padding="SAME")
    return input_gradient, kernel_gradient(inputs, output_gradient)

  return outputs, gradient


@tf.custom_gradient
def bias_add(inputs: tf.Tensor, bias: tf.Tensor):
  """`tf.nn.bias_add(inputs, bias)` whose bias gradient is summed in float32.

  Without oneDNN's fused kernel gradient (which sums it in float32),
  TensorFlow's bfloat16 `BiasAddGrad` sums in bfloat16: on 4704 rows its
  result was off by several units where the exact sum was about 1.

  Args:
    inputs: [..., channels]; bias: [channels], the same dtype.

  Returns:
    inputs + bias.
  """

  def gradient(output_gradient):
    rows = tf.reshape(tf.cast(output_gradient, tf.float32), [-1, bias.shape[0]])
    return output_gradient, tf.cast(tf.reduce_sum(rows, axis=0), bias.dtype)

  return tf.nn.bias_add(inputs, bias), gradient


def matmul_kernel_gradient_applies(conv, inputs: tf.Tensor) -> bool:
  """Whether `conv3x3` computes this Keras Conv2D on these inputs (see the module doc)."""
  return (conv.compute_dtype == "bfloat16" and tuple(conv.kernel_size) == (3, 3)
          and tuple(conv.strides) == (1, 1) and tuple(conv.dilation_rate) == (1, 1)
          and conv.padding == "same" and conv.data_format == "channels_last"
          and conv.groups == 1 and inputs.shape.rank == 4 and inputs.shape.is_fully_defined()
          and not tf.config.list_logical_devices("GPU"))


class MatmulKernelGradientConv2D(keras.layers.Conv2D):
  """Keras' Conv2D, through `conv3x3` and `bias_add` where `matmul_kernel_gradient_applies`.

  Same arguments, variables, names and checkpoints as Keras' Conv2D.
  """

  def call(self, inputs):
    if not matmul_kernel_gradient_applies(self, inputs):
      return super().call(inputs)
    outputs = conv3x3(inputs, tf.convert_to_tensor(self.kernel))
    if self.use_bias:
      outputs = bias_add(outputs, tf.convert_to_tensor(self.bias))
    return outputs if self.activation is None else self.activation(outputs)


class DetectionHead(instance_heads.DetectionHead):
  """Model Garden's `DetectionHead`, its 3x3 convs as `MatmulKernelGradientConv2D`.

  Same config, variables (in the same order), names, checkpoints and outputs
  as Model Garden's layer; only the kernel and bias gradients of its convs
  under bfloat16 on CPU differ, by bfloat16 rounding.
  """

  def build(self, input_shape):
    super().build(input_shape)
    # The unbuilt convs change class rather than being rebuilt: Keras tracks
    # them in an append-only list, and new layers would reorder the variables.
    # The subclass adds no state, only its call.
    for conv in self._convs:
      if type(conv) is keras.layers.Conv2D:  # pylint: disable=unidiomatic-typecheck
        conv.__class__ = MatmulKernelGradientConv2D
