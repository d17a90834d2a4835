"""`maskrcnn.build_maskrcnn`: Model Garden's MaskRCNNModel from registered parts.

The assembly follows Model Garden's `official.vision.modeling.factory.
build_maskrcnn`, with each part taken from gin instead of a config dataclass:

    maskrcnn.build_maskrcnn.num_classes = %NUM_CLASSES
    maskrcnn.build_maskrcnn.image_size = %IMAGE_SIZE
    maskrcnn.build_maskrcnn.backbone = @backbones.resnet     # uncalled reference
    backbones.resnet.model_id = 101

Parts are given as UNCALLED references (`@backbones.resnet`): the builder
calls each factory with what it needs from the rest of the model (the image
size as `input_specs`, the backbone's `output_specs`, the anchor levels,
anchors per location, num_classes, the mask target size) and with the shared
norm/activation settings and weight-decay regularizer, for the parameters the
factory accepts and gin does not bind for it. An already-built part
(`@backbones.my_net()`, whose factory has defaults for everything) is used as
it is. The backbone and decoder are checked against the feature contract
(`contract.py`) before the heads are built.
"""

import functools
import inspect
import math
import re
from typing import Any, Callable, Dict, Mapping, Optional, Sequence

from absl import logging
import gin
import gin.config
import tensorflow as tf

from maskrcnn_plugin import errors, gin_config, registries
from maskrcnn_plugin.errors import ContractError, GinConfigError, UserError
from maskrcnn_plugin.gin_config import explain_gin_error
from maskrcnn_plugin.keras_setup import model_garden_keras
from maskrcnn_plugin.modeling import backbones, contract, decoders, heads, relations, roi_layers
from maskrcnn_plugin.modeling.anchors import AnchorSettings
from maskrcnn_plugin.modeling.maskrcnn_model import MaskRCNNModel
from maskrcnn_plugin.modeling.precision import float32_policy, float32_predictions
from maskrcnn_plugin.params import (Activation, Epsilon, IoUThresholds, NonNegative, Rate,
                                    ScaleAtLeastOne)
from registry import Registry, RegistryError
from registry.constraints import constraint

_SELECTOR = "maskrcnn.build_maskrcnn"
# Parts that compute boxes, targets and NMS: built to compute in float32
# under a mixed precision policy (`precision.py`).
_FLOAT32_ROLES = ("roi_generator", "roi_sampler", "detection_generator", "mask_sampler")


