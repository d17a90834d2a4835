"""The `maskrcnn` program's stderr: grappler's cost-estimator lines hidden unless --verbose,
everything else passed through in order."""

import glob
import os
import subprocess
import sys
import textwrap

import pytest
import tensorflow as tf

from maskrcnn_plugin.cli.stderr_filter import LineFilter

from helpers.tiny_models import TINY_TRAINING_GIN
GRAPPLER_LINE = (b'W0000 00:00:1796167596.450482    6953 op_level_cost_estimator.cc:699] Error in '
                 b'PredictCost() for the op: op: "CropAndResize" attr { key: "T" value { type: '
                 b'DT_FLOAT } } inputs { dtype: DT_FLOAT shape { dim { size: -2 } } }\n')
OLD_GRAPPLER_LINE = (b"2022-07-25 22:05:27.767552: W tensorflow/core/grappler/costs/"
                     b"op_level_cost_estimator.cc:690] Error in PredictCost() for the op: op: "
                     b'"CropAndResize" attr { key: "T" value { type: DT_UINT8 } }\n')
ABSL_NOTICE = b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
OTHER_CPP_WARNING = b"W0000 00:00:1796167596.5 6953 some_kernel.cc:12] a C++ warning that must show\n"


def test_line_filter_drops_only_the_cost_estimator_lines():
  line_filter = LineFilter()
  passed = line_filter.feed(ABSL_NOTICE + GRAPPLER_LINE + OTHER_CPP_WARNING + OLD_GRAPPLER_LINE
                            + b"Traceback (most recent call last):\n")
  assert passed == OTHER_CPP_WARNING + b"Traceback (most recent call last):\n"
  assert line_filter.flush() == b""


def test_line_filter_holds_an_unfinished_line_and_passes_carriage_returns():
  line_filter = LineFilter()
  assert line_filter.feed(GRAPPLER_LINE[:40]) == b""
  assert line_filter.feed(GRAPPLER_LINE[40:] + b"predict:  10%|#") == b""
  assert line_filter.feed(b"  | 1/10\rpredict:  20%") == b"predict:  10%|#  | 1/10\r"
  assert line_filter.flush() == b"predict:  20%"
  assert line_filter.feed(GRAPPLER_LINE[:-1]) == b""
  assert line_filter.flush() == b""  # an unfinished cost-estimator line is dropped too


def test_installed_filter_passes_everything_else_even_when_the_process_dies(tmp_path):
  """What the process wrote before dying without clean-up (as a C++ abort does) still shows."""
  script = textwrap.dedent(f"""
      import os, sys, warnings
      from maskrcnn_plugin.cli import stderr_filter
      assert stderr_filter.install()
      os.write(2, {ABSL_NOTICE!r})
      os.write(2, {GRAPPLER_LINE[:50]!r})
      os.write(2, {GRAPPLER_LINE[50:] + OTHER_CPP_WARNING!r})
      warnings.warn("a Python warning that must show")
      print("an error message", file=sys.stderr, flush=True)
      os.write(2, b"unfinished")
      os._exit(3)
      """)
  result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120,
                          check=False)
  assert result.returncode == 3
  assert b"PredictCost" not in result.stderr and b"absl::InitializeLog" not in result.stderr
  assert result.stderr.startswith(OTHER_CPP_WARNING)
  assert b"UserWarning: a Python warning that must show\n" in result.stderr
  assert result.stderr.endswith(b"an error message\nunfinished")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, one_shard_shapes_dir):
  """`tiny_run(*options)`: the `maskrcnn` program trains the tiny training gin for one step; returns the
  CompletedProcess (text). The gin file imports a module that writes a C++-style warning to
  fd 2 and a Python warning."""
  folder = tmp_path_factory.mktemp("console")
  (folder / "noisy_plugin.py").write_text(textwrap.dedent(f"""
      import os, warnings
      os.write(2, {OTHER_CPP_WARNING!r})
      warnings.warn("noisy_plugin: a Python warning that must show")
      """))
  (folder / "noisy.gin").write_text(f"import noisy_plugin\ninclude '{TINY_TRAINING_GIN}'\n"
                                    f"SHAPES_DIR = '{one_shard_shapes_dir}'\nTRAIN_STEPS = 1\n")
  env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(folder), *sys.path]))
  env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # as a user's shell: the CLI chooses

  runs = iter(range(100))

  def run(*options, gin_params=()):
    model_dir = folder / f"run{next(runs)}"
    result = subprocess.run(
        [sys.executable, "-m", "maskrcnn_plugin.cli.main", *options, "train",
         f"--gin_file={folder / 'noisy.gin'}", *(f"--gin_param={p}" for p in gin_params),
         f"--model_dir={model_dir}", "--mode=train"],
        env=env, capture_output=True, text=True, timeout=900, check=False)
    result.model_dir = model_dir
    return result
  return run


def test_train_hides_the_cost_estimator_warning_and_shows_other_warnings(tiny_run):
  result = tiny_run()
  assert result.returncode == 0, result.stderr
  assert "step 1/1 | loss" in result.stdout
  assert "PredictCost" not in result.stderr
  assert OTHER_CPP_WARNING.decode() in result.stderr
  assert "noisy_plugin: a Python warning that must show" in result.stderr


def test_the_program_exits_with_the_runs_files_complete(tiny_run):
  """The program skips Python's finalization: what it wrote must be whole without it."""
  result = tiny_run()
  assert result.returncode == 0, result.stderr
  assert tf.train.latest_checkpoint(str(result.model_dir)).endswith("ckpt-1")
  steps = set()
  for path in glob.glob(str(result.model_dir / "train" / "events.out.tfevents.*")):
    for record in tf.data.TFRecordDataset(path):
      event = tf.compat.v1.Event.FromString(record.numpy())
      if any(value.tag == "total_loss" for value in event.summary.value):
        steps.add(event.step)
  assert steps == {1}


def test_verbose_train_shows_the_cost_estimator_warning(tiny_run):
  result = tiny_run("--verbose")
  assert result.returncode == 0, result.stderr
  assert 'Error in PredictCost() for the op: op: "CropAndResize"' in result.stderr
  assert OTHER_CPP_WARNING.decode() in result.stderr


def test_an_error_message_comes_through(tiny_run):
  result = tiny_run(gin_params=["schedule.steps_per_loop = 2"])
  assert result.returncode == 2
  assert "maskrcnn train: error: schedule.summary_interval (1) must be a positive multiple of " \
         "schedule.steps_per_loop (2)" in result.stderr
  assert "Traceback" not in result.stderr
