"""Checks that a backbone and a decoder keep the feature contract.

Contract (`registries.BACKBONES.contract`): a backbone is a Keras model of
Model Garden's Keras that maps images [batch, height, width, 3] to a dict of
feature maps keyed by level strings, where level l has spatial size
[ceil(height / 2**l), ceil(width / 2**l)] (stride 2**l), and that exposes
`output_specs`, the {level: TensorShape} of those outputs; a backbone without
the attribute gets it inferred (`infer_output_specs`). The decoder maps that
dict to a dict holding every level min_level..max_level.

Model Garden's layers fail deep inside Keras when a part breaks this (a KeyError
on a level, a shape mismatch in the FPN's top-down sum, a Keras 3 tensor in a
tf_keras layer); these checks turn each fault into one ContractError naming
the component and what to change.
"""

import math
from collections.abc import Mapping
from typing import Any, Callable, Dict, Sequence

from absl import logging
import tensorflow as tf

from maskrcnn_plugin import errors
from maskrcnn_plugin.errors import ContractError
from maskrcnn_plugin.keras_setup import (WrongKerasError, check_model_garden_keras, keras_name_of,
                                         model_garden_keras)

Features = Dict[str, Any]


def check_backbone(backbone: Any, name: str, image_size: Sequence[int], min_level: int,
                   max_level: int) -> Features:
  """Checks a built backbone; returns its outputs for a symbolic image input.

  Checks, in order: the object is a Keras model of Model Garden's Keras; it
  runs on images [batch, height, width, 3]; its output is a dict with level
  string keys; it has `output_specs` (set to the inferred specs, and logged,
  when the attribute is missing: `infer_output_specs`) whose levels it
  outputs; those levels
  include the contiguous levels min_level..min(max_level, its top level) that
  a decoder needs; each of them has stride 2**level. Keys that are not level
  strings (Model Garden's MobileNet can add "2/expansion_output") and output
  levels absent from `output_specs` (its extra level "6") are left alone:
  decoders are built from `output_specs`. Without a decoder, `check_decoder`
  also requires every level up to max_level.

  Args:
    backbone: What the backbone factory returned.
    name: The backbone's registered gin name, used in messages.
    image_size: [height, width] of the model's images.
    min_level: Finest level of the anchors and heads.
    max_level: Coarsest level of the anchors and heads.

  Returns:
    The backbone's output dict for a symbolic `keras.Input` of the image size.

  Raises:
    ContractError: one message naming the backbone and the fault.
  """
  what = f"Backbone '{name}'"
  _check_keras_model(backbone, what)
  height, width = image_size
  keras = model_garden_keras()
  try:
    outputs = backbone(keras.Input(shape=(height, width, 3)))
  except Exception as error:  # Any failure here is the backbone's: report it in one line.
    raise ContractError(f"{what} fails on images [batch, {height}, {width}, 3]: "
                        f"{errors.reason(error)}") from error
  features = _level_features(outputs, what)
  if not hasattr(backbone, "output_specs"):
    backbone.output_specs = infer_output_specs(backbone, image_size)
    logging.info("%s has no `output_specs`: inferred %s from its %s.", what,
                 {level: shape.as_list() for level, shape in backbone.output_specs.items()},
                 "outputs" if _is_functional(backbone) else "output on a zero image")
  specs = backbone.output_specs
  if not isinstance(specs, Mapping):
    raise ContractError(
        f"{what} has `output_specs` of type {type(specs).__name__}, not the dict "
        f"{{level: shape}} of its outputs (decoders are built from it): set "
        f"`model.output_specs = {{level: tensor.shape for level, tensor in features.items()}}`, "
        f"or leave it out to have it inferred.")
  spec_levels = [str(level) for level in specs if str(level).isdigit()]
  unknown = [level for level in spec_levels if level not in features]
  if unknown or not spec_levels:
    raise ContractError(
        f"{what} has output_specs for levels {_levels(specs)} but outputs levels "
        f"{_levels(features)}: output_specs must describe the output dict, "
        f"{{level: tensor.shape}}.")
  features = {level: features[level] for level in spec_levels}
  top = min(max_level, max(max(map(int, spec_levels)), min_level))
  _check_levels(what, features, image_size, range(min_level, top + 1), min_level, max_level,
                lambda: backbone(tf.zeros([1, height, width, 3]), training=False))
  return dict(outputs)


def infer_output_specs(backbone: Any, image_size: Sequence[int]) -> Dict[str, tf.TensorShape]:
  """The {level: TensorShape} of a backbone's level outputs, for one without `output_specs`.

  A functional Keras model's outputs give them (`model.output`, the output
  dict); any other model is called once on a zero image [1, height, width, 3]
  and the batch dimension of the shapes is left unknown, as in Model
  Garden's backbones. Keys that are not level strings are left out.
  """
  if _is_functional(backbone):
    outputs = backbone.output
  else:
    height, width = image_size
    outputs = backbone(tf.zeros([1, height, width, 3]), training=False)
  if not isinstance(outputs, Mapping):
    return {}
  return {key: tf.TensorShape((None,) + _shape(tensor)[1:])
          for key, tensor in outputs.items() if isinstance(key, str) and key.isdigit()}


def _is_functional(model: Any) -> bool:
  # Keras exports no Functional class; its models built from Inputs set this.
  return bool(getattr(model, "_is_graph_network", False))


