"""Every shipped gin variant builds and runs one inference pass at a small size."""

import pytest

from maskrcnn_plugin.gin_config import shipped_configs
from helpers.tiny_models import FAST_INFERENCE

VARIANTS = [name for name in shipped_configs() if not name.startswith("base/")]
# The smallest size each variant allows: divisible by 2**max_level (128 for SpineNet's level 7).
SMALL = {"maskrcnn_shapes_r18_cpu": 64}


def test_every_documented_variant_is_shipped():
  assert {"maskrcnn_r50_fpn_coco", "maskrcnn_r101_fpn_coco", "maskrcnn_mobilenet_coco",
          "maskrcnn_spinenet49_coco", "maskrcnn_shapes_r18_cpu"} <= set(VARIANTS)


@pytest.mark.smoke
@pytest.mark.parametrize("variant", VARIANTS)
def test_variant_builds_and_runs(validated, variant):
  size = SMALL.get(variant, 128)
  model, summary = validated(variant, f"IMAGE_SIZE = [{size}, {size}]", *FAST_INFERENCE)
  config = model.get_config()
  levels = [str(level) for level in range(config["min_level"], config["max_level"] + 1)]
  assert list(summary.decoder_features) == levels
  for level, shape in summary.decoder_features.items():
    assert shape[1:3] == (size // 2**int(level), size // 2**int(level))
  assert summary.image_size == (size, size)
  assert summary.outputs["cls_outputs"][-1] == summary.num_classes
  assert summary.outputs["detection_masks"] == (1, 10, 28, 28)
  assert 0 < summary.trainable_params <= summary.total_params == model.count_params()


@pytest.mark.smoke
def test_shapes_config_is_the_small_cpu_model(validated):
  _, summary = validated("maskrcnn_shapes_r18_cpu")
  assert summary.image_size == (128, 128)
  assert summary.num_classes == 4
  assert summary.backbone_features["5"] == (1, 4, 4, 512)  # ResNet-18
  assert summary.decoder_features["2"] == (1, 32, 32, 64)  # 64-filter FPN
  assert summary.outputs["detection_boxes"] == (1, 20, 4)
  assert summary.trainable_params < 15_000_000
