"""Running a serving signature on one image at a time.

A `Predictor` wraps the `serving_default` function of a SavedModel written by
`maskrcnn export`, or of a serving module built in-process from a training
folder, and feeds it what its input type takes: decoded pixels, the file's
encoded bytes, or a tf.Example holding them.
"""

from typing import Dict, Optional

import numpy as np
import tensorflow as tf

from maskrcnn_plugin.errors import UserError
from maskrcnn_plugin.serving.detection import DetectionExportModule
from maskrcnn_plugin.serving.export import read_export_info
from maskrcnn_plugin.serving.restore import restore_run


class Predictor:
  """Detections of one image; see DetectionExportModule for the outputs."""

  def __init__(self, function, *, input_type: str, batch_size: Optional[int], source: str):
    """Wraps a serving function.

    Args:
      function: A concrete `serving_default` function taking `inputs`.
      input_type: 'image_tensor', 'encoded_image' or 'tf_example'.
      batch_size: The function's fixed batch size, or None.
      source: Names the model in messages.

    Raises:
      UserError: the function takes a fixed batch of more than one image.
    """
    if batch_size not in (None, 1):
      raise UserError(
          f"{source} takes batches of exactly {batch_size} images, but predict feeds one image "
          "at a time (images differ in size). Export again with --batch_size=1 or without "
          "--batch_size.")
    self._function = function
    self._input_type = input_type

  @classmethod
  def from_saved_model(cls, saved_model_dir: str) -> "Predictor":
    """Loads a SavedModel written by `maskrcnn export`."""
    info = read_export_info(saved_model_dir)
    loaded = tf.saved_model.load(saved_model_dir)
    function = loaded.signatures[tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY]
    predictor = cls(function, input_type=info["input_type"], batch_size=info["batch_size"],
                    source=f"SavedModel {saved_model_dir}")
    predictor.loaded = loaded  # keeps the function's variables alive
    return predictor

  @classmethod
  def from_model_dir(cls, model_dir: str, checkpoint: Optional[str] = None,
                     mask_output: str = "binary") -> "Predictor":
    """Builds a training folder's model in-process (no export needed)."""
    run = restore_run(model_dir, checkpoint)
    module = DetectionExportModule(run.model, image_size=run.image_size, mask_output=mask_output)
    predictor = cls(module.serving_function(), input_type="image_tensor", batch_size=None,
                    source=f"model_dir {model_dir}")
    predictor.module = module
    return predictor

  @property
  def input_type(self) -> str:
    return self._input_type

  def __call__(self, image: np.ndarray, encoded: bytes) -> Dict[str, np.ndarray]:
    """Detections of one image.

    Args:
      image: uint8 [height, width, 3] pixels of the image.
      encoded: The image file's bytes (JPEG, PNG, ...), used by SavedModels
        that take encoded images or tf.Examples.

    Returns:
      NumPy arrays of the image's valid detections (N = num_detections):
      boxes [N, 4] (ymin, xmin, ymax, xmax) pixels, classes [N] int, scores
      [N], masks [N, height, width] (uint8 0/1 or float32 probabilities).
    """
    if self._input_type == "image_tensor":
      inputs = tf.constant(image[np.newaxis], tf.uint8)
    elif self._input_type == "encoded_image":
      inputs = tf.constant([encoded])
    else:
      example = tf.train.Example(features=tf.train.Features(feature={
          "image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=[encoded]))}))
      inputs = tf.constant([example.SerializeToString()])
    outputs = self._function(inputs=inputs)
    count = int(outputs["num_detections"][0])
    return {
        "boxes": outputs["detection_boxes"][0, :count].numpy(),
        "classes": outputs["detection_classes"][0, :count].numpy(),
        "scores": outputs["detection_scores"][0, :count].numpy(),
        "masks": outputs["detection_masks"][0, :count].numpy(),
    }
