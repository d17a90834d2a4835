"""Keras Applications backbones: `backbones.keras_application`.

    maskrcnn.build_maskrcnn.backbone = @backbones.keras_application
    backbones.keras_application.model_name = 'ResNet50'   # as in keras.applications
    backbones.keras_application.weights = 'imagenet'       # or '/path/notop.h5', or None

The model is `keras.applications.<model_name>` of Model Garden's Keras (tf_keras
under TF >= 2.16) without its classifier top, built for the static image size
and wrapped to keep the backbone contract (`maskrcnn_plugin.modeling.backbones`):
it outputs levels "2".."5" (strides 4..32), taken from

  * ResNet v1 (caffe preprocessing), MobileNetV2, MobileNetV3, EfficientNet:
    the last layer at each stride, i.e. the stage outputs of ResNet v1 and the
    expansion outputs before each stride-2 depthwise convolution of the
    MobileNets and EfficientNets (as TF Object Detection's FPN extractors);
  * ResNet v2: the pre-activation (batch norm + ReLU) of each stage's last
    block ('conv2_block3_preact_relu', ..., 'post_relu'), because v2 strides
    in the last block of a stage, whose inner layers are the last at stride 4.

Images arrive as Model Garden's parser makes them, normalised with the
ImageNet mean and standard deviation (`preprocess_ops.normalize_image`); the
first layer undoes that to RGB in [0, 255] and applies the preprocessing the
family's ImageNet weights expect: caffe (BGR minus the ImageNet mean) for
ResNet v1, [-1, 1] for ResNet v2 and MobileNetV2, none for MobileNetV3 and
EfficientNet, which rescale inside the model (`include_preprocessing`). So
images are fed exactly as for the other backbones.
"""

import math
from typing import Annotated, Any, Dict, Optional

import tensorflow as tf
from official.vision.ops import preprocess_ops

from maskrcnn_plugin import errors
from maskrcnn_plugin.keras_setup import model_garden_keras
from maskrcnn_plugin.registries import BACKBONES
from registry import OneOf

keras = model_garden_keras()

# model_name -> the preprocessing its ImageNet weights expect (see module docstring).
PREPROCESSING = {
    "ResNet50": "caffe", "ResNet101": "caffe", "ResNet152": "caffe",
    "ResNet50V2": "tf", "ResNet101V2": "tf", "ResNet152V2": "tf",
    "MobileNetV2": "tf", "MobileNetV3Small": "built_in", "MobileNetV3Large": "built_in",
    **{f"EfficientNetB{i}": "built_in" for i in range(8)},
}
# ResNet v2: blocks per stage 2, 3, 4 (the feature is the next block's pre-activation).
_RESNET_V2_BLOCKS = {"ResNet50V2": (3, 4, 6), "ResNet101V2": (3, 4, 23),
                     "ResNet152V2": (3, 8, 36)}
_CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)  # keras.applications.imagenet_utils, mode='caffe'
LEVELS = (2, 3, 4, 5)


class ApplicationPreprocessing(keras.layers.Layer):
  """Model Garden-normalised images -> the input a Keras Applications family expects.

  Written as a layer (rather than calling `keras.applications.*.preprocess_input`
  in a Lambda) so that it serialises with the model and runs in exported
  SavedModels. Input and output: float [batch, height, width, 3].

  Args:
    mode: 'caffe' (BGR minus the ImageNet mean), 'tf' (RGB in [-1, 1]) or
      'built_in' (RGB in [0, 255]; the model rescales itself).
  """

  def __init__(self, mode: str, **kwargs):
    super().__init__(**kwargs)
    if mode not in ("caffe", "tf", "built_in"):
      raise ValueError(f"Unknown preprocessing mode {mode!r}.")
    self.mode = mode

  def call(self, images):
    images = tf.cast(images, self.compute_dtype)
    rgb = (images * tf.constant(preprocess_ops.STDDEV_RGB, self.compute_dtype) +
           tf.constant(preprocess_ops.MEAN_RGB, self.compute_dtype))
    if self.mode == "caffe":
      return rgb[..., ::-1] - tf.constant(_CAFFE_BGR_MEAN, self.compute_dtype)
    if self.mode == "tf":
      return rgb / 127.5 - 1.0
    return rgb

  def get_config(self):
    return {**super().get_config(), "mode": self.mode}


