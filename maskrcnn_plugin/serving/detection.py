"""The Mask R-CNN serving module: images in, detections in image pixels out.

`DetectionExportModule` is Model Garden's `official.vision.serving.detection.
DetectionModule` (image decoding, tf.Example parsing, the training
preprocessing `normalize_image` + `resize_and_crop_image` + padding, anchors,
`serving_default` signatures) given the plugin's model. Model Garden's module
returns boxes in the resized image and M x M masks; this one maps boxes back
to the original image pixels and pastes the masks into full-image canvases,
as Model Garden's COCO evaluator does offline, so a client needs nothing but
the SavedModel.

Serving outputs, for a batch of B images of height H and width W:
  num_detections: int32 [B], valid detections per image (the rest is padding).
  detection_boxes: float32 [B, K, 4] (ymin, xmin, ymax, xmax) in pixels of the
    original image.
  detection_classes: int32 [B, K] class ids (1..num_classes-1).
  detection_scores: float32 [B, K].
  detection_masks: [B, K, H, W], uint8 0/1 (mask_output='binary') or float32
    probabilities (mask_output='probabilities').
K is the detection generator's max_num_detections.
"""

from typing import Mapping, Sequence

import tensorflow as tf

from official.core import config_definitions
from official.vision.configs import maskrcnn as maskrcnn_config
from official.vision.serving import detection

from maskrcnn_plugin.serving.mask_paste import paste_instance_masks

# Input types of `maskrcnn export` and the Model Garden signature keys.
INPUT_TYPES = {"image_tensor": "image_tensor", "encoded_image": "image_bytes",
               "tf_example": "tf_example"}
MASK_OUTPUTS = ("binary", "probabilities")


def model_garden_params(model) -> config_definitions.ExperimentConfig:
  """A Model Garden experiment config describing `model`'s inference inputs.

  DetectionModule reads the anchor levels and sizes, the padding and the NMS
  version from an experiment config. They are taken from the built model (the
  values it generates its own anchors from), so the module's anchors and
  padding are the model's whatever gin built it.
  """
  config = model.get_config()
  nms_version = model.detection_generator.get_config().get("nms_version", "v2")
  return config_definitions.ExperimentConfig(task=maskrcnn_config.MaskRCNNTask(
      model=maskrcnn_config.MaskRCNN(
          min_level=config["min_level"], max_level=config["max_level"],
          anchor=maskrcnn_config.Anchor(
              num_scales=config["num_scales"], aspect_ratios=list(config["aspect_ratios"]),
              anchor_size=config["anchor_size"]),
          detection_generator=maskrcnn_config.DetectionGenerator(nms_version=nms_version))))


class DetectionExportModule(detection.DetectionModule):
  """Serves a built Mask R-CNN model on uint8 images, encoded images or tf.Examples.

  The module tracks the model's variables, not the Keras model: saving a
  built (called) Keras model makes Keras trace its call in training mode too,
  which Mask R-CNN cannot do without labels. The SavedModel thus holds the
  weights and the serving signature, without Keras metadata.
  """

  def __init__(self, model, *, image_size: Sequence[int], batch_size=None,
               input_type: str = "image_tensor", mask_output: str = "binary"):
    """Wraps `model` for serving.

    Args:
      model: A built Model Garden MaskRCNNModel with restored weights.
      image_size: [height, width] the model was trained at; images of any
        size are resized to fit it (aspect ratio kept) and padded.
      batch_size: Images per call, or None for any number.
      input_type: One of INPUT_TYPES.
      mask_output: 'binary' (uint8 0/1, the evaluator's 0.5 threshold) or
        'probabilities' (float32).
    """
    if input_type not in INPUT_TYPES:
      raise ValueError(f"input_type must be one of {', '.join(INPUT_TYPES)}, got {input_type!r}.")
    if mask_output not in MASK_OUTPUTS:
      raise ValueError(f"mask_output must be one of {', '.join(MASK_OUTPUTS)}, "
                       f"got {mask_output!r}.")
    self._init_untracked(model, image_size=image_size, batch_size=batch_size,
                         input_type=input_type, mask_output=mask_output)
    self.model_variables = list(model.variables)

  @tf.__internal__.tracking.no_automatic_dependency_tracking
  def _init_untracked(self, model, *, image_size, batch_size, input_type, mask_output):
    self._mask_output = mask_output
    self._input_type_name = input_type
    super().__init__(model_garden_params(model), batch_size=batch_size,
                     input_image_size=list(image_size), input_type=INPUT_TYPES[input_type],
                     model=model)

  @property
  def input_type(self) -> str:
    return self._input_type_name

  @property
  def batch_size(self):
    return self._batch_size

  @property
  def image_size(self):
    return tuple(self._input_image_size)

  @property
  def mask_output(self) -> str:
    return self._mask_output

  @property
  def signature_key(self) -> str:
    """Model Garden's function key of this module's input type."""
    return self._input_type

  def serve(self, images: tf.Tensor) -> Mapping[str, tf.Tensor]:
    """Detections for uint8 images [B, H, W, 3] in their own pixels."""
    outputs = super().serve(images)
    image_info = outputs["image_info"]
    # Undo the resize as Model Garden's COCO evaluator does (the offset is zero
    # without scale augmentation).
    boxes = outputs["detection_boxes"] / tf.tile(image_info[:, 2:3, :], [1, 1, 2])
    masks = paste_instance_masks(outputs["detection_masks"], boxes, tf.shape(images)[1:3])
    if self._mask_output == "binary":
      masks = tf.cast(masks > 0.5, tf.uint8)
    return {
        "num_detections": tf.cast(outputs["num_detections"], tf.int32),
        "detection_boxes": boxes,
        "detection_classes": tf.cast(outputs["detection_classes"], tf.int32),
        "detection_scores": outputs["detection_scores"],
        "detection_masks": masks,
    }

  def serving_function(self):
    """The concrete `serving_default` function of this module's input type."""
    key = tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY
    return self.get_inference_signatures({self.signature_key: key})[key]
