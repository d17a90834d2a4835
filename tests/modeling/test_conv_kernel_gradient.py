"""conv_kernel_gradient: the box head's conv kernel gradients as matmuls equal TensorFlow's."""

import gin
import numpy as np
import pytest
import tensorflow as tf
from official.vision.modeling.heads import instance_heads

from maskrcnn_plugin.keras_setup import model_garden_keras
from maskrcnn_plugin.modeling import build_from_gin, conv_kernel_gradient
from helpers.tiny_models import parse_tiny_shapes, training_batch

keras = model_garden_keras()


def _filter_gradient(inputs, output_gradient, channels_out):
  channels_in = inputs.shape[-1]
  return tf.raw_ops.Conv2DBackpropFilter(
      input=inputs, filter_sizes=[3, 3, channels_in, channels_out], out_backprop=output_gradient,
      strides=[1, 1, 1, 1], padding="SAME")


@pytest.mark.parametrize("rows_per_chunk,expected_chunks", [(100, [3, 2, 2]), (10**6, [7])])
def test_kernel_gradient_is_conv2d_backprop_filter(monkeypatch, rows_per_chunk, expected_chunks):
  monkeypatch.setattr(conv_kernel_gradient, "ROWS_PER_CHUNK", rows_per_chunk)
  assert conv_kernel_gradient._chunk_sizes(7, 49) == expected_chunks  # pylint: disable=protected-access
  rng = np.random.default_rng(0)
  inputs = tf.constant(rng.normal(size=[7, 7, 7, 5]), tf.float32)
  output_gradient = tf.constant(rng.normal(size=[7, 7, 7, 6]), tf.float32)
  actual = conv_kernel_gradient.kernel_gradient(inputs, output_gradient)
  expected = _filter_gradient(inputs, output_gradient, 6)
  assert actual.shape == (3, 3, 5, 6) and actual.dtype == tf.float32
  np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-4)


def test_bias_add_sums_its_gradient_in_float32():
  rng = np.random.default_rng(2)
  inputs = tf.constant(rng.normal(size=[96, 7, 7, 8]), tf.bfloat16)
  bias = tf.constant(rng.normal(size=[8]), tf.bfloat16)
  output_gradient = tf.constant(rng.normal(size=[96, 7, 7, 8]), tf.bfloat16)
  with tf.GradientTape() as tape:
    tape.watch(bias)
    outputs = conv_kernel_gradient.bias_add(inputs, bias)
  np.testing.assert_array_equal(outputs, tf.nn.bias_add(inputs, bias))
  gradient = tape.gradient(outputs, bias, output_gradients=output_gradient)
  exact = tf.reduce_sum(tf.cast(output_gradient, tf.float64), axis=[0, 1, 2])
  assert gradient.dtype == tf.bfloat16
  np.testing.assert_allclose(tf.cast(gradient, tf.float64), exact, rtol=8e-3)


def _conv_and_gradients(conv, inputs, kernel, weights):
  with tf.GradientTape() as tape:
    tape.watch([inputs, kernel])
    outputs = conv(inputs, kernel)
    loss = tf.reduce_sum(tf.cast(outputs, tf.float32) * weights)
  return (outputs, *tape.gradient(loss, [inputs, kernel]))


def test_conv3x3_is_conv2d_in_bfloat16():
  """Outputs and input gradients bit-equal; kernel gradients to bfloat16 rounding."""
  rng = np.random.default_rng(1)
  inputs = tf.constant(rng.normal(size=[64, 7, 7, 32]), tf.bfloat16)
  kernel = tf.constant(rng.normal(size=[3, 3, 32, 16]) * 0.1, tf.bfloat16)
  weights = tf.constant(rng.normal(size=[64, 7, 7, 16]), tf.float32)
  actual = _conv_and_gradients(conv_kernel_gradient.conv3x3, inputs, kernel, weights)
  expected = _conv_and_gradients(lambda x, w: tf.nn.conv2d(x, w, 1, "SAME"), inputs, kernel,
                                 weights)
  for mine, theirs in zip(actual, expected):
    assert mine.dtype == theirs.dtype == tf.bfloat16
  np.testing.assert_array_equal(actual[0], expected[0])
  np.testing.assert_array_equal(actual[1], expected[1])
  scale = float(tf.reduce_max(tf.abs(tf.cast(expected[2], tf.float32))))
  np.testing.assert_allclose(tf.cast(actual[2], tf.float32) / scale,
                             tf.cast(expected[2], tf.float32) / scale, atol=8e-3)