@BACKBONES.register("keras_application")
def keras_application(input_specs: "keras.layers.InputSpec",
                      *,
                      model_name: Annotated[str, OneOf(*PREPROCESSING)] = "ResNet50",
                      weights: Optional[str] = None,
                      application_kwargs: Optional[Dict[str, Any]] = None,
                      kernel_regularizer: Optional["keras.regularizers.Regularizer"] = None):
  """A `keras.applications` model as a backbone with levels "2".."5".

  Reference it uncalled (`@backbones.keras_application`) so that
  `maskrcnn.build_maskrcnn` passes the static image size the feature layers
  are found at.

  Args:
    input_specs: InputSpec [None, height, width, 3] with static height, width.
    model_name: A `keras.applications` constructor in PREPROCESSING:
      'ResNet50', 'ResNet101', 'ResNet152', 'ResNet50V2', 'ResNet101V2',
      'ResNet152V2', 'MobileNetV2', 'MobileNetV3Small', 'MobileNetV3Large',
      'EfficientNetB0' ... 'EfficientNetB7'.
    weights: 'imagenet' (Keras downloads the no-top file once), the path of a
      Keras weights file of the same model without top, or None (random).
    application_kwargs: Further arguments of the constructor, e.g.
      {'alpha': 0.75} for the MobileNets.
    kernel_regularizer: Weight decay on every conv and dense kernel (the
      builder passes the model's l2 regularizer).

  Returns:
    A Keras model mapping images [batch, height, width, 3] (normalised by
    Model Garden's parser) to {"2".."5": features at strides 4..32}, with
    `output_specs`.
  """
  height, width = list(input_specs.shape)[1:3] if input_specs is not None else (None, None)
  if height is None or width is None:
    raise ValueError("backbones.keras_application needs a static image size: reference it "
                     "uncalled (`@backbones.keras_application`) so that maskrcnn.build_maskrcnn "
                     "passes IMAGE_SIZE.")
  if weights not in (None, "imagenet") and not tf.io.gfile.exists(weights):
    raise ValueError(f"backbones.keras_application.weights={weights!r}: no such file; use "
                     "'imagenet', None, or the path of a Keras weights file of "
                     f"{model_name} without top.")
  images = keras.Input(shape=(height, width, 3), name="images")
  preprocessed = ApplicationPreprocessing(PREPROCESSING[model_name],
                                          name="application_preprocessing")(images)
  try:
    application = getattr(keras.applications, model_name)(
        include_top=False, weights=weights, input_tensor=preprocessed,
        **(application_kwargs or {}))
  except (ValueError, OSError) as error:
    raise ValueError(f"keras.applications.{model_name}(weights={weights!r}) failed: "
                     f"{errors.first_line(error)}") from error
  names = _feature_layer_names(application, model_name, height, width)
  features = {str(level): application.get_layer(names[level]).output for level in LEVELS}
  backbone = keras.Model(images, features, name=f"keras_{model_name.lower()}")
  backbone.output_specs = {level: tensor.shape for level, tensor in features.items()}
  if kernel_regularizer is not None:
    for layer in backbone.layers:
      for attribute in ("kernel", "depthwise_kernel"):
        if getattr(layer, attribute, None) is not None:
          backbone.add_loss(lambda w=getattr(layer, attribute): kernel_regularizer(w))
  return backbone


def _feature_layer_names(application, model_name: str, height: int, width: int) -> Dict[int, str]:
  """{level: name of the layer whose output is that level's feature map}."""
  if model_name in _RESNET_V2_BLOCKS:
    blocks = _RESNET_V2_BLOCKS[model_name]
    names = {level: f"conv{level}_block{count}_preact_relu"
             for level, count in zip((2, 3, 4), blocks)}
    return {**names, 5: "post_relu"}
  names = {}
  for layer in application.layers:
    shape = layer.output.shape if hasattr(layer.output, "shape") else None
    if shape is None or shape.rank != 4:
      continue
    for level in LEVELS:
      if (shape[1], shape[2]) == (math.ceil(height / 2**level), math.ceil(width / 2**level)):
        names[level] = layer.name  # The last layer at this stride wins.
  missing = [level for level in LEVELS if level not in names]
  if missing:
    raise ValueError(f"keras.applications.{model_name} has no layer at the stride of levels "
                     f"{missing} for {height}x{width} images; use images of at least 64 px.")
  return names
