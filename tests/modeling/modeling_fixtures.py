"""Shared settings of the modeling tests."""

# Fewer inference proposals and detections, and one combined NMS op instead of
# a per-class loop (91 classes run thousands of eager ops): parameter counts
# are unchanged and an inference pass of a COCO model at 128 px takes ~1 s.
FAST_INFERENCE = (
    "roi_generators.multilevel_roi_generator.test_num_proposals = 64",
    "detection_generators.detection_generator.max_num_detections = 10",
    "detection_generators.detection_generator.nms_version = 'batched'",
)

# The shapes demo config (maskrcnn_shapes_r18_cpu) shrunk to 64 px images and
# 16-filter FPN, RPN and mask heads: builds in about 2 s. Tests add their own
# bindings (e.g. mask_heads.mask_head.num_convs) after these.
TINY_SHAPES_SIZE = 64
TINY_SHAPES = (
    f"IMAGE_SIZE = [{TINY_SHAPES_SIZE}, {TINY_SHAPES_SIZE}]",
    "decoders.fpn.num_filters = 16",
    "rpn_heads.rpn_head.num_filters = 16",
    "detection_heads.detection_head.fc_dims = 32",
    "mask_heads.mask_head.num_filters = 16",
)
