"""The run folder on small checkpoints: config files, finding and restoring checkpoints.

Whole training runs that resume, evaluate and export damaged or mismatched
checkpoints are in tests/faults/test_kill_resume.py.
"""

from pathlib import Path

import pytest
import tensorflow as tf

from maskrcnn_plugin.errors import UserError
from maskrcnn_plugin.training import run_dir


class _Model(tf.Module):
  """A stand-in model: one kernel and one bias of the given widths."""

  def __init__(self, width=4, bias=2):
    super().__init__()
    self.kernel = tf.Variable(tf.ones([3, width]))
    self.bias = tf.Variable(tf.zeros([bias]))


def _save(folder, model, steps=3):
  """Saves `steps` checkpoints of `model` in folder with a CheckpointManager; their prefixes."""
  step = tf.Variable(0, dtype=tf.int64)
  manager = run_dir.CheckpointManager(tf.train.Checkpoint(model=model, global_step=step),
                                      str(folder), max_to_keep=steps, step_counter=step)
  prefixes = []
  for number in range(1, steps + 1):
    step.assign(number)
    model.bias.assign(tf.fill(model.bias.shape, float(number)))
    prefixes.append(manager.save(checkpoint_number=number))
  return prefixes


def _truncate_data(prefix):
  data = Path(tf.io.gfile.glob(f"{prefix}.data-*")[0])
  data.write_bytes(data.read_bytes()[:len(data.read_bytes()) // 2])


def test_write_config_keeps_a_changed_config_of_a_resumed_run(tmp_path):
  assert run_dir.write_config(str(tmp_path), "a = 1\n", resumed=False) == ""
  assert run_dir.write_config(str(tmp_path), "a = 1\n", resumed=True) == ""
  note = run_dir.write_config(str(tmp_path), "a = 2\n", resumed=True)
  assert note.startswith("This run resumes from a checkpoint made with a different gin config "
                         "(the old one is kept as config.previous.gin):")
  assert "-a = 1" in note and "+a = 2" in note
  assert (tmp_path / run_dir.PREVIOUS_CONFIG_FILE).read_text() == "a = 1\n"
  assert (tmp_path / run_dir.CONFIG_FILE).read_text() == "a = 2\n"


def test_exported_files_are_those_that_exist_in_order(tmp_path):
  assert run_dir.exported_files(str(tmp_path)) == ()
  for name in (run_dir.CLASS_NAMES_FILE, run_dir.CONFIG_FILE):
    (tmp_path / name).write_text("")
  assert run_dir.exported_files(str(tmp_path)) == (
      str(tmp_path / "config.gin"), str(tmp_path / "classes.json"))


def test_checkpoint_prefix_of_a_folder_a_prefix_and_neither(tmp_path):
  prefixes = _save(tmp_path / "run", _Model())
  assert run_dir.checkpoint_prefix(str(tmp_path / "run")) == prefixes[-1]
  assert run_dir.checkpoint_prefix(prefixes[0]) == prefixes[0]
  assert run_dir.checkpoint_prefix(str(tmp_path / "run" / "ckpt-9")) is None
  assert run_dir.checkpoint_prefix(str(tmp_path)) is None  # A folder without checkpoints.


def test_newest_readable_skips_a_damaged_newest_checkpoint_with_a_warning(tmp_path):
  prefixes = _save(tmp_path, _Model())
  assert run_dir.newest_readable(str(tmp_path), pytest.fail) == prefixes[-1]
  _truncate_data(prefixes[-1])
  assert run_dir.unreadable(prefixes[-1]).startswith(("DataLossError", "IndexError",
                                                      "OutOfRangeError"))
  lines = []
  assert run_dir.newest_readable(str(tmp_path), lines.append, repoint=False) == prefixes[1]
  assert tf.train.latest_checkpoint(str(tmp_path)) == prefixes[-1]  # Not repointed.
  assert run_dir.newest_readable(str(tmp_path), lines.append) == prefixes[1]
  assert tf.train.latest_checkpoint(str(tmp_path)) == prefixes[1]
  assert len(lines) == 2 and lines[0].startswith(
      f"Warning: the newest checkpoint in {tmp_path} cannot be read ({prefixes[-1]}: ")
  assert lines[0].endswith(f"resuming from {prefixes[1]}.")


def test_newest_readable_of_a_folder_without_checkpoints_is_none(tmp_path):
  assert run_dir.newest_readable(str(tmp_path), pytest.fail) is None


def test_restore_reads_the_checkpoint(tmp_path):
  prefixes = _save(tmp_path, _Model())
  model = _Model()
  run_dir.restore(tf.train.Checkpoint(model=model), prefixes[1], partial=True)
  assert model.bias.numpy().tolist() == [2.0, 2.0]


def test_restore_of_another_model_names_the_variables(tmp_path):
  prefixes = _save(tmp_path, _Model())
  root = tf.train.Checkpoint(model=_Model(width=5, bias=3))
  with pytest.raises(UserError) as error:
    run_dir.restore(root, prefixes[-1], partial=True)
  assert str(error.value) == (
      f"Checkpoint {prefixes[-1]} does not match the model built from this gin config: "
      "2 variables differ in shape (model/bias: checkpoint [2], model [3]; model/kernel: "
      "checkpoint [3, 4], model [3, 5]). Use the config it was trained with "
      "(model_dir/config.gin) or a new --model_dir.")
  with pytest.raises(UserError) as error:
    run_dir.restore(root, prefixes[-1], partial=True, config_file="run/config.gin")
  assert str(error.value).startswith(
      f"Checkpoint {prefixes[-1]} does not fit the model that run/config.gin builds (2 "
      "variables differ in shape (model/bias: checkpoint [2], model [3];")
  assert str(error.value).endswith("). Was config.gin edited after training?")


def test_restore_of_a_model_with_other_variables_names_them(tmp_path):
  prefixes = _save(tmp_path, _Model())
  model = _Model()
  model.extra = tf.Variable(tf.zeros([1]))
  with pytest.raises(UserError, match=r"1 model variables are not in the checkpoint "
                                      r"\(model/extra\)"):
    run_dir.restore(tf.train.Checkpoint(model=model), prefixes[-1], partial=True)


def test_restore_of_a_damaged_checkpoint_says_it_cannot_be_read(tmp_path):
  prefixes = _save(tmp_path, _Model())
  _truncate_data(prefixes[-1])
  for config_file in (None, "run/config.gin"):
    with pytest.raises(UserError) as error:
      run_dir.restore(tf.train.Checkpoint(model=_Model()), prefixes[-1], partial=True,
                      config_file=config_file)
    assert str(error.value).startswith(f"Checkpoint {prefixes[-1]} cannot be read (")
    assert str(error.value).endswith("). Pass another one, or train again.")
  assert run_dir.unreadable_error(prefixes[0]) is None
