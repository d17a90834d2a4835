"""The plugin's registries, one per kind of Mask R-CNN component.

Each registry's kind is also the gin module of its factories, e.g.
`@backbones.resnet`, `decoders.fpn.num_filters = 128`. Installed packages can
add components through the entry-point group `maskrcnn_plugin` (see
`registry.entry_points`).

The built-in components import TensorFlow and Model Garden, so they register
on the first lookup in any registry (or `load_components()`), not when
`maskrcnn_plugin` is imported.

Each registry states its contract, how its factories are called and what they
must return (`registry.contract`, `maskrcnn describe KIND`), as Detectron2
does on its registries. Where the caller expects an object of a fixed
interface, the interface is a `typing.Protocol` defined here, beside its
registry: `DataDecoder` (with its optional `SummarizingDecoder` and
`RecordSource` forms, and `RecordSummary`) and `Parser`. The model's parts
have none: the builder passes each factory the arguments it accepts
(`maskrcnn.build_maskrcnn`), and the layers' calls are Model Garden's.
"""

import importlib
from typing import Any, Callable, Dict, Mapping, Protocol, Sequence, Tuple, TypedDict
from typing import runtime_checkable

from registry import Registry, UnknownNameError, did_you_mean, load_entry_points

PLUGIN_GROUP = "maskrcnn_plugin"
BUILTIN_MODULES = (
    "maskrcnn_plugin.modeling",
    "maskrcnn_plugin.dataloaders",
    "maskrcnn_plugin.training",
)


def load_components() -> None:
  """Registers the built-in components, then installed plugins (once each)."""
  for module in BUILTIN_MODULES:
    importlib.import_module(module)
  load_entry_points(PLUGIN_GROUP)


class RecordSummary(TypedDict):
  """What `SummarizingDecoder.summarize(record)` returns: exactly the fields
  the record check reads (`dataloaders.record_checks.record_problem`)."""
  encoded: "tf.Tensor"    # string scalar: the image file's bytes
  xmin: "tf.Tensor"       # float [n]: normalized box coordinates, one list each
  xmax: "tf.Tensor"
  ymin: "tf.Tensor"
  ymax: "tf.Tensor"
  classes: "tf.Tensor"    # int [n]: class ids
  num_masks: "tf.Tensor"  # int scalar: the record's masks, -1 when masks are not read


RECORD_SUMMARY_KEYS = tuple(RecordSummary.__annotations__)


@runtime_checkable
class DataDecoder(Protocol):
  """What a data_decoders factory returns (see DATA_DECODERS.contract)."""

  def decode(self, record: "tf.Tensor") -> Dict[str, "tf.Tensor"]:
    """One record (string scalar) -> Model Garden's decoded dict."""


@runtime_checkable
class SummarizingDecoder(DataDecoder, Protocol):
  """A DataDecoder whose records are checked before they are decoded."""

  def summarize(self, record: "tf.Tensor") -> RecordSummary:
    """The fields of `record` the record check reads, cheaply."""


@runtime_checkable
class RecordSource(DataDecoder, Protocol):
  """A DataDecoder that reads files other than TFRecords (data_decoders.coco_json)."""

  def records(self, files: Sequence[str], bad_records: str = "error") -> "tf.data.Dataset":
    """A dataset of (record, source name string, index int64) for `files`."""


@runtime_checkable
class Parser(Protocol):
  """What a parsers factory returns (see PARSERS.contract)."""

  def parse_fn(self, is_training: bool
               ) -> Callable[[Mapping[str, "tf.Tensor"]], Tuple["tf.Tensor", Dict[str, Any]]]:
    """The function mapping a decoded dict to (image, labels)."""


# Passed by `maskrcnn.build_maskrcnn` to the model's parts that accept them,
# unless gin binds them for that factory.
_SHARED = ("and, of activation, use_sync_bn, norm_momentum, norm_epsilon and "
           "kernel_regularizer, those it accepts and gin does not bind for it")

BACKBONES = Registry("backbones", loader=load_components, contract=f"""
    Called by maskrcnn.build_maskrcnn as `factory(input_specs=InputSpec([None,
    height, width, 3]), ...)` with the static image size, which it must
    accept, {_SHARED} (min_level and max_level too).
    Returns a Keras model of Model Garden's Keras (tf_keras) mapping images
    [batch, height, width, 3] to a dict {{level: [batch, ceil(height / 2**level),
    ceil(width / 2**level), channels]}} keyed by level strings ('2'..'5' for
    strides 4..32), with `output_specs`, the {{level: TensorShape}} of those
    outputs that decoders are built from (inferred from the outputs when the
    model has none). Checked by modeling.contract.check_backbone.""")