def check_decoder(decoder: Any, name: str, backbone_name: str, backbone: Any,
                  backbone_outputs: Features, image_size: Sequence[int], min_level: int,
                  max_level: int) -> None:
  """Checks that the heads get every level min_level..max_level at its stride.

  With no decoder (None, e.g. `decoders.identity`) the backbone's own
  outputs must hold those levels.

  Args:
    decoder: What the decoder factory returned (a Keras model or None).
    name: The decoder's registered gin name, used in messages.
    backbone_name: The backbone's registered gin name, used in messages.
    backbone: The checked backbone (for an eager pass when shapes are dynamic).
    backbone_outputs: The backbone's output for a symbolic image input.
    image_size: [height, width] of the model's images.
    min_level: Finest level of the anchors and heads.
    max_level: Coarsest level of the anchors and heads.

  Raises:
    ContractError: one message naming the decoder (or backbone) and the fault.
  """
  height, width = image_size
  eager_backbone = lambda: backbone(tf.zeros([1, height, width, 3]), training=False)
  required = range(min_level, max_level + 1)
  if decoder is None:
    what = f"Backbone '{backbone_name}' (used without a decoder, '{name}')"
    _check_levels(what, _level_features(backbone_outputs, what), image_size, required,
                  min_level, max_level, eager_backbone)
    return
  what = f"Decoder '{name}'"
  _check_keras_model(decoder, what)
  try:
    outputs = decoder(backbone_outputs)
  except Exception as error:  # Any failure here is the decoder's: report it in one line.
    raise ContractError(f"{what} fails on the features of backbone '{backbone_name}' (levels "
                        f"{_levels(backbone_outputs)}): {type(error).__name__}: "
                        f"{errors.first_line(error)}") from error
  _check_levels(what, _level_features(outputs, what), image_size, required, min_level,
                max_level, lambda: decoder(eager_backbone(), training=False))


def _check_keras_model(obj: Any, what: str) -> None:
  keras = model_garden_keras()
  if isinstance(obj, keras.Model):
    return
  if keras_name_of(obj).startswith("not Keras"):
    raise ContractError(f"{what} is a {type(obj).__name__}, not a Keras model: its factory must "
                        f"return a {keras.__name__.split('.')[0]}.Model (Model Garden's Keras).")
  try:
    check_model_garden_keras(obj, what)
  except WrongKerasError as error:
    raise ContractError(str(error)) from error
  raise ContractError(f"{what} is a Keras {type(obj).__name__} layer, not a Keras model: wrap it "
                      f"in `keras.Model(inputs, features)`.")


def _level_features(outputs: Any, what: str) -> Features:
  """The level entries of a feature dict; raises unless there are any."""
  if not isinstance(outputs, Mapping):
    raise ContractError(
        f"{what} returns a {type(outputs).__name__}, not a dict of feature maps keyed by level "
        f"strings ('2'..'5' for strides 4..32).")
  features = {key: value for key, value in outputs.items()
              if isinstance(key, str) and key.isdigit()}
  if not features:
    hint = " (use str(level) as keys)" if any(isinstance(key, int) for key in outputs) else ""
    raise ContractError(
        f"{what} returns a dict with keys {sorted(map(repr, outputs))}; its feature maps must be "
        f"keyed by level strings such as '2'..'5', level l having stride 2**l{hint}.")
  return features


def _check_levels(what: str, features: Features, image_size: Sequence[int],
                  required: range, min_level: int, max_level: int,
                  eager_outputs: Callable[[], Mapping[str, Any]]) -> None:
  """Raises ContractError unless `features` has every `required` level at its stride."""
  missing = [level for level in required if str(level) not in features]
  if missing:
    raise ContractError(
        f"{what} outputs levels {_levels(features)} but not {', '.join(map(str, missing))}: "
        f"levels {required.start}..{required.stop - 1} are needed for min_level={min_level}, "
        f"max_level={max_level} (maskrcnn.AnchorSettings). Output those levels, or change "
        f"maskrcnn.AnchorSettings.min_level / max_level.")
  checked = [str(level) for level in required]
  shapes = {level: _shape(features[level]) for level in checked}
  if any(len(shape) == 4 and None in shape[1:3] for shape in shapes.values()):
    eager = eager_outputs()
    shapes = {level: _shape(eager[level]) for level in checked}
  height, width = image_size
  faults = []
  for level in sorted(shapes, key=int):
    shape = shapes[level]
    if len(shape) != 4:
      faults.append(f"level '{level}' has shape {list(shape)}, not [batch, height, width, "
                    f"channels]")
      continue
    expected = (math.ceil(height / 2**int(level)), math.ceil(width / 2**int(level)))
    if shape[1:3] != expected:
      stride = height / max(shape[1], 1)
      faults.append(f"level '{level}' is {shape[1]}x{shape[2]} (stride {stride:g}) but must be "
                    f"{expected[0]}x{expected[1]} (stride {2**int(level)})")
  if faults:
    raise ContractError(
        f"{what} has features of the wrong shape for {height}x{width} images: "
        f"{'; '.join(faults)}. Level l must have stride 2**l.")


def _shape(tensor: Any) -> tuple:
  shape = tf.TensorShape(getattr(tensor, "shape", None))
  return tuple(shape.as_list()) if shape.rank is not None else ()


def _levels(features: Mapping[Any, Any]) -> str:
  keys = sorted((str(key) for key in features), key=lambda key: (len(key), key))
  return ", ".join(keys) if keys else "(none)"

