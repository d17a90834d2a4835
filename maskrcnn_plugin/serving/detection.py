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

Images of different sizes in one batch: the encoded_image and tf_example
signatures decode each image, pad the batch to the largest height and width
and remember each image's size; an image_tensor export also has a
`serving_padded` signature taking `inputs` uint8 [B, H, W, 3] (images padded
at the bottom and right) and `image_sizes` int32 [B, 2] (each image's height,
width). Each image is cut to its size before Model Garden's resizing, so its
detections are those of the image alone; its boxes are in its own pixels and
its masks fill the top-left [height, width] of the [H, W] canvas.
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
# The image_tensor export's signature for batches of images of different sizes.
PADDED_SIGNATURE_KEY = "serving_padded"


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

  def serve(self, images: tf.Tensor, image_sizes=None) -> Mapping[str, tf.Tensor]:
    """Detections for uint8 images [B, H, W, 3] in their own pixels.

    Args:
      images: uint8 [B, H, W, 3].
      image_sizes: None (every image fills [H, W]), or int32 [B, 2] (height,
        width) of each image in the top-left corner of its padded slot.
    """
    # Model Garden's preprocess maps `_build_inputs` over its argument, which
    # may be a tuple: (image, size) pairs are cut to size in `_build_inputs`.
    outputs = super().serve(images if image_sizes is None else (images, image_sizes))
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

  def preprocess(self, images):
    """Model Garden's preprocess; also of a tuple (images [B, H, W, 3], sizes [B, 2]).

    Model Garden 2.14's preprocess casts its argument to float32 before its
    map, which a tuple cannot be; for a tuple the map is done here, as Model
    Garden does it: `_build_inputs` over each (image, size) pair, on the CPU.
    """
    if not isinstance(images, tuple):
      return super().preprocess(images)
    pixels, sizes = images
    # The output signature of one image's preprocessing (an unused trace, pruned).
    signature = tf.nest.map_structure(lambda t: tf.TensorSpec(t.shape, t.dtype),
                                      self._build_inputs((pixels[0], sizes[0])))
    with tf.device("cpu:0"):
      return tf.map_fn(self._build_inputs, elems=(pixels, sizes), fn_output_signature=signature,
                       parallel_iterations=32)

  def _build_inputs(self, image):
    """Model Garden's preprocessing of one image, or of an (image, [height, width]) pair."""
    if isinstance(image, tuple):
      image, size = image
      # float32 first, as Model Garden 2.14's preprocess does (2.20 casts in _build_inputs).
      image = tf.cast(image[:size[0], :size[1]], tf.float32)
    return super()._build_inputs(image)

  @tf.function
  def inference_from_padded_images(self, inputs: tf.Tensor, image_sizes: tf.Tensor):
    return self.serve(inputs, image_sizes)

  @tf.function
  def inference_from_image_bytes(self, inputs: tf.Tensor):
    return self._serve_decoded(inputs, self._decode_image)

  @tf.function
  def inference_from_tf_example(self, inputs: tf.Tensor):
    return self._serve_decoded(inputs, self._decode_tf_example)

  def _serve_decoded(self, inputs: tf.Tensor, decode):
    """Decodes strings [B] with `decode` (Model Garden's), pads them to one size and serves them.

    Model Garden stacks the decoded images, which fails unless all have one size.
    """
    def decode_ragged(serialized):
      image = decode(serialized)
      return tf.RaggedTensor.from_tensor(image, ragged_rank=1), tf.shape(image)[:2]

    with tf.device("cpu:0"):
      ragged, image_sizes = tf.map_fn(
          decode_ragged, elems=inputs, parallel_iterations=32,
          fn_output_signature=(tf.RaggedTensorSpec([None, None, self._num_channels], tf.uint8,
                                                   ragged_rank=1),
                               tf.TensorSpec([2], tf.int32)))
      images = ragged.to_tensor()
    return self.serve(images, image_sizes)

  def serving_function(self):
    """The concrete `serving_default` function of this module's input type."""
    key = tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY
    return self.get_inference_signatures({self.signature_key: key})[key]

  def padded_input_signature(self):
    """TensorSpecs of `serving_padded`'s inputs: images [B, H, W, 3] and their sizes [B, 2]."""
    return [tf.TensorSpec([self._batch_size, None, None, self._num_channels], tf.uint8,
                          name="inputs"),
            tf.TensorSpec([self._batch_size, 2], tf.int32, name="image_sizes")]

  def padded_serving_function(self):
    """The concrete `serving_padded` function: (inputs, image_sizes) -> outputs."""
    return self.inference_from_padded_images.get_concrete_function(
        *self.padded_input_signature())

  def signatures(self):
    """The SavedModel's signatures: serving_default, and serving_padded for image_tensor."""
    signatures = {tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY: self.serving_function()}
    if self._input_type == "image_tensor":
      signatures[PADDED_SIGNATURE_KEY] = self.padded_serving_function()
    return signatures
