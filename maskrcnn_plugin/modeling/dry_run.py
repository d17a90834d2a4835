"""Build a model from gin, run one inference and one training pass: checked in seconds.

`validate(gin_files, gin_params)` is what `maskrcnn validate` runs; training and
export commands can call it (or `summarize`) to fail fast on a wiring mistake.
The training pass (`training_pass`) runs the training parser on a synthetic
image with a few boxes and masks, the model in training mode (proposals, ROI
and mask samplers), the losses, and builds the optimizer and its schedule,
so settings only training reads fail here rather than after the input
pipeline and the first trace of a training run.
"""

import dataclasses
import inspect
import time
from collections.abc import Mapping
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import gin
import numpy as np
import tensorflow as tf

from maskrcnn_plugin import errors, registries
from maskrcnn_plugin.errors import ContractError, UserError
from maskrcnn_plugin.gin_config import explain_call_error, parse_gin
from maskrcnn_plugin.modeling import contract
from maskrcnn_plugin.modeling.maskrcnn import build_from_gin
from registry import RegistryError

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
    training_seconds: Time of the training pass (parser, forward pass in
      training mode, losses, optimizer; eager, batch 1); None if not run.
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
  training_seconds: Optional[float] = None

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
    line = (f"built in {self.build_seconds:.1f} s; one inference pass (batch 1) in "
            f"{self.forward_seconds:.1f} s")
    if self.training_seconds is not None:
      line += (f"; one training pass (parser, samplers, losses, optimizer; batch 1) in "
               f"{self.training_seconds:.1f} s")
    lines.append(line)
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
  """Parses gin, builds `maskrcnn.build_maskrcnn()`, runs one inference and one training pass.

  Args:
    gin_files: Gin files (paths or shipped names), parsed in order.
    gin_params: Gin bindings applied after the files.

  Returns:
    (model, summary).

  Raises:
    GinConfigError, ContractError: one message for a wiring mistake, also
      one that only training would meet.
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
  summary.training_seconds = training_pass(model, bindings["image_size"],
                                           bindings["num_classes"])
  return model, summary


def synthetic_example(image_size: Sequence[int], num_classes: int,
                      num_instances: int = 3) -> Dict[str, tf.Tensor]:
  """A decoded example as Model Garden's decoders give it: a grey image, boxes, masks.

  Returns:
    image uint8 [height, width, 3], groundtruth_boxes [n, 4] normalized
    (ymin, xmin, ymax, xmax), groundtruth_classes int64 [n] in
    [1, num_classes - 1], groundtruth_instance_masks float32 [n, height,
    width] (each the filled box), groundtruth_is_crowd, groundtruth_area,
    source_id, height, width.
  """
  height, width = (int(s) for s in image_size)
  corners = np.linspace(0.1, 0.5, num_instances, dtype=np.float32)
  boxes = np.stack([corners, corners, corners + 0.4, corners + 0.4], axis=1)
  masks = np.zeros([num_instances, height, width], np.float32)
  for mask, (y0, x0, y1, x1) in zip(masks, boxes):
    mask[int(y0 * height):int(y1 * height), int(x0 * width):int(x1 * width)] = 1.0
  classes = (np.arange(num_instances) % (num_classes - 1) + 1).astype(np.int64)
  return {
      "source_id": tf.constant("validate"),
      "image": tf.fill([height, width, 3], tf.constant(128, tf.uint8)),
      "height": tf.constant(height, tf.int32),
      "width": tf.constant(width, tf.int32),
      "groundtruth_boxes": tf.constant(boxes),
      "groundtruth_classes": tf.constant(classes),
      "groundtruth_is_crowd": tf.zeros([num_instances], tf.bool),
      "groundtruth_area": tf.constant(masks.sum(axis=(1, 2))),
      "groundtruth_instance_masks": tf.constant(masks),
  }


def training_pass(model: Any, image_size: Sequence[int], num_classes: int) -> float:
  """One training forward pass on a synthetic batch of one image; returns its seconds.

  The image goes through the training parser configured in gin (scope
  `train`; its anchors, RPN targets and mask crops), then the model runs in
  training mode (proposals, ROI sampler, mask sampler), Model Garden's losses
  are computed (`losses.maskrcnn`), and the optimizer and its learning-rate
  schedule are built (`optimization.build_optimizer`) and read at step 0.

  Raises:
    GinConfigError, ContractError: one message naming what failed.
  """
  # pylint: disable=import-outside-toplevel
  from maskrcnn_plugin.training.losses import MaskRCNNLosses
  from maskrcnn_plugin.training.optimization import build_optimizer, learning_rate_at
  start = time.perf_counter()
  factory = _training_parser()
  # The parser makes images of the model's size: a parser bound to another size
  # is an error at assembly (relations.py); an unbound one would use its default.
  size = ({"output_size": list(image_size)}
          if "output_size" in inspect.signature(factory).parameters else {})
  with gin.config_scope("train"):
    parser = _call("the training parser", lambda: factory(**size))
    images, labels = _call("the training parser", lambda: parser.parse_fn(True)(
        synthetic_example(image_size, num_classes)))
  images, labels = tf.nest.map_structure(lambda t: t[None], (images, labels))
  losses = _call("the losses (losses.maskrcnn)", lambda: MaskRCNNLosses(model))
  kwargs = {"image_shape": labels["image_info"][:, 1, :], "anchor_boxes": labels["anchor_boxes"],
            "gt_boxes": labels["gt_boxes"], "gt_classes": labels["gt_classes"]}
  if losses.include_mask:
    kwargs["gt_masks"] = labels["gt_masks"]
  if model.get_config().get("outer_boxes_scale", 1.0) > 1.0:
    kwargs["gt_outer_boxes"] = labels["gt_outer_boxes"]
  try:
    outputs = model(images, training=True, **kwargs)
    outputs = tf.nest.map_structure(lambda x: tf.cast(x, tf.float32), outputs)
  except UserError:
    raise
  except Exception as error:  # The parts do not fit together in training: say so in one line.
    raise ContractError(
        f"The Mask R-CNN fails in training mode on a synthetic batch of one "
        f"{image_size[0]}x{image_size[1]} image with 3 boxes and masks: "
        f"{errors.reason(error)}") from error
  _call("the losses (losses.maskrcnn)", lambda: losses(outputs, labels, model.losses))
  optimizer = _call("the optimizer (optimization.build_optimizer)", build_optimizer)
  _call("the learning-rate schedule", lambda: learning_rate_at(optimizer, 0))
  return time.perf_counter() - start


def _training_parser():
  """The parser factory training uses: `data.input_pipeline.parser`, else parsers.maskrcnn."""
  for key in ("train/data.input_pipeline.parser", "data.input_pipeline.parser"):
    try:
      reference = gin.query_parameter(key)
    except ValueError:
      continue
    if isinstance(reference, gin.config.ConfigurableReference):
      return reference.scoped_configurable_fn
  return registries.PARSERS.get("maskrcnn")


def _call(what: str, fn):
  """`fn()`, with any failure turned into one message naming `what` (and its bindings)."""
  try:
    return fn()
  except Exception as error:  # pylint: disable=broad-except
    explained = explain_call_error(error)  # raised inside a gin configurable: names its bindings
    if explained is not None:
      raise explained from error
    if isinstance(error, (UserError, RegistryError)):
      raise
    raise ContractError(f"{what} failed on a synthetic training example: "
                        f"{errors.reason(error)}") from error


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
