"""Shared settings of the modeling tests."""

# Fewer inference proposals and detections, and one combined NMS op instead of
# a per-class loop (91 classes run thousands of eager ops): parameter counts
# are unchanged and an inference pass of a COCO model at 128 px takes ~1 s.
FAST_INFERENCE = (
    "roi_generators.multilevel_roi_generator.test_num_proposals = 64",
    "detection_generators.detection_generator.max_num_detections = 10",
    "detection_generators.detection_generator.nms_version = 'batched'",
)
