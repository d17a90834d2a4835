"""maskrcnn_plugin: Mask R-CNN on TensorFlow Model Garden, wired by gin.

Importing the package sets three TensorFlow variables unless already set:
TF_USE_LEGACY_KERAS=1, so `tf.keras` is the Keras 2 that Model Garden uses
(`keras_setup`; in effect unless `tf.keras` was used before);
TF_CPU_ALLOCATOR_USE_BFC=1, TensorFlow's pooled allocator for host memory
(in effect unless a TensorFlow tensor existed before); and, on x86-64,
TF_ENABLE_ONEDNN_OPTS=1, oneDNN's CPU kernels (in effect unless TensorFlow
was imported before). The last two are `cpu_runtime`'s. It does not import
TensorFlow itself: the built-in components register on the
first registry lookup or gin parse (`registries.load_components()`).
"""

from maskrcnn_plugin import cpu_runtime, keras_setup

keras_setup.configure_environment()
cpu_runtime.configure_environment()

# pylint: disable=wrong-import-position
from maskrcnn_plugin.registries import (  # noqa: E402
    BACKBONES, DATA_DECODERS, DECODERS, DETECTION_GENERATORS, DETECTION_HEADS, LR_SCHEDULES,
    MASK_HEADS, MASK_SAMPLERS, OPTIMIZERS, PARSERS, ROI_ALIGNERS, ROI_GENERATORS, ROI_SAMPLERS,
    RPN_HEADS, STRATEGIES, register_backbone, register_data_decoder, register_decoder,
    register_detection_head, register_lr_schedule, register_mask_head, register_optimizer,
    register_parser, register_rpn_head)

__version__ = "0.1.0"


def __getattr__(name):
  """`maskrcnn_plugin.keras`: the Keras module Model Garden's layers use."""
  if name == "keras":
    return keras_setup.model_garden_keras()
  raise AttributeError(f"module 'maskrcnn_plugin' has no attribute '{name}'")