@gin.configurable(module="maskrcnn")
@constraint(_SELECTOR)
def build_maskrcnn(num_classes: Optional[int] = None,
                   image_size: Optional[Sequence[int]] = None,
                   *,
                   backbone: Any = backbones.resnet,
                   decoder: Any = decoders.fpn,
                   rpn_head: Any = heads.rpn_head,
                   detection_head: Any = heads.detection_head,
                   roi_generator: Any = roi_layers.multilevel_roi_generator,
                   roi_sampler: Any = roi_layers.roi_sampler,
                   roi_aligner: Any = roi_layers.multilevel_roi_aligner,
                   detection_generator: Any = roi_layers.detection_generator,
                   include_mask: bool = True,
                   mask_head: Any = heads.mask_head,
                   mask_sampler: Any = roi_layers.mask_sampler,
                   mask_roi_aligner: Any = roi_layers.multilevel_mask_roi_aligner,
                   anchors: Optional[AnchorSettings] = None,
                   activation: Activation = "relu",
                   use_sync_bn: bool = True,
                   sync_bn_on_one_replica: bool = False,
                   norm_momentum: Rate = 0.997,
                   norm_epsilon: Epsilon = 0.0001,
                   l2_weight_decay: NonNegative = 0.0,
                   cascade_iou_thresholds: IoUThresholds = (),
                   cascade_class_ensemble: bool = False,
                   outer_boxes_scale: ScaleAtLeastOne = 1.0,
                   foreground_mask_training: bool = True,
                   skip_padded_masks: bool = True):
  """Builds Model Garden's MaskRCNNModel from named parts; the model is built.

  Defaults are those of Model Garden's `MaskRCNN` config (ResNet-50, FPN,
  norm momentum 0.997, epsilon 1e-4, synchronized batch norm). The model is
  called once in inference mode on a zero image of `image_size`, so its
  variables exist (`count_params()` works) when it is returned; call it under
  a distribution strategy's scope to create distributed variables.

  Model inputs: images [batch, height, width, 3] (normalized as Model Garden's
  parser does), image_shape [batch, 2]; in training also anchor_boxes,
  gt_boxes, gt_classes, gt_masks. Inference outputs: detection_boxes
  [batch, max_num_detections, 4], detection_scores, detection_classes,
  num_detections, detection_masks [batch, max_num_detections, m, m], plus
  backbone_features and decoder_features {level: [batch, h_l, w_l, c]}.

  Args:
    num_classes: Number of classes including background (91 for COCO).
    image_size: [height, width] of the (padded) input images, divisible by
      2**anchors.max_level.
    backbone: Backbone factory (`@backbones.resnet`) or built backbone.
    decoder: Decoder factory (`@decoders.fpn`, `@decoders.identity`), or None.
    rpn_head: RPN head factory.
    detection_head: Box head factory; called once per cascade stage.
    roi_generator: Proposal generator factory.
    roi_sampler: Training ROI sampler factory; called once per cascade stage.
    roi_aligner: ROI aligner factory of the box head.
    detection_generator: Final NMS factory.
    include_mask: Build the mask branch (False gives Faster R-CNN).
    mask_head: Mask head factory.
    mask_sampler: Mask target sampler factory.
    mask_roi_aligner: ROI aligner factory of the mask head.
    anchors: maskrcnn.AnchorSettings; None means `maskrcnn.AnchorSettings()`
      with its gin bindings (shared with the input parser).
    activation: Activation of every part that takes one.
    use_sync_bn: Synchronized batch normalization in every part when the
      model is built under a strategy with more than one replica. With one
      replica (one device, export, evaluation) there is nothing to
      synchronize, and the parts get Keras's fused BatchNormalization, which
      computes the same batch statistics faster, as Detectron2's and
      PyTorch's SyncBatchNorm do with one process.
    sync_bn_on_one_replica: Keep the synchronized layers with one replica
      too (Model Garden's behaviour; slower on a CPU).
    norm_momentum: Batch normalization momentum of every part.
    norm_epsilon: Batch normalization epsilon of every part.
    l2_weight_decay: L2 weight decay; kernels get the regularizer
      l2(l2_weight_decay / 2), as in Model Garden, whose losses appear in
      `model.losses`. 0 adds none.
    cascade_iou_thresholds: IoU thresholds of extra Cascade R-CNN stages
      (e.g. [0.6, 0.7]); needs class_agnostic_bbox_pred in the box head.
    cascade_class_ensemble: Average class scores over the cascade stages.
    outer_boxes_scale: Scale (>= 1) of the boxes the mask head sees.
    foreground_mask_training: In training, run the mask ROI align, the
      mask-target crop and the mask head on the batch's foreground ROIs only
      (`foreground_masks.py`); False runs them on all num_sampled_masks slots
      of every image, as Model Garden does. The mask loss is Model Garden's;
      with batch norm in the mask head its statistics come from foreground
      ROIs only. `runtime.jit_compile` (XLA needs static shapes) trains on
      the padded slots.
    skip_padded_masks: At inference, run the mask head only on the kept
      detections (the first max-over-the-batch `num_detections` boxes) and
      give zero masks to the padded slots (`detected_masks.py`); False runs
      it on all `max_num_detections` boxes, as Model Garden does. Boxes,
      classes, scores and the masks of kept detections are the same.

  Under a mixed precision policy the backbone, decoder and heads compute in
  the reduced type; the ROI generator, ROI samplers, detection generator and
  mask sampler in float32, and mask logits are float32 (`precision.py`).

  Returns:
    A built `maskrcnn_model.MaskRCNNModel` (Model Garden's MaskRCNNModel with
    the two mask switches).

  Raises:
    registry.ConstraintError: a value outside its declared range or choices
      (activation, norm_momentum, norm_epsilon, l2_weight_decay,
      cascade_iou_thresholds, outer_boxes_scale); checked on every call, and
      for gin bindings right after parsing.
    GinConfigError: another missing or wrong value, naming its gin binding.
    ContractError: a backbone or decoder that breaks the feature contract.
  """
  anchors = AnchorSettings() if anchors is None else anchors
  _check_arguments(num_classes=num_classes, image_size=image_size, anchors=anchors,
                   use_sync_bn=use_sync_bn, sync_bn_on_one_replica=sync_bn_on_one_replica,
                   include_mask=include_mask, foreground_mask_training=foreground_mask_training,
                   skip_padded_masks=skip_padded_masks)
  keras = model_garden_keras()
  height, width = (int(side) for side in image_size)
  levels = {"min_level": anchors.min_level, "max_level": anchors.max_level}
  # Divide weight decay by 2 to match tf.nn.l2_loss, as Model Garden's task does.
  regularizer = keras.regularizers.l2(l2_weight_decay / 2.0) if l2_weight_decay else None
  norm = {"activation": activation,
          "use_sync_bn": _synchronized_batch_norm(use_sync_bn, sync_bn_on_one_replica),
          "norm_momentum": norm_momentum,
          "norm_epsilon": norm_epsilon, "kernel_regularizer": regularizer}

  parts = _Parts()
  backbone_name = parts.name("backbone", backbone, registries.BACKBONES)
  backbone_model = parts.build(
      "backbone", backbone, registries.BACKBONES,
      context={"input_specs": keras.layers.InputSpec(shape=[None, height, width, 3])},
      defaults={**norm, **levels}, required=("input_specs",))
  backbone_outputs = contract.check_backbone(backbone_model, backbone_name, (height, width),
                                             **levels)
  decoder_model = None
  if decoder is not None:
    decoder_model = parts.build(
        "decoder", decoder, registries.DECODERS,
        context={"input_specs": {level: shape for level, shape in
                                 backbone_model.output_specs.items() if str(level).isdigit()},
                 **levels},
        defaults=norm)
  contract.check_decoder(decoder_model, parts.name("decoder", decoder, registries.DECODERS),
                         backbone_name, backbone_model, backbone_outputs, (height, width),
                         **levels)

  rpn_head_layer = parts.build(
      "rpn_head", rpn_head, registries.RPN_HEADS,
      context={**levels, "num_anchors_per_location": anchors.num_anchors_per_location},
      defaults=norm)
  detection_heads = [parts.build("detection_head", detection_head, registries.DETECTION_HEADS,
                                 context={"num_classes": num_classes},
                                 defaults={**norm, "name": "detection_head"})]
  roi_samplers = [parts.build("roi_sampler", roi_sampler, registries.ROI_SAMPLERS)]
  class_agnostic_bbox_pred = bool(
      _layer_config(detection_heads[0]).get("class_agnostic_bbox_pred", False))
  if cascade_iou_thresholds:
    if not _is_factory(detection_head):
      raise GinConfigError(
          f"{_SELECTOR}.cascade_iou_thresholds needs one box head per stage: reference the "
          f"detection head factory uncalled (e.g. `@detection_heads.detection_head`).")
    if not class_agnostic_bbox_pred:
      raise GinConfigError(
          f"{_SELECTOR}.cascade_iou_thresholds = {list(cascade_iou_thresholds)} needs a box head "
          f"with class-agnostic boxes: bind "
          f"{parts.name('detection_head', detection_head, registries.DETECTION_HEADS)}"
          f".class_agnostic_bbox_pred = True.")
    # Extra stages as in Model Garden: a new box head each, and a sampler that
    # keeps every ROI with the stage's IoU threshold.
    for stage, iou in enumerate(cascade_iou_thresholds, start=1):
      detection_heads.append(parts.build(
          "detection_head", detection_head, registries.DETECTION_HEADS,
          context={"num_classes": num_classes, "name": f"detection_head_{stage}"},
          defaults=norm))
      roi_samplers.append(parts.build(
          "roi_sampler", roi_sampler, registries.ROI_SAMPLERS,
          context={"mix_gt_boxes": False, "foreground_iou_threshold": iou,
                   "background_iou_high_threshold": iou, "background_iou_low_threshold": 0.0,
                   "skip_subsampling": True}))

  mask_parts = {"mask_head": None, "mask_sampler": None, "mask_roi_aligner": None}
  if include_mask:
    mask_head_layer = parts.build("mask_head", mask_head, registries.MASK_HEADS,
                                  context={"num_classes": num_classes}, defaults=norm)
    mask_aligner_layer = parts.build("mask_roi_aligner", mask_roi_aligner, registries.ROI_ALIGNERS)
    mask_target_size = (_layer_config(mask_aligner_layer).get("crop_size", 14) *
                        _layer_config(mask_head_layer).get("upsample_factor", 2))
    mask_parts = {
        "mask_head": mask_head_layer,
        "mask_roi_aligner": mask_aligner_layer,
        "mask_sampler": parts.build("mask_sampler", mask_sampler, registries.MASK_SAMPLERS,
                                    context={"mask_target_size": mask_target_size}),
    }

  model = MaskRCNNModel(
      backbone=backbone_model,
      decoder=decoder_model,
      rpn_head=rpn_head_layer,
      detection_head=detection_heads if cascade_iou_thresholds else detection_heads[0],
      roi_generator=parts.build("roi_generator", roi_generator, registries.ROI_GENERATORS),
      roi_sampler=roi_samplers,
      roi_aligner=parts.build("roi_aligner", roi_aligner, registries.ROI_ALIGNERS),
      detection_generator=parts.build("detection_generator", detection_generator,
                                      registries.DETECTION_GENERATORS),
      class_agnostic_bbox_pred=class_agnostic_bbox_pred,
      cascade_class_ensemble=cascade_class_ensemble,
      num_scales=anchors.num_scales,
      aspect_ratios=list(anchors.aspect_ratios),
      anchor_size=anchors.anchor_size,
      outer_boxes_scale=outer_boxes_scale,
      foreground_mask_training=foreground_mask_training,
      skip_padded_masks=skip_padded_masks,
      **levels,
      **mask_parts)
  relations.check_relations(model, parts.names, (height, width), anchors.num_anchors_per_location,
                            num_classes)
  # Creates the variables with one inference pass on a zero image. Model Garden's
  # task calls the model on symbolic inputs instead, which autograph-converts
  # all of MaskRCNNModel.call and takes 2-8x longer on CPU than this pass.
  try:
    model(tf.zeros([1, height, width, 3]), image_shape=tf.constant([[height, width]], tf.float32),
          training=False)
  except Exception as error:  # The parts do not fit together: say where in one line.
    raise ContractError(
        f"The assembled Mask R-CNN ({parts.summary()}) fails on images [batch, {height}, "
        f"{width}, 3]: {errors.reason(error)}") from error
  if model.compute_dtype != "float32":
    float32_predictions(model)
  return model