def _conv(policy="mixed_bfloat16", **kwargs):
  arguments = {"filters": 8, "kernel_size": 3, "padding": "same", "dtype": policy, **kwargs}
  return conv_kernel_gradient.MatmulKernelGradientConv2D(**arguments)


@pytest.mark.parametrize("conv,shape,applies", [
    (_conv(), [4, 7, 7, 8], True),
    (_conv("float32"), [4, 7, 7, 8], False),
    (_conv("mixed_float16"), [4, 7, 7, 8], False),
    (_conv(kernel_size=1), [4, 7, 7, 8], False),
    (_conv(strides=2), [4, 7, 7, 8], False),
    (_conv(dilation_rate=2), [4, 7, 7, 8], False),
    (_conv(padding="valid"), [4, 7, 7, 8], False),
    (_conv(), [None, 7, 7, 8], False),
], ids=["bfloat16", "float32", "float16", "1x1", "stride", "dilation", "valid", "dynamic"])
def test_it_applies_only_where_it_was_measured_faster(conv, shape, applies):
  seen = []
  tf.function(lambda x: seen.append(conv_kernel_gradient.matmul_kernel_gradient_applies(conv, x))
              ).get_concrete_function(tf.TensorSpec(shape, conv.compute_dtype))
  assert seen == [applies]


def _heads(policy, **config):
  """(the plugin's DetectionHead, Model Garden's), built under `policy` with the same weights."""
  keras.mixed_precision.set_global_policy(policy)
  try:
    heads = []
    for head_class in (conv_kernel_gradient.DetectionHead, instance_heads.DetectionHead):
      keras.utils.set_random_seed(0)
      head = head_class(num_classes=4, num_convs=2, num_filters=8, num_fcs=1, fc_dims=16,
                        **config)
      head(tf.zeros([2, 3, 7, 7, 8]))
      heads.append(head)
  finally:
    keras.mixed_precision.set_global_policy("float32")
  return heads


def _head_gradients(head, features):
  with tf.GradientTape() as tape:
    classes, boxes = head(features, training=True)
    loss = tf.reduce_sum(tf.cast(classes, tf.float32) ** 2) + tf.reduce_sum(
        tf.cast(boxes, tf.float32) ** 2)
  return loss, dict(zip([v.name.split("/", 1)[1] for v in head.trainable_variables],
                        tape.gradient(loss, head.trainable_variables)))


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "float32"])
def test_the_detection_head_is_model_gardens(policy, tmp_path):
  """Same variables and checkpoints; in bfloat16 only the convs' gradients differ.

  Those are the kernels' and biases', by bfloat16 rounding.
  """
  ours, theirs = _heads(policy)
  assert [type(conv) for conv in ours._convs] == [  # pylint: disable=protected-access
      conv_kernel_gradient.MatmulKernelGradientConv2D] * 2
  def names(head):
    return [variable.name.split("/", 1)[1] for variable in head.variables]
  assert names(ours) == names(theirs)
  assert ours.get_config() == theirs.get_config()
  path = tf.train.Checkpoint(head=theirs).write(str(tmp_path / "head"))
  ours.set_weights([np.zeros_like(w) for w in ours.get_weights()])
  tf.train.Checkpoint(head=ours).read(path).assert_consumed()
  for mine, expected in zip(ours.get_weights(), theirs.get_weights()):
    np.testing.assert_array_equal(mine, expected)

  features = tf.random.stateless_normal([2, 48, 7, 7, 8], seed=(3, 4))
  loss, grads = tf.function(lambda: _head_gradients(ours, features))()
  expected_loss, expected_grads = tf.function(lambda: _head_gradients(theirs, features))()
  assert loss == expected_loss
  convs = {f"detection-conv_{i}/{weight}:0" for i in range(2) for weight in ("kernel", "bias")}
  assert convs < set(grads)
  for name, expected in expected_grads.items():
    if policy == "float32" or name not in convs:
      np.testing.assert_array_equal(grads[name], expected, err_msg=name)
    else:  # bfloat16 rounding of the sums, relative to the kernel's largest gradient
      scale = float(tf.reduce_max(tf.abs(expected_grads[name.replace("bias", "kernel")])))
      assert scale > 0
      np.testing.assert_allclose(grads[name] / scale, expected / scale, atol=1e-2, err_msg=name)


