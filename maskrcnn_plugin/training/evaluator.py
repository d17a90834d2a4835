"""The Orbit evaluator: COCO box and mask metrics with pycocotools.

    evaluation.coco_metric.annotation_file = '/data/coco/instances_val2017.json'  # or None
    evaluation.coco_metric.per_category_metrics = True

Detections are scored by Model Garden's COCOEvaluator
(official/vision/evaluation/coco_evaluator.py). Without an annotation file,
one is generated once from the validation records into
model_dir/eval/annotations.json by Model Garden's own generator, so mask AP
is measured against the records' full-resolution PNG instance masks (delete
that file when the eval records change). At each evaluation a few eval
images are also drawn to TensorBoard with ground truth beside the detections
(`eval_pictures`, `evaluation.pictures.num_images`).
"""

import json
import os
from typing import Callable, Dict, Optional, Sequence, Union

import gin
import numpy as np
import orbit
import tensorflow as tf

from maskrcnn_plugin.data import class_names
from maskrcnn_plugin.errors import UserError
from maskrcnn_plugin.training import eval_pictures
from official.vision.evaluation import coco_evaluator, coco_utils

# Model Garden's COCOEvaluator keys renamed in logs and JSON (others keep their name).
RENAMED_METRIC_KEYS = {"ARmax1": "AR1", "ARmax10": "AR10", "ARmax100": "AR100"}


@gin.configurable(module="evaluation")
def coco_metric(model_dir: str, eval_files: Union[str, Sequence[str], None], *,
                include_mask: bool,
                annotation_file: Optional[str] = None,
                per_category_metrics: bool = False) -> coco_evaluator.COCOEvaluator:
  """Model Garden's COCOEvaluator for the validation set.

  Args:
    model_dir: The run's folder; a generated annotation file goes to its eval/.
    eval_files: The validation TFRecords (files or globs), to generate
      annotations from.
    include_mask: Score masks as well as boxes.
    annotation_file: COCO JSON of the validation set; None to generate it.
    per_category_metrics: Also report AP per category.
  """
  if annotation_file is None:
    if not eval_files:
      raise UserError("evaluation.coco_metric needs annotation_file when the eval input has "
                       "no file_pattern to generate annotations from.")
    annotation_file = os.path.join(model_dir, "eval", "annotations.json")
    if not tf.io.gfile.exists(annotation_file):
      tf.io.gfile.makedirs(os.path.dirname(annotation_file))
      coco_utils.scan_and_generator_annotation_file(
          eval_files, "tfrecord", -1, include_mask, annotation_file)
  elif not tf.io.gfile.exists(annotation_file):
    raise UserError(f"evaluation.coco_metric.annotation_file '{annotation_file}' does not exist; "
                    "fix the path or set it to None to generate it from the eval records.")
  return coco_evaluator.COCOEvaluator(annotation_file=annotation_file, include_mask=include_mask,
                                      per_category_metrics=per_category_metrics)


class MaskRCNNEvaluator(orbit.StandardEvaluator):
  """Runs the model in inference mode over the eval set and scores it with COCO.

  Args:
    model: The MaskRCNNModel being trained.
    dataset_fn: `dataset_fn(input_context) -> tf.data.Dataset` of finite eval
      batches (images, labels) with `labels['groundtruths']['source_id']`.
    strategy: The distribution strategy.
    metric: A COCOEvaluator.
    global_step: The training step variable (names the metrics file).
    metrics_dir: Folder for metrics_<step>.json and the TensorBoard pictures
      of a few eval images (`eval_pictures`; None: neither is written).
    class_names_file: The run's classes.json, for the pictures' labels.
  """

  def __init__(self, *, model, dataset_fn: Callable[[tf.distribute.InputContext],
                                                    tf.data.Dataset],
               strategy: tf.distribute.Strategy, metric: coco_evaluator.COCOEvaluator,
               global_step: tf.Variable, metrics_dir: Optional[str] = None,
               class_names_file: Optional[str] = None):
    self.strategy = strategy
    self.model = model
    self.metric = metric
    self.global_step = global_step
    self.metrics_dir = metrics_dir
    self.include_mask = model.get_config().get("mask_head") is not None
    self.pictures = None
    if metrics_dir and strategy.extended.should_checkpoint:
      read_names = lambda: (class_names.read(class_names_file) if class_names_file and
                            tf.io.gfile.exists(class_names_file) else {})
      self.pictures = eval_pictures.EvalPictures(dataset_fn, metrics_dir, read_names)
    dataset = strategy.distribute_datasets_from_function(dataset_fn)
    super().__init__(dataset, options=orbit.StandardEvaluatorOptions(use_tf_function=True))

  def eval_begin(self):
    self.metric.reset_states()

  def eval_step(self, iterator):
    def step_fn(inputs):
      images, labels = inputs
      outputs = self.model(images, anchor_boxes=labels["anchor_boxes"],
                           image_shape=labels["image_info"][:, 1, :], training=False)
      predictions = {
          "detection_boxes": outputs["detection_boxes"],
          "detection_scores": outputs["detection_scores"],
          "detection_classes": outputs["detection_classes"],
          "num_detections": outputs["num_detections"],
          "source_id": labels["groundtruths"]["source_id"],
          "image_info": labels["image_info"],
      }
      if self.include_mask:
        predictions["detection_masks"] = outputs["detection_masks"]
      predictions = tf.nest.map_structure(
          lambda x: tf.cast(x, tf.float32) if x.dtype.is_floating else x, predictions)
      return predictions

    outputs = self.strategy.run(step_fn, args=(next(iterator),))
    return tf.nest.map_structure(self.strategy.experimental_local_results, outputs)

  def eval_reduce(self, state=None, step_outputs=None):
    # Ground truth comes from the annotation file, so only predictions are kept.
    self.metric.update_state({}, step_outputs)
    return True

  def eval_end(self, *args) -> Dict[str, float]:
    raw = self.metric.result()
    metrics = {}
    for key, value in raw.items():
      metrics[_metric_name(key)] = float(np.asarray(value))
    step = int(self.global_step.numpy())
    if self.metrics_dir and self.strategy.extended.should_checkpoint:
      tf.io.gfile.makedirs(self.metrics_dir)
      with tf.io.gfile.GFile(os.path.join(self.metrics_dir, f"metrics_{step}.json"), "w") as f:
        json.dump({"step": step, **metrics}, f, indent=2, sort_keys=True)
    if self.pictures is not None:
      self.pictures.write(self.model, step)
    return metrics


def _metric_name(key: str) -> str:
  """'AP' -> 'box/AP', 'mask_AP50' -> 'mask/AP50'.

  Per-category keys ('Precision mAP ByCategory/circle', 'mask Precision mAP
  ByCategory@50IoU/circle') become 'box/per_category/Precision mAP/circle'.
  """
  kind = "box"
  for prefix in ("mask_", "mask "):
    if key.startswith(prefix):
      kind, key = "mask", key[len(prefix):]
  if "ByCategory" in key:
    stat, _, category = key.rpartition("/")
    return f"{kind}/per_category/{stat.replace(' ByCategory', '')}/{category}"
  return f"{kind}/{RENAMED_METRIC_KEYS.get(key, key)}"