def build_from_gin():
  """Calls `build_maskrcnn()` with gin's bindings; every failure is a UserError.

  Gin evaluates bindings such as `@backbones.my_net()` before build_maskrcnn
  runs; an exception there comes back as a GinConfigError naming the binding.
  """
  try:
    return build_maskrcnn()
  except UserError as error:
    raise errors.without_gin_call_notes(error) from error
  except Exception as error:  # Raised while gin evaluated a binding: one message.
    raise explain_gin_error(error) from error


class _Parts:
  """Builds the parts of one model and names them in messages."""

  def __init__(self):
    self._names: Dict[str, str] = {}

  def name(self, role: str, value: Any, registry_: Registry) -> str:
    """The gin name of a part, e.g. 'backbones.resnet' or 'backbones.my_net()'."""
    if value is None:
      return "None"
    for candidate in (value, getattr(value, "__wrapped__", None)):
      registered = registry_.name_of(candidate) if candidate is not None else None
      if registered:
        return registry_.gin_name(registered)
    binding = gin_config.bindings(_SELECTOR).get(role)
    if isinstance(binding, gin.config.ConfigurableReference):
      return f"{binding.selector}()" if binding.evaluate else binding.selector
    return getattr(value, "__qualname__", type(value).__name__)

  def build(self, role: str, value: Any, registry_: Registry, *,
            context: Optional[Mapping[str, Any]] = None,
            defaults: Optional[Mapping[str, Any]] = None,
            required: Sequence[str] = ()) -> Any:
    """Calls the factory `value` with what it accepts; a built part is returned as is.

    Args:
      role: The build_maskrcnn parameter, e.g. "backbone".
      value: A factory (function or class) or an already-built layer.
      registry_: The registry of this kind of part (to name it).
      context: Arguments the model needs the part to take (they override gin).
      defaults: Shared settings, passed unless gin binds them for this factory.
      required: Context arguments the factory must accept.

    Returns:
      The built part.
    """
    name = self.name(role, value, registry_)
    self._names[role] = name
    if not _is_factory(value):
      if value is not None and role == "backbone":
        logging.warning(
            "%s.backbone is an already-built model (%s): the builder's image size, norm, "
            "activation and weight decay settings are not applied to it. Reference the factory "
            "uncalled (without parentheses) to have them passed.", _SELECTOR, name)
      return value
    parameters = _parameters(value)
    takes_any = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    missing = [key for key in required if key not in parameters and not takes_any]
    if missing:
      raise ContractError(f"The {role} factory '{name}' has no parameter {', '.join(missing)}; "
                          f"a {role} factory must accept it.")
    bound = set(gin_config.bindings(name))
    kwargs = {key: v for key, v in (defaults or {}).items()
              if key in parameters and key not in bound}
    kwargs.update({key: v for key, v in (context or {}).items()
                   if key in parameters or (takes_any and key in required)})
    try:
      if role in _FLOAT32_ROLES:
        with float32_policy():
          return value(**kwargs)
      return value(**kwargs)
    except (UserError, RegistryError):  # complete messages (e.g. a value out of its range)
      raise
    except Exception as error:  # A factory's own complaint: name the part and its bindings.
      raise GinConfigError(_factory_failure(role, name, error)) from error

  @property
  def names(self) -> Dict[str, str]:
    """{role: gin name} of the parts built so far."""
    return dict(self._names)

  def summary(self) -> str:
    return ", ".join(f"{role} {name}" for role, name in self._names.items())


