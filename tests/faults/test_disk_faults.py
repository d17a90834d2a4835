"""Disk and environment faults: a model_dir that cannot be written, a full disk mid-checkpoint.

A SIGKILL inside a checkpoint write is in test_kill_resume.py; a missing
model_dir, config.gin or checkpoint for export and predict in
tests/serving/; eval without a checkpoint in tests/training/test_cli.py.
"""

import pytest
import tensorflow as tf
from tensorflow.python.ops import gen_io_ops  # pylint: disable=g-direct-tensorflow-import

from maskrcnn_plugin.errors import UserError
from maskrcnn_plugin.training import run_dir


def test_model_dir_that_cannot_be_written(cli, tmp_path, one_shard_shapes_dir):
  blocker = tmp_path / "a_file"
  blocker.write_text("not a folder")
  status, err = cli("train", "--gin_file=maskrcnn_shapes_r18_cpu",
                    f"--gin_param=SHAPES_DIR = '{one_shard_shapes_dir}'",
                    "--gin_param=IMAGE_SIZE = [64, 64]",
                    f"--model_dir={blocker / 'run'}", "--mode=train")
  assert status == 2 and "Traceback" not in err, err
  assert f"--model_dir {blocker / 'run'} cannot be written (" in err
  assert "Choose a folder you can write to" in err


def test_full_disk_during_a_checkpoint_write_keeps_the_last_one(tmp_path, monkeypatch):
  step = tf.Variable(1, dtype=tf.int64)
  checkpoint = tf.train.Checkpoint(step=step, weights=tf.Variable(tf.ones([64, 64])))
  manager = run_dir.CheckpointManager(
      checkpoint, str(tmp_path), max_to_keep=3, step_counter=step, checkpoint_interval=1)
  first = manager.save()

  def disk_full(*args, **kwargs):
    raise tf.errors.ResourceExhaustedError(None, None, "No space left on device")

  monkeypatch.setattr(gen_io_ops, "merge_v2_checkpoints", disk_full)
  step.assign(2)
  with pytest.raises(UserError) as error:
    manager.save()
  assert str(error.value).startswith(
      f"Writing a checkpoint to {tmp_path} failed (ResourceExhaustedError: No space left on "
      f"device). The newest complete checkpoint is {first}: free disk space")
  assert tf.train.latest_checkpoint(str(tmp_path)) == first
  assert run_dir.unreadable(first) is None
