"""Built-in decoders (necks): Model Garden's FPN and NAS-FPN, and identity.

Decoder contract: a factory takes `input_specs` (the backbone's
`output_specs`, {level: TensorShape}) and `min_level`/`max_level` (from
`maskrcnn.AnchorSettings`), and returns a Keras model mapping the backbone's
feature dict to a dict {level: [batch, ceil(height / 2**level),
ceil(width / 2**level), channels]} holding every level min_level..max_level, or
None to use the backbone's features as they are. The builder also passes
`activation`, `use_sync_bn`, `norm_momentum`, `norm_epsilon` and
`kernel_regularizer` to factories that accept them, unless bound in gin for
that factory.
"""

from typing import Annotated, Mapping, Optional

from official.vision.modeling.decoders import fpn as mg_fpn
from official.vision.modeling.decoders import nasfpn as mg_nasfpn

from maskrcnn_plugin.modeling.layer_factory import passes_arguments
from maskrcnn_plugin.params import Activation, Epsilon, Level, PositiveInt, Rate
from maskrcnn_plugin.registries import DECODERS
from registry import OneOf


@DECODERS.register("fpn")
@passes_arguments()
def fpn(input_specs: Mapping[str, "tf.TensorShape"],
        min_level: Level,
        max_level: Level,
        *,
        num_filters: PositiveInt = 256,
        fusion_type: Annotated[str, OneOf("sum", "concat")] = "sum",
        use_separable_conv: bool = False,
        use_keras_layer: bool = False,
        activation: Activation = "relu",
        use_sync_bn: bool = False,
        norm_momentum: Rate = 0.99,
        norm_epsilon: Epsilon = 0.001,
        kernel_regularizer: Optional["keras.regularizers.Regularizer"] = None):
  """Model Garden's Feature Pyramid Network (`official.vision.modeling.decoders.FPN`).

  Uses backbone levels min_level..min(max_level, the backbone's top level) and
  adds the levels above by stride-2 convolutions. Every output level has
  `num_filters` channels. Defaults are those of Model Garden's `decoders.FPN`.

  Args:
    input_specs: The backbone's output_specs, {level: TensorShape}.
    min_level: Finest output level.
    max_level: Coarsest output level.
    num_filters: Channels of every output level.
    fusion_type: How top-down and lateral features combine: 'sum' or 'concat'.
    use_separable_conv: Depthwise-separable 3x3 output convolutions.
    use_keras_layer: Use Keras layers for upsampling instead of custom ops.
    activation: Activation of the extra levels' convolutions.
    use_sync_bn: Synchronized batch normalization across replicas.
    norm_momentum: Batch normalization momentum.
    norm_epsilon: Batch normalization epsilon.
    kernel_regularizer: Regularizer of conv kernels (weight decay).

  Returns:
    The FPN Keras model.
  """
  return mg_fpn.FPN


@DECODERS.register("nasfpn")
@passes_arguments()
def nasfpn(input_specs: Mapping[str, "tf.TensorShape"],
           min_level: Level,
           max_level: Level,
           *,
           num_filters: PositiveInt = 256,
           num_repeats: PositiveInt = 5,
           use_separable_conv: bool = False,
           activation: Activation = "relu",
           use_sync_bn: bool = False,
           norm_momentum: Rate = 0.99,
           norm_epsilon: Epsilon = 0.001,
           kernel_regularizer: Optional["keras.regularizers.Regularizer"] = None):
  """Model Garden's NAS-FPN (`official.vision.modeling.decoders.NASFPN`).

  Every output level min_level..max_level has `num_filters` channels. Defaults
  are those of Model Garden's `decoders.NASFPN`.

  Args:
    input_specs: The backbone's output_specs, {level: TensorShape}.
    min_level: Finest output level.
    max_level: Coarsest output level.
    num_filters: Channels of every output level.
    num_repeats: Number of repeated NAS-FPN cells.
    use_separable_conv: Depthwise-separable convolutions.
    activation: Activation of the cells.
    use_sync_bn: Synchronized batch normalization across replicas.
    norm_momentum: Batch normalization momentum.
    norm_epsilon: Batch normalization epsilon.
    kernel_regularizer: Regularizer of conv kernels (weight decay).

  Returns:
    The NAS-FPN Keras model.
  """
  return mg_nasfpn.NASFPN


@DECODERS.register("identity")
def identity() -> None:
  """No decoder: the heads use the backbone's features directly.

  Model Garden's identity decoder. The backbone must then output every level
  min_level..max_level itself (SpineNet does).

  Returns:
    None, which `MaskRCNNModel` takes as "no decoder".
  """
  return None