DECODERS = Registry("decoders", loader=load_components, contract=f"""
    Called by maskrcnn.build_maskrcnn as `factory(input_specs=backbone.output_specs,
    min_level=..., max_level=...)` (the level entries of the backbone's
    output_specs, the anchors' levels; each if it takes it), {_SHARED}.
    Returns a Keras model mapping the backbone's feature dict to a dict
    holding every level min_level..max_level at stride 2**level, or None: the
    heads then read the backbone's features, which must hold those levels.
    Checked by modeling.contract.check_decoder.""")
RPN_HEADS = Registry("rpn_heads", loader=load_components, contract=f"""
    Called by maskrcnn.build_maskrcnn as `factory(min_level=..., max_level=...,
    num_anchors_per_location=...)` (each if it takes it), {_SHARED}.
    Returns a Keras layer that MaskRCNNModel calls on the decoder's features
    {{level: [batch, h_l, w_l, c]}} and that returns (scores, boxes):
    {{level: [batch, h_l, w_l, A]}} and {{level: [batch, h_l, w_l, 4 * A]}},
    A = num_anchors_per_location, as Model Garden's RPNHead.""")
DETECTION_HEADS = Registry("detection_heads", loader=load_components, contract=f"""
    Called by maskrcnn.build_maskrcnn as `factory(num_classes=...)` once,
    plus once per extra cascade stage with name='detection_head_<stage>'
    (each if it takes it), {_SHARED}. Returns a Keras layer that
    MaskRCNNModel calls on ROI features [batch, num_rois, crop, crop, c] and
    that returns (class logits [batch, num_rois, num_classes], box deltas
    [batch, num_rois, 4 * num_classes], or [batch, num_rois, 4] when its
    get_config() has class_agnostic_bbox_pred = True), as Model Garden's
    DetectionHead.""")
MASK_HEADS = Registry("mask_heads", loader=load_components, contract=f"""
    Called by maskrcnn.build_maskrcnn as `factory(num_classes=...)` (if it
    takes it), {_SHARED}. Returns a Keras layer that MaskRCNNModel calls on
    [ROI features [batch, num_rois, crop, crop, c], ROI classes [batch,
    num_rois]] and that returns mask logits [batch, num_rois, m, m], m = the
    mask ROI aligner's crop_size times the upsample_factor of its
    get_config() (default 2), as Model Garden's MaskHead.""")
ROI_GENERATORS = Registry("roi_generators", loader=load_components, contract="""
    Called by maskrcnn.build_maskrcnn as `factory()` (its gin bindings only),
    under a float32 policy. Returns a Keras layer that MaskRCNNModel calls as
    `layer(rpn_boxes, rpn_scores, anchor_boxes, image_shape, training)` and
    that returns (rois [batch, num_proposals, 4] as (y1, x1, y2, x2) pixels,
    scores [batch, num_proposals]), as Model Garden's MultilevelROIGenerator.""")
ROI_SAMPLERS = Registry("roi_samplers", loader=load_components, contract="""
    Called by maskrcnn.build_maskrcnn as `factory()`, and once per extra
    cascade stage as `factory(mix_gt_boxes=False, foreground_iou_threshold=iou,
    background_iou_high_threshold=iou, background_iou_low_threshold=0.0,
    skip_subsampling=True)`, under a float32 policy. Returns a Keras layer
    that MaskRCNNModel calls in training as `layer(rois, gt_boxes, gt_classes)`
    (plus gt_outer_boxes when outer_boxes_scale > 1) and that returns
    (rois [batch, R, 4], matched gt boxes [batch, R, 4] (and outer boxes),
    matched gt classes [batch, R] with 0 for background, matched gt indices
    [batch, R]), as Model Garden's ROISampler.""")
ROI_ALIGNERS = Registry("roi_aligners", loader=load_components, contract="""
    Called by maskrcnn.build_maskrcnn as `factory()` for two roles:
    `roi_aligner` (the box head's) and `mask_roi_aligner` (the mask head's).
    Returns a Keras layer that MaskRCNNModel calls as `layer(features, rois)`
    with features {level: [batch, h_l, w_l, c]} and rois [batch, R, 4], and
    that returns [batch, R, crop_size, crop_size, c]; the crop_size of the
    mask aligner's get_config() (default 14) sets the mask size. Model
    Garden's MultilevelROIAligner, or its subclass roi_align.ROIAligner
    (the same crops and gradients, read with CropAndResize).""")
DETECTION_GENERATORS = Registry("detection_generators", loader=load_components, contract="""
    Called by maskrcnn.build_maskrcnn as `factory()` (its gin bindings only),
    under a float32 policy. Returns a Keras layer that MaskRCNNModel calls at
    inference as `layer(box_outputs, class_outputs, rois, image_shape,
    regression_weights, bbox_per_class=...)` and that returns a dict with
    detection_boxes [batch, D, 4] in pixels, detection_scores [batch, D],
    detection_classes [batch, D] and num_detections [batch], D =
    max_num_detections, as Model Garden's DetectionGenerator.""")
