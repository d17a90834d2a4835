"""Data faults: corrupt image data, empty datasets, runs out of data, wrong NUM_CLASSES.

The record checks before decoding (truncated or empty image bytes, masks that
do not match the boxes, zero-area boxes, class ids out of range, truncated
TFRecord files) are tested in tests/data/test_bad_records.py; a pattern that
matches nothing in tests/data/test_cli_data.py. These tests add what fails
later: image bytes with valid headers but corrupt data inside, and the same
faults met by `maskrcnn train` through the real CLI (the training loop itself
is replaced by one pass over the configured training input, to keep them fast).
"""

import pytest
import tensorflow as tf

from maskrcnn_plugin.dataloaders import record_checks
from maskrcnn_plugin.errors import UserError
from maskrcnn_plugin.training import experiment

from helpers.records import eval_pipeline, write_records
from helpers.training_input import SHAPES_64PX_TRAIN, read_training_input_instead_of_training


def _examples(one_shard_shapes_dir):
  path = str(next(one_shard_shapes_dir.glob("train-*")))
  return [tf.train.Example.FromString(r.numpy()) for r in tf.data.TFRecordDataset(path)]


def _corrupt_inside(example, key):
  """A copy whose first `key` bytes are scrambled in the middle; headers and end intact."""
  bad = tf.train.Example()
  bad.CopyFrom(example)
  values = bad.features.feature[key].bytes_list.value
  data = values[0]
  middle = len(data) // 2
  values[0] = data[:middle] + bytes(b ^ 0x5A for b in data[middle:middle + 64]) + \
      data[middle + 64:]
  return bad


@pytest.fixture
def corrupt_file(one_shard_shapes_dir, tmp_path):
  """Four records; #2 has an image that passes the header checks but cannot be decoded."""
  good = _examples(one_shard_shapes_dir)
  bad = _corrupt_inside(good[1], "image/encoded")
  assert record_checks.record_problem(  # the cheap checks do not see it
      record_checks.summarize_tf_example(tf.constant(bad.SerializeToString())), 4).numpy() == b""
  return write_records(tmp_path / "corrupt.tfrecord", [good[0], good[2], bad, good[3]])


def test_corrupt_image_data_is_a_bad_record_naming_file_and_index(corrupt_file):
  with pytest.raises(tf.errors.InvalidArgumentError) as error:
    list(eval_pipeline(corrupt_file))
  message = str(record_checks.bad_record_error(error.value))
  assert message.startswith(f"Bad record {corrupt_file} #2: the record could not be decoded")
  assert "bad_records to the string skip" in message


def test_corrupt_image_data_is_skipped_and_counted(corrupt_file, caplog):
  record_checks.reset_skipped_record_counts()
  assert len(list(eval_pipeline(corrupt_file, bad_records="skip"))) == 3
  assert record_checks.skipped_record_counts() == {"undecodable record": 1}
  assert f"Skipping Bad record {corrupt_file} #2: the record could not be decoded" in caplog.text


def test_corrupt_mask_data_is_a_bad_record(one_shard_shapes_dir, tmp_path):
  good = _examples(one_shard_shapes_dir)
  path = write_records(tmp_path / "mask.tfrecord",
                [good[0], _corrupt_inside(good[1], "image/object/mask")])
  with pytest.raises(tf.errors.InvalidArgumentError) as error:
    list(eval_pipeline(path))
  assert f"Bad record {path} #1: the record could not be decoded" in str(error.value)


@pytest.fixture
def train_input_only(monkeypatch):
  """`maskrcnn train` reads 20 batches of its configured training input instead of training.

  The training input repeats and shuffles: 20 batches of 2 read each record of a
  four-record file with a probability of 1 - (3/4)**40, whatever the order.
  """
  read_training_input_instead_of_training(monkeypatch, batches=20)


def _train(cli, tmp_path, *bindings):
  return cli(*SHAPES_64PX_TRAIN, *[f"--gin_param={b}" for b in bindings],
             f"--model_dir={tmp_path / 'run'}", "--mode=train")


def test_train_cli_names_the_corrupt_record(cli, corrupt_file, tmp_path, train_input_only):
  status, err = _train(cli, tmp_path, f"SHAPES_DIR = '{tmp_path}'",
                       "TRAIN_FILE_PATTERN = 'corrupt.tfrecord'", "EVAL_FILE_PATTERN = '*'")
  assert status == 2 and "Traceback" not in err, err
  assert f"error: Bad record {corrupt_file} #2: the record could not be decoded" in err
  assert err.count("\n") == 1


def test_num_classes_that_do_not_match_the_data(cli, one_shard_shapes_dir, tmp_path,
                                                train_input_only):
  status, err = _train(cli, tmp_path, f"SHAPES_DIR = '{one_shard_shapes_dir}'", "NUM_CLASSES = 3",
                       "data.input_pipeline.deterministic = True")
  assert status == 2 and "Traceback" not in err, err
  assert f"Bad record {one_shard_shapes_dir}/train-" in err
  assert "are outside the label range [1, 2] (NUM_CLASSES = 3 includes background 0)" in err


def test_empty_dataset_is_named(cli, one_shard_shapes_dir, tmp_path, train_input_only):
  (tmp_path / "train-empty.tfrecord").write_bytes(b"")
  (tmp_path / "val-0.tfrecord").write_bytes(next(one_shard_shapes_dir.glob("val-*")).read_bytes())
  status, err = _train(cli, tmp_path, f"SHAPES_DIR = '{tmp_path}'",
                       "TRAIN_FILE_PATTERN = 'train-*.tfrecord'")
  assert status == 2 and "Traceback" not in err, err
  assert ("data.input_pipeline.file_pattern: the dataset is empty, the files it matches hold "
          f"no complete record ({tmp_path / 'train-empty.tfrecord'})") in err


def test_training_input_that_runs_dry_is_one_message():
  """Every record skipped, or fewer records than a batch: the repeated input ends."""

  class DryController:
    def train(self, steps):
      raise tf.errors.OutOfRangeError(None, None, "End of sequence")

  record_checks.reset_skipped_record_counts()
  record_checks.count_skipped("zero-area box", "Bad record f #0: a box has zero area")
  with pytest.raises(UserError) as error:
    experiment._drive(  # pylint: disable=protected-access
        DryController(), "train", experiment.Schedule(train_steps=5), "", None,
        tf.Variable(3, dtype=tf.int64))
  message = str(error.value)
  assert message.startswith("The training input ran out of data at step 3 although it repeats")
  assert "Bad records skipped: 1 zero-area box." in message
