"""Built-in backbones: Model Garden's ResNet, MobileNet and SpineNet.

Backbone contract (`registries.BACKBONES.contract`, checked by
`contract.check_backbone` when the model is built): a factory takes
`input_specs`, a Keras `InputSpec` of shape [None, height, width, 3], plus its
own keyword parameters, and returns a Keras model of Model Garden's Keras
(tf_keras under TF >= 2.16) that maps images [batch, height, width, 3] to a
dict {level: [batch, ceil(height / 2**level), ceil(width / 2**level),
channels]} keyed by level strings ("2".."5") and that exposes `output_specs`,
the dict {level: TensorShape} of those outputs (inferred when it is missing).
ResNet and MobileNet pass their arguments to Model Garden's classes
(`layer_factory.passes_arguments`).

`maskrcnn.build_maskrcnn` passes `input_specs` with the static image size, and
also `activation`, `use_sync_bn`, `norm_momentum`, `norm_epsilon`,
`kernel_regularizer`, `min_level` and `max_level` to factories that accept them
(unless bound in gin for that factory), as Model Garden's backbone builders
take them from the model's `norm_activation` config and weight decay.
"""

from typing import Annotated, Optional

from official.vision.modeling.backbones import mobilenet as mg_mobilenet
from official.vision.modeling.backbones import resnet as mg_resnet
from official.vision.modeling.backbones import spinenet as mg_spinenet

from maskrcnn_plugin.modeling.layer_factory import passes_arguments
from maskrcnn_plugin.params import Activation, Epsilon, Fraction, Level, Positive, Rate
from maskrcnn_plugin.registries import BACKBONES
from registry import OneOf

# Depths and variants Model Garden has: declared as choices, so an unknown one
# is refused, naming its binding, before anything is built.
RESNET_DEPTHS = tuple(sorted(mg_resnet.RESNET_SPECS))
MOBILENETS = tuple(mg_mobilenet.SUPPORTED_SPECS_MAP)


@BACKBONES.register("resnet")
@passes_arguments(renamed={"stochastic_depth_drop_rate": "init_stochastic_depth_rate"},
                  none_means_default=("input_specs",))
def resnet(input_specs: Optional["keras.layers.InputSpec"] = None,
           *,
           model_id: Annotated[int, OneOf(*RESNET_DEPTHS)] = 50,
           depth_multiplier: Positive = 1.0,
           stem_type: Annotated[str, OneOf("v0", "v1")] = "v0",
           se_ratio: Fraction = 0.0,
           stochastic_depth_drop_rate: Rate = 0.0,
           scale_stem: bool = True,
           resnetd_shortcut: bool = False,
           replace_stem_max_pool: bool = False,
           bn_trainable: bool = True,
           activation: Activation = "relu",
           use_sync_bn: bool = False,
           norm_momentum: Rate = 0.99,
           norm_epsilon: Epsilon = 0.001,
           kernel_regularizer: Optional["keras.regularizers.Regularizer"] = None):
  """Model Garden's ResNet (`official.vision.modeling.backbones.ResNet`).

  Outputs levels "2".."5" (strides 4..32) with 64..512 channels for depths 10-34
  and 256..2048 for deeper ones (times `depth_multiplier`). Defaults are those
  of Model Garden's `backbones.ResNet` config.

  Args:
    input_specs: InputSpec [None, height, width, 3]; None means any size.
    model_id: Depth: one of RESNET_DEPTHS (10, 18, 26, 34, 50, 101, 152, 200,
      270, 350, 420).
    depth_multiplier: Scales the channels of every layer.
    stem_type: 'v0' (7x7 conv) or 'v1' (ResNet-D stem of three 3x3 convs).
    se_ratio: Squeeze-and-excitation ratio; 0 disables it.
    stochastic_depth_drop_rate: Final stochastic depth drop rate.
    scale_stem: Whether the 'v1' stem's channels scale with depth_multiplier.
    resnetd_shortcut: Use ResNet-D's average-pooling shortcut.
    replace_stem_max_pool: Replace the stem's max pool by a strided conv.
    bn_trainable: Whether batch normalization layers are trainable.
    activation: Activation of every block.
    use_sync_bn: Synchronized batch normalization across replicas.
    norm_momentum: Batch normalization momentum.
    norm_epsilon: Batch normalization epsilon.
    kernel_regularizer: Regularizer of conv kernels (weight decay).

  Returns:
    The ResNet Keras model.
  """
  return mg_resnet.ResNet


