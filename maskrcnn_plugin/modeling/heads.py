"""Built-in heads: Model Garden's RPN, box (detection) and mask heads.

Defaults are those of Model Garden's Mask R-CNN config
(`official.vision.configs.maskrcnn`: RPNHead, DetectionHead, MaskHead), which
differ from the layers' own defaults (e.g. the box head has 4 convs and 1 fc).
`maskrcnn.build_maskrcnn` passes the context arguments (levels, anchors per
location, num_classes) and `activation`, `use_sync_bn`, `norm_momentum`,
`norm_epsilon`, `kernel_regularizer` unless those are bound in gin for the head.
Each factory passes its arguments to the Model Garden layer it names
(`layer_factory.passes_arguments`).
"""

from typing import Optional

from official.vision.modeling.heads import dense_prediction_heads
from official.vision.modeling.heads import instance_heads

from maskrcnn_plugin.modeling import conv_kernel_gradient as conv_kernel_gradients
from maskrcnn_plugin.modeling.layer_factory import passes_arguments
from maskrcnn_plugin.params import (Activation, ConvKernelGradient, Epsilon, Level,
                                    NonNegativeInt, NumClasses, PositiveInt, Rate)
from maskrcnn_plugin.registries import DETECTION_HEADS, MASK_HEADS, RPN_HEADS


@RPN_HEADS.register("rpn_head")
@passes_arguments()
def rpn_head(min_level: Level,
             max_level: Level,
             num_anchors_per_location: PositiveInt,
             *,
             num_convs: NonNegativeInt = 1,
             num_filters: PositiveInt = 256,
             use_separable_conv: bool = False,
             activation: Activation = "relu",
             use_sync_bn: bool = False,
             norm_momentum: Rate = 0.99,
             norm_epsilon: Epsilon = 0.001,
             kernel_regularizer: Optional["keras.regularizers.Regularizer"] = None):
  """Model Garden's region proposal head (`dense_prediction_heads.RPNHead`).

  Input: the decoder's features {level: [batch, h_l, w_l, c]}. Output:
  (scores, boxes), dicts {level: [batch, h_l, w_l, A]} and
  {level: [batch, h_l, w_l, 4 * A]} with A = num_anchors_per_location.

  Args:
    min_level: Finest level (from maskrcnn.AnchorSettings).
    max_level: Coarsest level (from maskrcnn.AnchorSettings).
    num_anchors_per_location: num_scales * len(aspect_ratios).
    num_convs: Shared 3x3 convolutions before the predictors.
    num_filters: Channels of those convolutions.
    use_separable_conv: Depthwise-separable convolutions.
    activation: Activation after each convolution.
    use_sync_bn: Synchronized batch normalization across replicas.
    norm_momentum: Batch normalization momentum.
    norm_epsilon: Batch normalization epsilon.
    kernel_regularizer: Regularizer of conv kernels (weight decay).

  Returns:
    The RPNHead layer.
  """
  return dense_prediction_heads.RPNHead


@DETECTION_HEADS.register("detection_head")
@passes_arguments(not_passed=("conv_kernel_gradient",))
def detection_head(num_classes: NumClasses,
                   *,
                   num_convs: NonNegativeInt = 4,
                   num_filters: PositiveInt = 256,
                   use_separable_conv: bool = False,
                   num_fcs: NonNegativeInt = 1,
                   fc_dims: PositiveInt = 1024,
                   class_agnostic_bbox_pred: bool = False,
                   activation: Activation = "relu",
                   use_sync_bn: bool = False,
                   norm_momentum: Rate = 0.99,
                   norm_epsilon: Epsilon = 0.001,
                   kernel_regularizer: Optional["keras.regularizers.Regularizer"] = None,
                   conv_kernel_gradient: ConvKernelGradient = "matmul",
                   name: str = "detection_head"):
  """Model Garden's Fast R-CNN box head (`instance_heads.DetectionHead`).

  Input: ROI features [batch, num_rois, crop, crop, c]. Output: (class logits
  [batch, num_rois, num_classes], box deltas [batch, num_rois, 4 * num_classes],
  or [batch, num_rois, 4] when class_agnostic_bbox_pred).

  Args:
    num_classes: Classes including background (from build_maskrcnn).
    num_convs: 3x3 convolutions on the ROI features (4, as Model Garden's
      Mask R-CNN; 0 with num_fcs=2 is the classic 2-fc head).
    num_filters: Channels of those convolutions.
    use_separable_conv: Depthwise-separable convolutions.
    num_fcs: Fully connected layers after the convolutions.
    fc_dims: Units of each fully connected layer.
    class_agnostic_bbox_pred: One box per ROI instead of one per class
      (required by cascade heads).
    activation: Activation after each layer.
    use_sync_bn: Synchronized batch normalization across replicas.
    norm_momentum: Batch normalization momentum.
    norm_epsilon: Batch normalization epsilon.
    kernel_regularizer: Regularizer of kernels (weight decay).
    conv_kernel_gradient: 'matmul' computes the kernel gradient of the 3x3
      convs as matmuls where that was measured faster, in bfloat16 on CPU
      (`conv_kernel_gradient.py`; the same layer and variables); 'native'
      keeps TensorFlow's Conv2DBackpropFilter everywhere.
    name: Layer name; the builder names cascade stages detection_head_<n>.

  Returns:
    The DetectionHead layer.
  """
  return (conv_kernel_gradients.DetectionHead if conv_kernel_gradient == "matmul"
          else instance_heads.DetectionHead)


@MASK_HEADS.register("mask_head")
@passes_arguments()
def mask_head(num_classes: NumClasses,
              *,
              upsample_factor: PositiveInt = 2,
              num_convs: NonNegativeInt = 4,
              num_filters: PositiveInt = 256,
              use_separable_conv: bool = False,
              class_agnostic: bool = False,
              activation: Activation = "relu",
              use_sync_bn: bool = False,
              norm_momentum: Rate = 0.99,
              norm_epsilon: Epsilon = 0.001,
              kernel_regularizer: Optional["keras.regularizers.Regularizer"] = None):
  """Model Garden's mask head (`instance_heads.MaskHead`).

  Input: (ROI features [batch, num_rois, crop, crop, c], classes
  [batch, num_rois]). Output: mask logits [batch, num_rois, crop * f, crop * f]
  with f = upsample_factor; the mask target size is crop * f (28 by default).

  Args:
    num_classes: Classes including background (from build_maskrcnn).
    upsample_factor: Upsampling of the ROI features by a transposed conv.
    num_convs: 3x3 convolutions before upsampling.
    num_filters: Channels of those convolutions.
    use_separable_conv: Depthwise-separable convolutions.
    class_agnostic: One mask per ROI instead of one per class.
    activation: Activation after each convolution.
    use_sync_bn: Synchronized batch normalization across replicas.
    norm_momentum: Batch normalization momentum.
    norm_epsilon: Batch normalization epsilon.
    kernel_regularizer: Regularizer of conv kernels (weight decay).

  Returns:
    The MaskHead layer.
  """
  return instance_heads.MaskHead