MASK_SAMPLERS = Registry("mask_samplers", loader=load_components, contract="""
    Called by maskrcnn.build_maskrcnn as `factory(mask_target_size=m)`, m the
    mask ROI aligner's crop_size times the mask head's upsample_factor, under
    a float32 policy. Returns a Keras layer that MaskRCNNModel calls in
    training as `layer(rois, matched_gt_boxes, matched_gt_classes,
    matched_gt_indices, gt_masks)` and that returns (rois [batch, M, 4],
    classes [batch, M], mask targets [batch, M, m, m]), as Model Garden's
    MaskSampler.""")
DATA_DECODERS = Registry("data_decoders", loader=load_components, contract="""
    Called with no arguments (its gin bindings only) by data.input_pipeline
    (`data.input_pipeline.decoder`, default data_decoders.tf_example) inside
    the split's gin scope ('train', 'eval'), and by `maskrcnn data check`.
    Returns a registries.DataDecoder: `decode(record)` maps one record (a serialized
    tf.Example string scalar) to Model Garden's decoded dict: source_id,
    image uint8 [h, w, 3], height, width, groundtruth_boxes [n, 4] normalized
    (ymin, xmin, ymax, xmax), groundtruth_classes [n], groundtruth_is_crowd
    [n], groundtruth_area [n], and groundtruth_instance_masks [n, h, w] with
    masks. Optional: `summarize(record)` returns the RecordSummary the record
    check reads before decoding (a SummarizingDecoder), and
    `records(files, bad_records)` returns a dataset of (record, source name,
    index) for files other than TFRecords (a RecordSource).""")
PARSERS = Registry("parsers", loader=load_components, contract="""
    Called with no arguments (its gin bindings only) by data.input_pipeline
    (`data.input_pipeline.parser`, default parsers.maskrcnn) inside the
    split's gin scope, and by `maskrcnn validate` for its training pass.
    Returns a registries.Parser: `parse_fn(is_training)` returns a function mapping a
    decoded dict to (image [height, width, 3], labels), the labels of Model
    Garden's Mask R-CNN parser (training: anchor_boxes, image_info,
    rpn_score_targets, rpn_box_targets, gt_boxes, gt_classes, gt_masks; eval:
    anchor_boxes, image_info, groundtruths).""")
OPTIMIZERS = Registry("optimizers", loader=load_components, contract="""
    Called by optimization.build_optimizer as `factory(learning_rate,
    global_clipnorm=...)`, learning_rate a float or a learning-rate schedule
    (a callable of the step). Returns an optimizer of Model Garden's Keras
    (tf_keras.optimizers).""")
LR_SCHEDULES = Registry("lr_schedules", loader=load_components, contract="""
    Called by gin with its bindings only where a call is bound, e.g.
    `optimization.build_optimizer.learning_rate = @lr_schedules.cosine()` or
    `lr_schedules.linear_warmup.schedule = @lr_schedules.stepwise()`. Returns a
    float or a Keras LearningRateSchedule (a callable of the step).""")
STRATEGIES = Registry("strategies", loader=load_components, contract="""
    Called with no arguments (its gin bindings only) by the training runtime
    (`runtime.strategy = @strategies.mirrored`, uncalled) after the devices
    are set up. Returns a tf.distribute.Strategy, under whose scope the model,
    the optimizer and the distributed datasets are built.""")

ALL = {
    r.kind: r for r in (
        BACKBONES, DECODERS, RPN_HEADS, DETECTION_HEADS, MASK_HEADS, ROI_GENERATORS,
        ROI_SAMPLERS, ROI_ALIGNERS, DETECTION_GENERATORS, MASK_SAMPLERS, DATA_DECODERS,
        PARSERS, OPTIMIZERS, LR_SCHEDULES, STRATEGIES)
}

register_backbone = BACKBONES.register
register_decoder = DECODERS.register
register_rpn_head = RPN_HEADS.register
register_detection_head = DETECTION_HEADS.register
register_mask_head = MASK_HEADS.register
register_data_decoder = DATA_DECODERS.register
register_parser = PARSERS.register
register_optimizer = OPTIMIZERS.register
register_lr_schedule = LR_SCHEDULES.register


def get_registry(kind: str) -> Registry:
  """The registry named `kind`; an unknown kind raises with close matches."""
  if kind not in ALL:
    raise UnknownNameError(f"No registry named '{kind}'.{did_you_mean(kind, ALL)} "
                           f"Registries: {', '.join(sorted(ALL))}.")
  return ALL[kind]


def lookup(qualified_name: str) -> Tuple[Registry, str]:
  """Returns (registry, name) for 'kind.name', e.g. 'backbones.resnet'.

  Raises registry.UnknownNameError naming close matches for an unknown kind or
  name.
  """
  kind, _, name = qualified_name.partition(".")
  registry_ = get_registry(kind)
  if not name:
    raise UnknownNameError(f"'{qualified_name}' names a registry, not a component: use "
                           f"'{kind}.<name>' with one of: {', '.join(registry_.names())}.")
  registry_.get(name)  # raises with close matches when unknown
  return registry_, name
