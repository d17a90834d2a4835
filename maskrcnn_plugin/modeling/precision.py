"""Box math in float32 under a mixed precision policy.

Under `mixed_bfloat16` or `mixed_float16` every Keras layer computes in the
reduced type, and Model Garden's box layers follow their inputs' dtype:
proposal decoding, ROI sampling, box targets and the detection generator then
run on bfloat16 boxes, whose 8 significant bits round a pixel coordinate above
512 to a multiple of 4. The builder keeps them in float32 with two pieces:

- `float32_policy()`: the box-math parts (ROI generator, ROI samplers,
  detection generator, mask sampler) are built under a float32 policy, so
  Keras does not cast their float32 inputs (ROIs, ground truth) down;
- `Float32Arguments`: a mixin for those layers that casts the head outputs
  they receive (RPN scores and deltas, class scores and box deltas, which stay
  in the reduced type) to float32 before the layer's own code runs.

Convolutions, fully connected layers and batch norm of the backbone, decoder
and heads keep the reduced type; that is where the time is. The heads' last
layers (`PREDICTION_LAYERS`: RPN scores and box deltas, class scores, box
deltas and mask logits) compute in float32 (`float32_predictions`), as
TensorFlow's mixed precision guide advises for a model's outputs: in bfloat16
close scores tie and reorder the detections.
"""

import contextlib
from typing import Any, Iterator

import tensorflow as tf

from maskrcnn_plugin.keras_setup import model_garden_keras


@contextlib.contextmanager
def policy_scope(policy: str) -> Iterator[None]:
  """Layers created inside use the Keras policy `policy` ('float32', 'mixed_bfloat16', ...)."""
  mixed_precision = model_garden_keras().mixed_precision
  previous = mixed_precision.global_policy()
  mixed_precision.set_global_policy(policy)
  try:
    yield
  finally:
    mixed_precision.set_global_policy(previous)


def float32_policy():
  """Layers created inside compute in float32 whatever the global policy is."""
  return policy_scope("float32")


# The names Model Garden's heads give their output layers.
PREDICTION_LAYERS = ("rpn-scores", "rpn-boxes", "detection-scores", "detection-boxes",
                     "mask-logits")


def float32_predictions(model: Any) -> int:
  """Makes the built `model`'s PREDICTION_LAYERS compute in float32; returns how many.

  Call it after the model's first call (Model Garden's heads create their
  layers when they are built). The variables are float32 under any mixed
  policy, so the checkpoint layout does not change; Keras casts the layers'
  reduced-type inputs up. Other heads' output layers are left as they are.
  """
  layers = [layer for layer in model._flatten_layers(include_self=False)  # pylint: disable=protected-access
            if layer.name.split("_")[0] in PREDICTION_LAYERS]
  for layer in layers:
    layer._set_dtype_policy("float32")  # pylint: disable=protected-access
  return len(layers)


def to_float32(structure: Any) -> Any:
  """`structure` with every floating-point tensor cast to float32 (others unchanged)."""

  def cast(value):
    if isinstance(value, (tf.Tensor, tf.Variable)) and value.dtype.is_floating:
      return tf.cast(value, tf.float32)
    return value

  return tf.nest.map_structure(cast, structure)


class Float32Arguments:
  """Mixin for a box-math layer: floating tensor arguments become float32.

  Put it first in the bases (`class L(Float32Arguments, ModelGardenLayer)`).
  It wraps `__call__`, since some Model Garden layers (the detection
  generator) override `__call__` and never reach Keras's input casting.
  """

  def __call__(self, *args, **kwargs):
    return super().__call__(*to_float32(args), **to_float32(kwargs))
