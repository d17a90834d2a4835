"""Proposal and detection NMS on TensorFlow's NMS kernel, Model Garden's results.

Model Garden's Mask R-CNN runs its NMS (`official.vision.ops.nms.
sorted_non_max_suppression_padded`, used by the proposal generator and by the
default 'v2' detection generator) as tiles of pairwise-IoU matrices in plain
TensorFlow ops, written for TPUs. On a CPU it is a large part of inference:
the proposal generator compares up to `test_pre_nms_top_k` boxes pairwise at
every FPN level. The layers here keep Model Garden's steps (sigmoid or
softmax, decoding, clipping, filters, top-k, per-level and final top-k, the
'dot' convention for removed boxes) and run each greedy NMS on TensorFlow's
NonMaxSuppressionV4 kernel, one image (and class) at a time.

The kept boxes, their scores and order are Model Garden's, except for IoUs
exactly at the threshold (Model Garden suppresses at IoU >= threshold, the
kernel at IoU > threshold) and for thresholds below 0.5, where Model Garden's
tiled algorithm is not exactly greedy NMS and the kernel is.

`roi_generators.multilevel_roi_generator.nms_kernel` and
`detection_generators.detection_generator.nms_kernel` select them ('native',
the default, or 'model_garden').
"""

from typing import Mapping, Optional, Sequence, Tuple

import tensorflow as tf
from official.vision.modeling.layers import detection_generator as mg_detection_generator
from official.vision.modeling.layers import roi_generator as mg_roi_generator
from official.vision.ops import box_ops

from maskrcnn_plugin.modeling.precision import Float32Arguments


def sorted_nms_padded(scores: tf.Tensor, boxes: tf.Tensor, max_output_size: int,
                      iou_threshold: float) -> Tuple[tf.Tensor, tf.Tensor]:
  """Greedy NMS per image; the contract of Model Garden's `sorted_non_max_suppression_padded`.

  Args:
    scores: [batch, N] scores, sorted in descending order in each image.
    boxes: [batch, N, 4] boxes (y1, x1, y2, x2) >= 0. A box with no
      coordinate > 0 (Model Garden's 'dot': padding, or a box a filter
      removed) is never kept.
    max_output_size: Boxes kept per image, at most.
    iou_threshold: A box is suppressed by a kept box of higher score whose
      IoU with it exceeds this.

  Returns:
    (scores [batch, max_output_size], boxes [batch, max_output_size, 4]),
    float32: the kept boxes of each image by descending score, then zeros.
  """
  scores = tf.cast(scores, tf.float32)
  boxes = tf.cast(boxes, tf.float32)
  # Dots get -inf, below the kernel's score threshold (it keeps score > threshold).
  candidates = tf.where(tf.reduce_any(boxes > 0, axis=-1), scores, float("-inf"))

  def one_image(inputs):
    image_boxes, image_candidates, image_scores = inputs
    indices, count = tf.raw_ops.NonMaxSuppressionV4(
        boxes=image_boxes, scores=image_candidates, max_output_size=max_output_size,
        iou_threshold=iou_threshold, score_threshold=tf.float32.min,
        pad_to_max_output_size=True)
    kept = tf.sequence_mask(count, max_output_size, dtype=tf.float32)
    return (tf.gather(image_scores, indices) * kept,
            tf.gather(image_boxes, indices) * kept[:, tf.newaxis])

  return tf.map_fn(one_image, (boxes, candidates, scores),
                   fn_output_signature=(tf.TensorSpec([max_output_size], tf.float32),
                                        tf.TensorSpec([max_output_size, 4], tf.float32)))


class NativeNMSROIGenerator(Float32Arguments, mg_roi_generator.MultilevelROIGenerator):
  """Model Garden's `MultilevelROIGenerator` with `sorted_nms_padded` as its NMS.

  Same constructor, config and outputs: rois [batch, num_proposals, 4] and
  scores [batch, num_proposals], decoded in float32 (`Float32Arguments`). With `use_batched_nms` or an NMS threshold
  of 0 it is Model Garden's layer (those paths already avoid the tiled NMS).
  """

  def call(self,
           raw_boxes: Mapping[str, tf.Tensor],
           raw_scores: Mapping[str, tf.Tensor],
           anchor_boxes: Mapping[str, tf.Tensor],
           image_shape: tf.Tensor,
           training: Optional[bool] = None):
    config = self._config_dict
    prefix = "" if training else "test_"
    iou_threshold = config[prefix + "nms_iou_threshold"]
    if config["use_batched_nms"] or iou_threshold <= 0.0:
      return super().call(raw_boxes, raw_scores, anchor_boxes, image_shape, training=training)
    pre_nms_top_k = config[prefix + "pre_nms_top_k"]
    score_threshold = config[prefix + "pre_nms_score_threshold"]
    min_size = config[prefix + "pre_nms_min_size_threshold"]
    num_proposals = config[prefix + "num_proposals"]
    image_shape = tf.expand_dims(image_shape, axis=1)
    rois, roi_scores = [], []
    for level in sorted(raw_scores.keys()):  # Model Garden's steps, in its order.
      _, height, width, anchors_per_location = raw_scores[level].get_shape().as_list()
      num_boxes = height * width * anchors_per_location
      scores = tf.sigmoid(tf.reshape(raw_scores[level], [-1, num_boxes]))
      anchors = tf.cast(tf.reshape(anchor_boxes[level], [-1, num_boxes, 4]), scores.dtype)
      boxes = box_ops.decode_boxes(tf.reshape(raw_boxes[level], [-1, num_boxes, 4]), anchors)
      boxes = box_ops.clip_boxes(boxes, image_shape)
      if min_size > 0.0:
        boxes, scores = box_ops.filter_boxes(boxes, scores, image_shape, min_size)
      if score_threshold > 0.0:
        boxes, scores = box_ops.filter_boxes_by_scores(boxes, scores, score_threshold)
      boxes, scores = box_ops.top_k_boxes(boxes, scores, k=min(num_boxes, pre_nms_top_k))
      scores, boxes = sorted_nms_padded(scores, boxes, min(num_boxes, num_proposals),
                                        iou_threshold)
      rois.append(boxes)  # float32, as Model Garden's NMS returns them.
      roi_scores.append(scores)
    rois = tf.concat(rois, axis=1)
    roi_scores = tf.concat(roi_scores, axis=1)
    return box_ops.top_k_boxes(rois, roi_scores,
                               k=min(roi_scores.get_shape().as_list()[1], num_proposals))


