"""benchmarks/cpu_runtime.py: its figures and ratios, its input checks, and the shared
inference windows of compare_model_garden.py."""

import os
import subprocess
import sys

import tensorflow as tf

BENCHMARKS = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "benchmarks")
sys.path.insert(0, os.path.abspath(BENCHMARKS))

import compare_model_garden  # noqa: E402  pylint: disable=wrong-import-position
import cpu_runtime  # noqa: E402  pylint: disable=wrong-import-position

_VARIABLES = {"plugin": {"TF_CPU_ALLOCATOR_USE_BFC": "1", "TF_ENABLE_ONEDNN_OPTS": "1"},
              "tensorflow": {"TF_CPU_ALLOCATOR_USE_BFC": "0", "TF_ENABLE_ONEDNN_OPTS": "0"}}


def _worker(configuration, plugin_train, model_garden_train, rss):
  return {"configuration": configuration,
          "train": {"plugin": plugin_train, "Model Garden": model_garden_train},
          "infer": {"plugin": 10 * plugin_train, "Model Garden": 5 * model_garden_train},
          "peak_rss_mib": rss}


def test_figures_are_medians_per_configuration_and_the_ratios_pair_them():
  results = [_worker("plugin", 9.0, 7.0, 2500), _worker("tensorflow", 8.0, 6.0, 2400),
             _worker("tensorflow", 7.0, 5.0, 2450), _worker("plugin", 10.0, 8.0, 2550)]
  figures = cpu_runtime.summary(results)
  assert figures["train plugin plugin"] == 9.5 and figures["train plugin tensorflow"] == 7.5
  assert figures["infer Model Garden tensorflow"] == 27.5
  assert figures["peak_rss_mib plugin"] == 2525
  table = cpu_runtime.table(figures, _VARIABLES)
  assert "| tensorflow | 0 | 0 | 7.5 | 5.5 | 75 | 27.5 | 2425 |" in table
  assert "| over tensorflow | 1.27 | 1.36 | 1.27 | 1.36 |" in table
  # As shipped: the plugin under its own configuration, Model Garden under TensorFlow's.
  assert "| plugin under plugin, Model Garden under tensorflow (as shipped) | 1.73 | 3.45 |" in table
  assert "| both under tensorflow | 1.36 | 2.73 |" in table


def test_without_both_ends_there_is_no_as_shipped_ratio():
  table = cpu_runtime.table(cpu_runtime.summary([_worker("plugin", 9.0, 7.0, 2500)]), _VARIABLES)
  assert "| both under plugin | 1.29 | 2.57 |" in table
  assert "as shipped" not in table and "over" not in table


def _run_benchmark(*arguments):
  return subprocess.run([sys.executable, os.path.join(BENCHMARKS, "cpu_runtime.py"), *arguments],
                        capture_output=True, text=True, check=False)


def test_a_setting_without_trained_weights_is_refused_with_the_remedy(tmp_path):
  completed = _run_benchmark(f"--checkpoint={tmp_path}")
  assert completed.returncode != 0
  assert f"No trained weights of shapes_2fc in {tmp_path}: run `make demo`" in completed.stderr


def test_an_unknown_configuration_is_refused_naming_the_choices():
  completed = _run_benchmark("--configurations=plugin,eigen")
  assert completed.returncode == 2
  assert "unknown configuration(s) eigen: choose from plugin, no_onednn" in completed.stderr


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
