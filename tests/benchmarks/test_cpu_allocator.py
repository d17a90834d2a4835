"""benchmarks/cpu_allocator.py: its figures and ratios, its input check, and the shared
inference windows of compare_model_garden.py."""

import os
import subprocess
import sys

import tensorflow as tf

BENCHMARKS = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "benchmarks")
sys.path.insert(0, os.path.abspath(BENCHMARKS))

import compare_model_garden  # noqa: E402  pylint: disable=wrong-import-position
import cpu_allocator  # noqa: E402  pylint: disable=wrong-import-position


def _worker(allocator, plugin_train, model_garden_train, rss):
  return {"allocator": allocator, "pooled": allocator == "pooled",
          "train": {"plugin": plugin_train, "Model Garden": model_garden_train},
          "infer": {"plugin": 10 * plugin_train, "Model Garden": 5 * model_garden_train},
          "peak_rss_mib": rss}


def test_figures_are_medians_per_allocator_and_the_ratios_pair_them():
  results = [_worker("pooled", 9.0, 7.0, 2500), _worker("default", 8.0, 6.0, 2400),
             _worker("default", 7.0, 5.0, 2450), _worker("pooled", 10.0, 8.0, 2550)]
  figures = cpu_allocator.summary(results)
  assert figures["train plugin pooled"] == 9.5 and figures["train plugin default"] == 7.5
  assert figures["infer Model Garden default"] == 27.5
  assert figures["peak_rss_mib pooled"] == 2525
  table = cpu_allocator.table(figures)
  assert "| training images/s, plugin | 7.5 | 9.5 | 1.27 |" in table
  # As shipped: the plugin on the pooled allocator, Model Garden on the default one.
  assert "| plugin pooled, Model Garden default (as shipped) | 1.73 | 3.45 |" in table
  assert "| both on the default allocator | 1.36 | 2.73 |" in table


def test_a_setting_without_trained_weights_is_refused_with_the_remedy(tmp_path):
  completed = subprocess.run([sys.executable, os.path.join(BENCHMARKS, "cpu_allocator.py"),
                              f"--checkpoint={tmp_path}"], capture_output=True, text=True,
                             check=False)
  assert completed.returncode != 0
  assert f"No trained weights of shapes_2fc in {tmp_path}: run `make demo`" in completed.stderr


class _FakeSide:
  def __init__(self):
    self.seen = []

  def infer(self, images, labels):
    self.seen.append(labels)
    return {"num_detections": images[:, 0, 0, 0]}


def test_inference_windows_show_every_side_the_same_batches():
  batches = [(tf.zeros([2, 4, 4, 3]), index) for index in range(7)]
  sides = {"a": _FakeSide(), "b": _FakeSide()}
  window = compare_model_garden.inference_windows(sides, batches, per_window=3)
  for name in ["a", "b", "b", "a", "a", "b"]:
    assert window(name) > 0
  assert sides["a"].seen == sides["b"].seen == [0, 1, 2, 3, 4, 5, 1, 2, 3]