def test_separable_convs_stay_keras():
  ours, _ = _heads("mixed_bfloat16", use_separable_conv=True)
  assert [type(conv) for conv in ours._convs] == [  # pylint: disable=protected-access
      keras.layers.SeparableConv2D] * 2


@pytest.mark.parametrize("choice,head_class", [
    ("matmul", conv_kernel_gradient.DetectionHead), ("native", instance_heads.DetectionHead)])
def test_gin_chooses_the_box_head(choice, head_class):
  parse_tiny_shapes("detection_heads.detection_head.num_convs = 1",
                    f"detection_heads.detection_head.conv_kernel_gradient = '{choice}'")
  try:
    model = build_from_gin()
  finally:
    gin.clear_config()
  assert [type(head) for head in model.detection_head] == [head_class]


def test_a_bfloat16_training_step_equals_the_native_ones_but_for_the_box_head_convs(monkeypatch):
  calls = []
  conv3x3 = conv_kernel_gradient.conv3x3
  monkeypatch.setattr(conv_kernel_gradient, "conv3x3",
                      lambda *args: calls.append(args[0].shape) or conv3x3(*args))
  keras.mixed_precision.set_global_policy("mixed_bfloat16")
  models = {}
  try:
    for choice in ("matmul", "native"):
      parse_tiny_shapes("detection_heads.detection_head.num_convs = 2",
                        "detection_heads.detection_head.num_filters = 8",
                        f"detection_heads.detection_head.conv_kernel_gradient = '{choice}'")
      keras.utils.set_random_seed(0)
      models[choice] = build_from_gin()
      gin.clear_config()
  finally:
    gin.clear_config()
    keras.mixed_precision.set_global_policy("float32")
  images, inputs = training_batch([2, 1])
  calls.clear()  # Those of the builder's inference call.

  def gradients(model):
    tf.random.set_seed(11)  # The same sampled ROIs on both sides.
    with tf.GradientTape() as tape:
      outputs = model(images, **inputs)
      loss = tf.add_n([tf.reduce_sum(tf.cast(outputs[key], tf.float32) ** 2)
                       for key in ("class_outputs", "box_outputs", "mask_outputs")])
    return loss, tape.gradient(loss, model.trainable_variables)

  # In a graph, as in training: oneDNN's fused kernel and bias gradient on the native side.
  loss, grads = tf.function(gradients)(models["matmul"])
  expected_loss, expected_grads = tf.function(gradients)(models["native"])
  # Both box-head convs of the matmul side, once each, on the 2 x 128 sampled ROIs.
  assert calls == [(256, 7, 7, 16), (256, 7, 7, 8)]
  assert loss == expected_loss
  checked = 0
  named = {variable.name: expected for variable, expected
           in zip(models["native"].trainable_variables, expected_grads)}
  for variable, mine, expected in zip(models["native"].trainable_variables, grads,
                                      expected_grads):
    if expected is None:
      continue
    checked += 1
    if "detection-conv_" in variable.name:  # bfloat16 rounding, relative to the kernel's
      scale = float(tf.reduce_max(tf.abs(named[variable.name.replace("bias", "kernel")])))
      np.testing.assert_allclose(mine / scale, expected / scale, atol=1e-2, err_msg=variable.name)
    else:
      np.testing.assert_array_equal(mine, expected, err_msg=variable.name)
  assert checked > 20