def _factory_failure(role: str, name: str, error: BaseException) -> str:
  message = errors.first_line(error)
  missing = re.search(r"missing \d+ required (?:positional |keyword-only )?arguments?: (.*)",
                      message)
  if missing:
    parameters = re.findall(r"'(\w+)'", missing.group(1))
    lines = "; ".join(f"`{name}.{p} = ...`" for p in parameters)
    return (f"The {role} '{name}' needs a value for {', '.join(parameters)}: bind it in gin "
            f"({lines}).")
  bindings = gin_config.bindings(name)
  bound = ", ".join(f"{key} = {value!r}" for key, value in sorted(bindings.items()))
  where = f" Its gin bindings: {bound}." if bound else ""
  message = message if message.endswith(".") else f"{message}."
  return f"The {role} '{name}' could not be built: {type(error).__name__}: {message}{where}"


def _is_factory(value: Any) -> bool:
  return inspect.isroutine(value) or inspect.isclass(value) or isinstance(
      value, functools.partial)


def _parameters(factory: Callable[..., Any]) -> Mapping[str, inspect.Parameter]:
  try:
    return inspect.signature(factory).parameters
  except (TypeError, ValueError):
    return {}


def _layer_config(layer: Any) -> Mapping[str, Any]:
  try:
    return layer.get_config()
  except (AttributeError, NotImplementedError):
    return {}


