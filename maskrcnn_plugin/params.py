"""Parameter types with their valid ranges, shared by the plugin's factories.

Each alias is `typing.Annotated[type, constraint]` (`registry.constraints`):
a factory declares a parameter's range once, in its signature,

    def detection_head(num_classes: NumClasses, *, num_fcs: NonNegativeInt = 1, ...)

and the value is checked when the factory is built (and, for gin bindings,
right after the gin files are parsed), with a message naming the binding.
"""

from typing import Annotated, Optional, Sequence

from registry import Each, OneOf, Range

PositiveInt = Annotated[int, Range(min=1)]           # counts and sizes that cannot be 0
NonNegativeInt = Annotated[int, Range(min=0)]        # counts that can be 0 (layers, steps)
Positive = Annotated[float, Range(min=0, min_open=True)]
NonNegative = Annotated[float, Range(min=0)]
Fraction = Annotated[float, Range(0, 1)]
OpenFraction = Annotated[float, Range(0, 1, min_open=True)]  # (0, 1]: a share that is not 0
IoU = Annotated[float, Range(0, 1)]
Rate = Annotated[float, Range(0, 1, max_open=True)]  # drop rates, momentum: [0, 1)
Epsilon = Annotated[float, Range(min=0, min_open=True)]
NumClasses = Annotated[int, Range(min=2, note="the classes including background, 91 for COCO")]
Level = Annotated[int, Range(1, 10)]                 # feature level l, stride 2**l
ScaleAtLeastOne = Annotated[float, Range(min=1)]
OptionalPositive = Annotated[Optional[float], Range(min=0, min_open=True)]
OptionalFraction = Annotated[Optional[float], Range(0, 1)]
OptionalPositiveInt = Annotated[Optional[int], Range(min=1)]

# Activation names Model Garden's `tf_utils.get_activation` and Keras accept.
ACTIVATIONS = ("relu", "relu6", "swish", "simple_swish", "hard_swish", "silu", "sigmoid",
               "hard_sigmoid", "gelu", "mish", "elu", "selu", "tanh", "softplus", "leaky_relu",
               "linear", "identity")
Activation = Annotated[str, OneOf(*ACTIVATIONS)]

# NMS implementations of the plugin's ROI generator and detection generator.
NMS_KERNELS = ("native", "model_garden")
NmsKernel = Annotated[str, OneOf(*NMS_KERNELS)]

# Inference crop readers of the plugin's ROI aligners.
ROI_ALIGN_KERNELS = ("crop_and_resize", "model_garden")
RoiAlignKernel = Annotated[str, OneOf(*ROI_ALIGN_KERNELS)]

# Kernel-gradient implementations of the built-in box head's 3x3 convs.
CONV_KERNEL_GRADIENTS = ("matmul", "native")
ConvKernelGradient = Annotated[str, OneOf(*CONV_KERNEL_GRADIENTS)]

ImageSize = Annotated[Sequence[int], Each(Range(min=1), min_length=2, max_length=2)]
IoUThresholds = Annotated[Sequence[float], Each(Range(0, 1, min_open=True, max_open=True))]