@BACKBONES.register("mobilenet")
@passes_arguments(none_means_default=("input_specs", "flat_stochastic_depth_drop_rate"))
def mobilenet(input_specs: Optional["keras.layers.InputSpec"] = None,
              *,
              model_id: Annotated[str, OneOf(*MOBILENETS)] = "MobileNetV2",
              filter_size_scale: Positive = 1.0,
              stochastic_depth_drop_rate: Rate = 0.0,
              flat_stochastic_depth_drop_rate: Optional[bool] = None,
              output_stride: Annotated[Optional[int], OneOf(None, 8, 16, 32)] = None,
              output_intermediate_endpoints: bool = False,
              use_sync_bn: bool = False,
              norm_momentum: Rate = 0.99,
              norm_epsilon: Epsilon = 0.001,
              kernel_regularizer: Optional["keras.regularizers.Regularizer"] = None):
  """Model Garden's MobileNet family (`official.vision.modeling.backbones.MobileNet`).

  Outputs levels "2".."5" (strides 4..32); MobileNetV2 has 24, 32, 96 and 320
  channels. Each model_id fixes its own activations (relu6, hard-swish...), so
  this factory takes no `activation`, like Model Garden's builder. Defaults are
  those of Model Garden's `backbones.MobileNet` config.

  Args:
    input_specs: InputSpec [None, height, width, 3]; None means any size.
    model_id: 'MobileNetV1', 'MobileNetV2', 'MobileNetV3Large',
      'MobileNetV3Small', 'MobileNetMultiAVG', 'MobileNetV4ConvSmall', ...
    filter_size_scale: Width multiplier of every layer.
    stochastic_depth_drop_rate: Stochastic depth drop rate.
    flat_stochastic_depth_drop_rate: Same rate for all blocks instead of a
      linear increase; None keeps Model Garden's default (True; Model Garden
      2.14 has only the flat rate and rejects any other value).
    output_stride: Output stride for dilated convolutions; None for none.
    output_intermediate_endpoints: Also output intermediate block endpoints.
    use_sync_bn: Synchronized batch normalization across replicas.
    norm_momentum: Batch normalization momentum.
    norm_epsilon: Batch normalization epsilon.
    kernel_regularizer: Regularizer of conv kernels (weight decay).

  Returns:
    The MobileNet Keras model.
  """
  return mg_mobilenet.MobileNet


@BACKBONES.register("spinenet")
def spinenet(input_specs: "keras.layers.InputSpec",
             *,
             model_id: str = "49",
             min_level: Level = 3,
             max_level: Level = 7,
             stochastic_depth_drop_rate: Rate = 0.0,
             activation: Activation = "relu",
             use_sync_bn: bool = False,
             norm_momentum: Rate = 0.99,
             norm_epsilon: Epsilon = 0.001,
             kernel_regularizer: Optional["keras.regularizers.Regularizer"] = None):
  """Model Garden's SpineNet (`official.vision.modeling.backbones.SpineNet`).

  Outputs levels min_level..max_level ("3".."7" by default), each with the
  model's endpoint width (256 for '49'). SpineNet resamples between levels, so
  it needs a static image size divisible by 2**max_level: reference it
  uncalled (`@backbones.spinenet`) so that the builder passes the image size.
  The builder passes the anchors' min_level/max_level unless bound here.

  Args:
    input_specs: InputSpec [None, height, width, 3] with static height, width.
    model_id: '49S', '49', '96', '143', '143L' or '190' (scaling of SpineNet-49).
    min_level: Finest output level.
    max_level: Coarsest output level.
    stochastic_depth_drop_rate: Final stochastic depth drop rate.
    activation: Activation of every block.
    use_sync_bn: Synchronized batch normalization across replicas.
    norm_momentum: Batch normalization momentum.
    norm_epsilon: Batch normalization epsilon.
    kernel_regularizer: Regularizer of conv kernels (weight decay).

  Returns:
    The SpineNet Keras model.
  """
  model_id = str(model_id)
  if model_id not in mg_spinenet.SCALING_MAP:
    raise ValueError(f"model_id={model_id!r} is not a SpineNet Model Garden has; use one of "
                     f"{', '.join(mg_spinenet.SCALING_MAP)}.")
  height, width = list(input_specs.shape)[1:3]
  if height is None or width is None:
    raise ValueError("SpineNet needs a static image size: reference it uncalled "
                     "(`@backbones.spinenet`) so that maskrcnn.build_maskrcnn passes IMAGE_SIZE.")
  scaling = mg_spinenet.SCALING_MAP[model_id]
  return mg_spinenet.SpineNet(
      input_specs=input_specs,
      min_level=min_level,
      max_level=max_level,
      endpoints_num_filters=scaling["endpoints_num_filters"],
      resample_alpha=scaling["resample_alpha"],
      block_repeats=scaling["block_repeats"],
      filter_size_scale=scaling["filter_size_scale"],
      init_stochastic_depth_rate=stochastic_depth_drop_rate,
      kernel_regularizer=kernel_regularizer,
      activation=activation,
      use_sync_bn=use_sync_bn,
      norm_momentum=norm_momentum,
      norm_epsilon=norm_epsilon)
