"""Kill-and-resume: SIGKILL inside a checkpoint write and at a random moment, then resume.

Three `maskrcnn train` processes on the tiny config (ResNet-10, 64 px, batch
2, 8 steps, a checkpoint after every step) run the same command: the first
kills itself while TensorFlow writes a checkpoint (shards written, not yet
merged), the second is killed from outside after a random step, the third
finishes. scripts/kill_resume.py does the same for longer runs and more kills.

Resuming is not bit-exact (see docs/faults.md): the input pipeline starts
again from its first batch and the parser's random flips are not saved.
What is proven instead: the run ends at exactly the target step, every
checkpoint left behind loads, and the optimizer's step count equals the
global step in each checkpoint, so neither restarted at a resume.
"""

import importlib.util
import os
import random
import shutil
from pathlib import Path

import pytest
import tensorflow as tf

from maskrcnn_plugin.training import experiment, run_dir

from helpers.tiny_models import TINY_TRAINING_GIN

ROOT = Path(__file__).resolve().parents[2]
TRAIN_STEPS = 8


def _load_script():
  spec = importlib.util.spec_from_file_location("kill_resume", ROOT / "scripts" / "kill_resume.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


@pytest.fixture(scope="module")
def killed_run(one_shard_shapes_dir, tmp_path_factory):
  """(script module, model_dir, attempts) of a run killed twice and resumed to the end."""
  script = _load_script()
  model_dir = str(tmp_path_factory.mktemp("killed") / "run")
  args = script.train_command(model_dir, [TINY_TRAINING_GIN],
                              [f"SHAPES_DIR = '{one_shard_shapes_dir}'"])
  env = dict(os.environ, PYTHONPATH=os.pathsep.join(
      [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
  attempts = []
  original = script.attempt
  script.attempt = lambda *a, **k: original(*a, env=env, **k)
  try:
    attempts = script.run_with_kills(args, model_dir, TRAIN_STEPS, ["write", "random"],
                                     random.Random(0), printer=lambda line: None)
  finally:
    script.attempt = original
  return script, model_dir, attempts


def test_killed_run_resumes_to_the_exact_step_and_optimizer_state_continues(killed_run):
  script, model_dir, attempts = killed_run
  assert [a["kind"] for a in attempts] == ["write", "random", "finish"]
  assert [a["exit"] for a in attempts] == [-9, -9, 0]
  # Killed while writing ckpt-N: model_dir/checkpoint still names ckpt-(N-1).
  killed_in_write = attempts[0]["options"]["die_in_write"]
  assert attempts[0]["last_checkpoint_step"] == killed_in_write - 1
  assert attempts[1]["resumed_from"] == killed_in_write - 1
  assert attempts[2]["resumed_from"] == attempts[1]["last_checkpoint_step"] > 0
  assert attempts[2]["steps"][-1] == TRAIN_STEPS
  checkpoints = script.check_checkpoints(model_dir)  # all load; optimizer steps == global step
  assert checkpoints[-1]["step"] == TRAIN_STEPS
  assert checkpoints[-1]["optimizer_steps"] == TRAIN_STEPS
  assert tf.train.latest_checkpoint(model_dir).endswith(f"ckpt-{TRAIN_STEPS}")


@pytest.fixture
def run_copy(killed_run, tmp_path):
  """A copy of the finished run's model_dir, to damage."""
  copy = tmp_path / "run"
  shutil.copytree(killed_run[1], copy)  # model_dir/checkpoint holds relative paths
  return copy


def _truncate_data(prefix):
  data = tf.io.gfile.glob(f"{prefix}.data-*")[0]
  content = Path(data).read_bytes()
  Path(data).write_bytes(content[:len(content) // 2])


def test_resume_skips_an_unreadable_newest_checkpoint_with_a_warning(run_copy):
  _truncate_data(run_copy / f"ckpt-{TRAIN_STEPS}")
  lines = []
  found = run_dir.newest_readable(str(run_copy), lines.append)
  previous = str(run_copy / f"ckpt-{TRAIN_STEPS - 1}")
  assert found == previous
  assert len(lines) == 1 and lines[0].startswith(
      f"Warning: the newest checkpoint in {run_copy} cannot be read "
      f"({run_copy}/ckpt-{TRAIN_STEPS}: ")
  assert lines[0].endswith(f"resuming from {previous}.")
  # The state now names it, so the CheckpointManager and Orbit restore it too.
  assert tf.train.latest_checkpoint(str(run_copy)) == previous
  checkpoint = tf.train.Checkpoint(step=tf.Variable(0, dtype=tf.int64))
  assert tf.train.CheckpointManager(checkpoint, str(run_copy), 3).latest_checkpoint == previous


def test_no_readable_checkpoint_is_one_message(run_copy):
  for prefix in tf.io.gfile.glob(str(run_copy / "ckpt-*.index")):
    _truncate_data(prefix[:-len(".index")])
  with pytest.raises(experiment.UserError, match=f"No checkpoint in {run_copy} can be read"):
    run_dir.newest_readable(str(run_copy), print)


def test_eval_of_an_unreadable_checkpoint_names_it(cli, run_copy, one_shard_shapes_dir):
  _truncate_data(run_copy / f"ckpt-{TRAIN_STEPS}")
  status, err = cli("train", f"--gin_file={TINY_TRAINING_GIN}",
                    f"--gin_param=SHAPES_DIR = '{one_shard_shapes_dir}'",
                    f"--model_dir={run_copy}", "--mode=eval")
  assert status == 2 and "Traceback" not in err, err
  assert f"Checkpoint {run_copy}/ckpt-{TRAIN_STEPS} cannot be read (" in err


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_resume_or_eval_with_another_architecture_names_the_variables(cli, run_copy,
                                                                      one_shard_shapes_dir, mode):
  status, err = cli("train", f"--gin_file={TINY_TRAINING_GIN}",
                    f"--gin_param=SHAPES_DIR = '{one_shard_shapes_dir}'",
                    "--gin_param=decoders.fpn.num_filters = 16", f"--model_dir={run_copy}",
                    f"--mode={mode}")
  assert status == 2 and "Traceback" not in err, err
  assert (f"Checkpoint {run_copy}/ckpt-{TRAIN_STEPS} does not match the model built from this "
          "gin config: " in err)
  assert " variables differ in shape (" in err
  assert "model/decoder/layer_with_weights-0/bias: checkpoint [32], model [16]" in err


def test_export_of_another_architecture_names_the_variables(cli, run_copy, tmp_path):
  config = (run_copy / "config.gin").read_text()
  (run_copy / "config.gin").write_text(config.replace("resnet.model_id = 10",
                                                      "resnet.model_id = 18"))
  status, err = cli("export", f"--model_dir={run_copy}", f"--output={tmp_path / 'exported'}")
  assert status == 2 and "Traceback" not in err, err
  assert "does not fit the model that" in err
  assert "model variables are not in the checkpoint (model/backbone/" in err
