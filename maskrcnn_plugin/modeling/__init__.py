"""Mask R-CNN model assembly from registered, gin-configurable parts.

Importing this package registers the built-in components (Model Garden's
backbones, Keras Applications backbones, decoders, heads and ROI layers) and
`maskrcnn.build_maskrcnn`.
"""

from maskrcnn_plugin.modeling import backbones, decoders, heads, keras_applications, roi_layers
from maskrcnn_plugin.modeling.anchors import AnchorSettings
from maskrcnn_plugin.modeling.maskrcnn import build_from_gin, build_maskrcnn

__all__ = ["AnchorSettings", "backbones", "build_from_gin", "build_maskrcnn", "decoders", "heads",
           "keras_applications", "roi_layers"]