class NativeNMSDetectionGenerator(Float32Arguments, mg_detection_generator.DetectionGenerator):
  """Model Garden's `DetectionGenerator` whose 'v2' NMS runs on `sorted_nms_padded`.

  Same constructor, config and outputs, decoded in float32 (`Float32Arguments`). Only `nms_version = 'v2'` changes
  (Model Garden's default); other versions are Model Garden's, as they already call the kernel
  ('v1', 'batched') or target other hardware.
  """

  def __init__(self, **kwargs):
    super().__init__(**kwargs)
    # Model Garden's decoding (softmax, background removal, decoding, clipping).
    self._decoder = mg_detection_generator.DetectionGenerator(
        **{**self._config_dict, "apply_nms": False})

  def __call__(self,  # Model Garden's layer overrides __call__, not call.
               raw_boxes: tf.Tensor,
               raw_scores: tf.Tensor,
               anchor_boxes: tf.Tensor,
               image_shape: tf.Tensor,
               regression_weights: Optional[Sequence[float]] = None,
               bbox_per_class: bool = True):
    config = self._config_dict
    if not config["apply_nms"] or config["nms_version"] != "v2":
      return super().__call__(raw_boxes, raw_scores, anchor_boxes, image_shape,
                              regression_weights=regression_weights,
                              bbox_per_class=bbox_per_class)
    decoded = self._decoder(raw_boxes, raw_scores, anchor_boxes, image_shape,
                            regression_weights=regression_weights, bbox_per_class=bbox_per_class)
    boxes, scores, classes, num_detections = _class_aware_detections(
        decoded["decoded_boxes"], decoded["decoded_box_scores"],
        pre_nms_top_k=config["pre_nms_top_k"],
        pre_nms_score_threshold=config["pre_nms_score_threshold"],
        nms_iou_threshold=config["nms_iou_threshold"],
        max_num_detections=config["max_num_detections"])
    return {"num_detections": num_detections, "detection_boxes": boxes,
            "detection_classes": classes + 1,  # Class 0 is the background.
            "detection_scores": scores}


def _class_aware_detections(boxes: tf.Tensor, scores: tf.Tensor, *, pre_nms_top_k: int,
                            pre_nms_score_threshold: float, nms_iou_threshold: float,
                            max_num_detections: int):
  """Model Garden's `_generate_detections_v2_class_aware` with one kernel NMS per image and class.

  Args:
    boxes: [batch, N, num_classes or 1, 4] decoded boxes (no background).
    scores: [batch, N, num_classes] class probabilities (no background).
    pre_nms_top_k: Candidates per class before NMS.
    pre_nms_score_threshold: Candidates scoring below it are removed.
    nms_iou_threshold: NMS IoU threshold.
    max_num_detections: Detections kept per image, over all classes.

  Returns:
    boxes [batch, max_num_detections, 4], scores [batch, max_num_detections],
    classes [batch, max_num_detections] (0-based), num_detections [batch].
  """
  batch_size = tf.shape(scores)[0]
  _, num_anchors, num_classes = scores.get_shape().as_list()
  class_boxes = boxes.get_shape().as_list()[2]
  top_k = min(num_anchors, pre_nms_top_k)
  # [batch * classes, top_k]: the best candidates of each class, by score.
  top_scores, top_indices = tf.nn.top_k(
      tf.reshape(tf.transpose(scores, [0, 2, 1]), [-1, num_anchors]), k=top_k, sorted=True)
  per_class_boxes = tf.transpose(
      tf.broadcast_to(boxes, [batch_size, num_anchors, num_classes, 4]) if class_boxes == 1
      else boxes, [0, 2, 1, 3])
  top_boxes = tf.gather(tf.reshape(per_class_boxes, [-1, num_anchors, 4]), top_indices,
                        batch_dims=1)
  top_boxes, top_scores = box_ops.filter_boxes_by_scores(top_boxes, top_scores,
                                                         min_score_threshold=pre_nms_score_threshold)
  nms_scores, nms_boxes = sorted_nms_padded(top_scores, top_boxes, max_num_detections,
                                            nms_iou_threshold)
  # Per image: the classes' kept boxes side by side, then the best overall.
  nms_scores = tf.reshape(nms_scores, [batch_size, num_classes * max_num_detections])
  nms_boxes = tf.reshape(nms_boxes, [batch_size, num_classes * max_num_detections, 4])
  nms_classes = tf.repeat(tf.range(num_classes), max_num_detections)
  nms_scores, indices = tf.nn.top_k(nms_scores, k=max_num_detections, sorted=True)
  nms_boxes = tf.gather(nms_boxes, indices, batch_dims=1)
  nms_classes = tf.gather(nms_classes, indices)
  num_detections = tf.reduce_sum(tf.cast(nms_scores > 0.0, tf.int32), axis=1)
  return nms_boxes, nms_scores, nms_classes, num_detections
