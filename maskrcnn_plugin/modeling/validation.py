"""Build a model from gin and run one inference pass: wiring checked in seconds.

`validate(gin_files, gin_params)` is what `maskrcnn validate` runs; training and
export commands can call it (or `summarize`) to fail fast on a wiring mistake.
"""

import dataclasses
import time
from collections.abc import Mapping
from typing import Any, Dict, List, Sequence, Tuple

import gin
import numpy as np
import tensorflow as tf

from maskrcnn_plugin.gin_config import parse_gin
from maskrcnn_plugin.modeling.maskrcnn import build_from_gin

Shape = Tuple[int, ...]


@dataclasses.dataclass
class ModelSummary:
  """What one dummy inference pass tells about a built Mask R-CNN.

  Attributes:
    image_size: [height, width] of the input images.
    num_classes: Classes including background.
    total_params: Number of weights (trainable and not).
    trainable_params: Number of trainable weights.
    backbone_features: {level: shape} of the backbone's outputs (batch 1).
    decoder_features: {level: shape} of the features the heads read.
    outputs: {name: shape} of the other inference outputs; nested dicts are
      flattened as "rpn_boxes/2".
    build_seconds: Time to build the model.
    forward_seconds: Time of the inference pass (eager, batch 1).
  """
  image_size: Tuple[int, int]
  num_classes: int
  total_params: int
  trainable_params: int
  backbone_features: Dict[str, Shape]
  decoder_features: Dict[str, Shape]
  outputs: Dict[str, Shape]
  build_seconds: float
  forward_seconds: float

  def __str__(self) -> str:
    height, width = self.image_size
    lines = [
        f"Mask R-CNN for {height}x{width} images, {self.num_classes} classes (with background)",
        f"parameters: {self.total_params:,} total, {self.trainable_params:,} trainable",
    ]
    for title, features in (("backbone features", self.backbone_features),
                            ("decoder features", self.decoder_features)):
      lines.append(f"{title}:")
      for level, shape in features.items():
        stride = f"{height / shape[1]:g}" if len(shape) == 4 and shape[1] else "?"
        lines.append(f"  level {level:>2}  stride {stride:>3}  {list(shape)}")
    lines.append("inference outputs:")
    width_ = max(map(len, self.outputs), default=0)
    for name, shape in self.outputs.items():
      lines.append(f"  {name:<{width_}}  {list(shape)}")
    lines.append(f"built in {self.build_seconds:.1f} s; one inference pass (batch 1) in "
                 f"{self.forward_seconds:.1f} s")
    return "\n".join(lines)


def summarize(model: Any, image_size: Sequence[int], num_classes: int,
              build_seconds: float = 0.0) -> ModelSummary:
  """Runs `model` once in inference mode on a zero image and describes it.

  Args:
    model: A built MaskRCNNModel.
    image_size: [height, width] the model was built for.
    num_classes: Classes including background.
    build_seconds: Build time to report.

  Returns:
    The ModelSummary.
  """
  height, width = image_size
  start = time.perf_counter()
  outputs = model(tf.zeros([1, height, width, 3]),
                  image_shape=tf.constant([[height, width]], tf.float32), training=False)
  forward_seconds = time.perf_counter() - start
  outputs = dict(outputs)
  backbone_features = _level_shapes(outputs.pop("backbone_features"))
  decoder_features = _level_shapes(outputs.pop("decoder_features"))
  return ModelSummary(
      image_size=(height, width),
      num_classes=num_classes,
      total_params=_count(model.weights),
      trainable_params=_count(model.trainable_weights),
      backbone_features=backbone_features,
      decoder_features=decoder_features,
      outputs=dict(_flatten(outputs)),
      build_seconds=build_seconds,
      forward_seconds=forward_seconds)


def validate(gin_files: Sequence[str], gin_params: Sequence[str] = ()) -> Tuple[Any, ModelSummary]:
  """Parses gin, builds `maskrcnn.build_maskrcnn()` and runs one inference pass.

  Args:
    gin_files: Gin files (paths or shipped names), parsed in order.
    gin_params: Gin bindings applied after the files.

  Returns:
    (model, summary).

  Raises:
    GinConfigError, ContractError: one message for a wiring mistake.
  """
  # Run configs also hold runtime and schedule bindings, whose components the
  # training package registers (the `maskrcnn train` command imports it too).
  from maskrcnn_plugin import training  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
  parse_gin(gin_files, gin_params)
  start = time.perf_counter()
  model = build_from_gin()
  build_seconds = time.perf_counter() - start
  bindings = gin.get_bindings("maskrcnn.build_maskrcnn")
  summary = summarize(model, bindings["image_size"], bindings["num_classes"], build_seconds)
  return model, summary


def _level_shapes(features: Mapping[str, tf.Tensor]) -> Dict[str, Shape]:
  """{key: shape}, levels in order, then other keys (e.g. "2/expansion_output")."""
  order = lambda key: (0, int(key), "") if key.isdigit() else (1, 0, key)
  return {key: tuple(features[key].shape) for key in sorted(features, key=order)}


def _flatten(outputs: Mapping[str, Any], prefix: str = "") -> List[Tuple[str, Shape]]:
  items = []
  for name, value in outputs.items():
    if isinstance(value, Mapping):
      items += _flatten(value, f"{prefix}{name}/")
    elif value is not None:
      items.append((f"{prefix}{name}", tuple(value.shape)))
  return items


def _count(weights: Sequence[tf.Variable]) -> int:
  return int(sum(np.prod(w.shape) for w in weights))