def _synchronized_batch_norm(use_sync_bn: bool, sync_bn_on_one_replica: bool) -> bool:
  """Whether the parts get SyncBatchNormalization under the current strategy."""
  if not use_sync_bn:
    return False
  replicas = tf.distribute.get_strategy().num_replicas_in_sync
  if replicas > 1 or sync_bn_on_one_replica:
    return True
  logging.info("%s.use_sync_bn: one replica, so the model uses fused batch normalization "
               "(the same statistics; sync_bn_on_one_replica = True keeps the synchronized "
               "layers).", _SELECTOR)
  return False


def _check_arguments(**values) -> None:
  """Raises GinConfigError naming the binding of the first missing or wrong value.

  Only the values without a declared constraint in the signature. A declared
  one is also checked right after parsing, in binding order: NUM_CLASSES = 1
  would then be reported at this builder's binding in base/model.gin instead
  of the data pipeline's, and a flag or the image size in the constraint's
  words ('one of True, False', 'a list of 2 values') instead of these. 'Is
  not set' and an AnchorSettings have no declared form.
  """
  checks = {
      "num_classes": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 2,
                      "an int >= 2, the number of classes including background (91 for COCO)"),
      "image_size": (lambda v: isinstance(v, (list, tuple)) and len(v) == 2 and all(
          isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in v),
                     "[height, width], two positive ints"),
      "anchors": (lambda v: isinstance(v, AnchorSettings), "@maskrcnn.AnchorSettings()"),
      "use_sync_bn": (lambda v: isinstance(v, bool), "True or False"),
      "sync_bn_on_one_replica": (lambda v: isinstance(v, bool), "True or False"),
      "include_mask": (lambda v: isinstance(v, bool), "True or False"),
      "skip_padded_masks": (lambda v: isinstance(v, bool), "True or False"),
      "foreground_mask_training": (lambda v: isinstance(v, bool), "True or False"),
  }
  for key, value in values.items():
    is_valid, expected = checks[key]
    if value is None and key in ("num_classes", "image_size"):
      raise GinConfigError(
          f"{_SELECTOR}.{key} is not set: bind it in gin, e.g. `{_SELECTOR}.{key} = "
          f"%{key.upper()}` with the macro {key.upper()} defined, as "
          f"base/model.gin does.")
    if not is_valid(value):
      raise GinConfigError(f"{_SELECTOR}.{key} = {value!r} is not valid: it must be {expected}.")
  height, width = values["image_size"]
  stride = 2**values["anchors"].max_level
  if height % stride or width % stride:
    suggestion = [math.ceil(height / stride) * stride, math.ceil(width / stride) * stride]
    raise GinConfigError(
        f"{_SELECTOR}.image_size = {list(values['image_size'])} must be divisible by "
        f"2**max_level = {stride} (maskrcnn.AnchorSettings.max_level = "
        f"{values['anchors'].max_level}); Model Garden's parser pads images to multiples of "
        f"{stride}. Use e.g. IMAGE_SIZE = {suggestion}.")
