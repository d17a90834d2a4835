"""benchmarks/compare_torchvision.py without torch: the settings mapping and the input checks.

torch is never installed for the tests; what runs here is the part that decides
what torchvision's side is asked to build, and the messages of a missing
environment or dataset.
"""

import os
import subprocess
import sys

import pytest

BENCHMARKS = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "benchmarks")
sys.path.insert(0, os.path.abspath(BENCHMARKS))

import compare_torchvision  # noqa: E402  pylint: disable=wrong-import-position
from maskrcnn_plugin.gin_config import parse_gin  # noqa: E402  pylint: disable=wrong-import-position

SCRIPT = os.path.join(BENCHMARKS, "compare_torchvision.py")


def _parse(*extra):
  files, params = compare_torchvision.twins.plugin_gin(
      compare_torchvision.SETTING, "unused", extra=compare_torchvision.PLUGIN_BINDINGS + extra)
  parse_gin(files, params)


def test_torchvision_gets_the_plugins_counts():
  _parse()
  config = compare_torchvision.torchvision_config()
  assert config["model"] == {
      "num_classes": 4, "min_size": 256, "max_size": 256,
      "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225],
      "rpn_pre_nms_top_n_train": 2000, "rpn_post_nms_top_n_train": 1000,
      "rpn_pre_nms_top_n_test": 1000, "rpn_post_nms_top_n_test": 1000, "rpn_nms_thresh": 0.7,
      "rpn_fg_iou_thresh": 0.7, "rpn_bg_iou_thresh": 0.3, "rpn_batch_size_per_image": 256,
      "rpn_positive_fraction": 0.5, "box_batch_size_per_image": 512,
      "box_positive_fraction": 0.25, "box_fg_iou_thresh": 0.5, "box_bg_iou_thresh": 0.5,
      "box_score_thresh": 0.05, "box_nms_thresh": 0.5, "box_detections_per_img": 100}
  assert config["anchor_sizes"] == [32, 64, 128, 256, 512]
  assert config["aspect_ratios"] == [0.5, 1.0, 2.0]


def test_a_changed_binding_reaches_torchvision():
  _parse("roi_generators.multilevel_roi_generator.num_proposals = 500",
         "roi_samplers.roi_sampler.num_sampled_rois = 256",
         "detection_generators.detection_generator.max_num_detections = 50")
  model = compare_torchvision.torchvision_config()["model"]
  assert (model["rpn_post_nms_top_n_train"], model["box_batch_size_per_image"],
          model["box_detections_per_img"]) == (500, 256, 50)


def test_an_unmatched_head_names_its_binding():
  _parse("detection_heads.detection_head.num_convs = 4")
  with pytest.raises(ValueError, match=r"detection_heads\.detection_head\.num_convs = 4.*"
                                       r"no convs in its box head"):
    compare_torchvision.torchvision_config()


def _run(*args):
  return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True,
                        check=False, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))


def test_missing_torch_environment_says_how_to_create_it(tmp_path):
  (tmp_path / "train-0.tfrecord").write_bytes(b"")
  (tmp_path / "val-0.tfrecord").write_bytes(b"")
  missing = _run(f"--data_dir={tmp_path}", f"--torch_python={tmp_path / 'none' / 'python'}")
  assert missing.returncode == 2
  assert "does not exist" in missing.stderr
  assert compare_torchvision.VENV_COMMAND in missing.stderr
  # A Python without torch (this environment's: torch is never a test dependency).
  without = _run(f"--data_dir={tmp_path}", f"--torch_python={sys.executable}")
  assert without.returncode == 2
  assert "cannot import torch and torchvision" in without.stderr
  assert compare_torchvision.VENV_COMMAND in without.stderr


def test_missing_dataset_says_how_to_make_it(tmp_path):
  result = _run(f"--data_dir={tmp_path}")
  assert result.returncode == 2
  assert f"no shapes records in {tmp_path}" in result.stderr
  assert "maskrcnn data make-shapes" in result.stderr


def test_table_gives_medians_and_ratios_per_precision():
  result = {
      "train": {"plugin": [0.5, 0.6, 0.4], "torchvision": [0.2, 0.3, 0.25]},
      "infer": {"plugin": [1.0, 3.0, 2.0], "torchvision": [0.5, 0.5, 0.5]},
      "detections_per_image": {"plugin": 100.0, "torchvision": 37.5},
      "peak_rss_mib": {"plugin": 3000.0, "torchvision": 2000.0},
  }
  lines = compare_torchvision.table(result).splitlines()
  assert lines[2:] == [
      "| float32 | training images/s | 0.5 | 0.25 | 2.00 |",
      "| float32 | inference images/s (random weights) | 2 | 0.5 | 4.00 |",
      "| float32 | detections kept per image (inference) | 100.0 | 37.5 | 2.67 |",
      "| float32 | peak RSS MiB | 3000 | 2000 | 1.50 |",
  ]
