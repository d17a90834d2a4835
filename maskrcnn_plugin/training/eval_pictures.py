"""Pictures of a few validation images in TensorBoard at each evaluation.

    evaluation.pictures.num_images = 4        # 0: none
    evaluation.pictures.score_threshold = 0.5

Each picture is the ground truth (masks, boxes, class names) on the left and
the model's detections (with scores) on the right, drawn on the network
input image (resized and padded as the eval parser made it). The same first
images of the eval input are drawn at every evaluation, so a user watching
TensorBoard's Images tab sees the model improve. Cost: one extra inference
on `num_images` images per evaluation; the images are read once.
"""

from typing import Callable, Dict, List, Mapping, Optional

import gin
import numpy as np
import tensorflow as tf

from official.vision.ops import preprocess_ops

from maskrcnn_plugin.serving.mask_paste import paste_instance_masks
from maskrcnn_plugin.params import Fraction, NonNegativeInt
from maskrcnn_plugin.serving.visualize import draw_detections
from registry.constraints import constraint

SUMMARY_NAME = "eval_pictures"


@gin.configurable(module="evaluation")
@constraint("evaluation.pictures")
def pictures(num_images: NonNegativeInt = 4, score_threshold: Fraction = 0.5) -> Dict[str, float]:
  """The settings of the evaluation pictures (gin: `evaluation.pictures.*`)."""
  return {"num_images": num_images, "score_threshold": float(score_threshold)}


def _input_pixels(images: tf.Tensor) -> np.ndarray:
  """uint8 [B, H, W, 3] of the parser's normalized images."""
  mean = np.array(preprocess_ops.MEAN_RGB, np.float32)
  std = np.array(preprocess_ops.STDDEV_RGB, np.float32)
  pixels = np.asarray(tf.cast(images, tf.float32)) * std + mean
  return np.clip(np.round(pixels), 0, 255).astype(np.uint8)


def _in_input_pixels(boxes: tf.Tensor, image_info: tf.Tensor) -> tf.Tensor:
  """Boxes in original-image pixels -> pixels of the network input (image_info's scale)."""
  scale = tf.cast(image_info[:, 2, :], tf.float32)
  return tf.cast(boxes, tf.float32) * tf.tile(scale, [1, 2])[:, None, :]


class EvalPictures:
  """Draws the first images of the eval input with ground truth and detections.

  Args:
    dataset_fn: The eval input `fn(input_context)` (batches with
      `labels['groundtruths']` of Model Garden's eval parser).
    summary_dir: TensorBoard folder (the run's eval/).
    class_names: `() -> {id: name}`, read at each evaluation.
  """

  def __init__(self, dataset_fn: Callable, summary_dir: str,
               class_names: Callable[[], Mapping[int, str]]):
    settings = pictures()
    self.num_images = settings["num_images"]
    self.score_threshold = settings["score_threshold"]
    self._dataset_fn = dataset_fn
    self._summary_dir = summary_dir
    self._class_names = class_names
    self._batches: Optional[List] = None
    self._writer = None

  def _read_batches(self) -> List:
    batches, count = [], 0
    for images, labels in self._dataset_fn(None):
      batches.append((images, labels))
      count += int(images.shape[0])
      if count >= self.num_images:
        break
    return batches

  def draw(self, model) -> List[np.ndarray]:
    """uint8 [H, 2W, 3] pictures (ground truth | detections) of the first images."""
    if self._batches is None:
      self._batches = self._read_batches()
    names = dict(self._class_names())
    drawn = []
    for images, labels in self._batches:
      outputs = model(images, anchor_boxes=labels["anchor_boxes"],
                      image_shape=labels["image_info"][:, 1, :], training=False)
      canvas = tf.shape(images)[1:3]
      info = labels["image_info"]
      truth = labels["groundtruths"]
      gt_boxes = _in_input_pixels(truth["boxes"], info)
      pred_boxes = _in_input_pixels(outputs["detection_boxes"], info)
      gt_masks = pred_masks = None
      if "masks" in truth and "detection_masks" in outputs:
        gt_masks = paste_instance_masks(truth["masks"], gt_boxes, canvas).numpy()
        pred_masks = paste_instance_masks(outputs["detection_masks"], pred_boxes, canvas).numpy()
      pixels = _input_pixels(images)
      for i in range(len(pixels)):
        if len(drawn) >= self.num_images:
          return drawn
        keep = np.asarray(truth["classes"][i]) > 0
        n = int(outputs["num_detections"][i])
        left = draw_detections(pixels[i], {
            "boxes": np.asarray(gt_boxes[i])[keep],
            "classes": np.asarray(truth["classes"][i])[keep],
            "scores": np.ones(int(keep.sum()), np.float32),
            "masks": gt_masks[i][keep] if gt_masks is not None else None,
        }, names, 0.0, show_scores=False)
        right = draw_detections(pixels[i], {
            "boxes": np.asarray(pred_boxes[i])[:n],
            "classes": np.asarray(outputs["detection_classes"][i])[:n],
            "scores": np.asarray(outputs["detection_scores"][i])[:n],
            "masks": pred_masks[i][:n] if pred_masks is not None else None,
        }, names, self.score_threshold)
        drawn.append(np.concatenate([left, right], axis=1))
    return drawn

  def write(self, model, step: int) -> List[np.ndarray]:
    """Draws the pictures and writes them as TensorBoard images at `step`."""
    if not self.num_images:
      return []
    drawn = self.draw(model)
    if drawn:
      if self._writer is None:
        self._writer = tf.summary.create_file_writer(self._summary_dir)
      with self._writer.as_default():
        tf.summary.image(SUMMARY_NAME, np.stack(drawn), step=step, max_outputs=len(drawn))
      self._writer.flush()
    return drawn
