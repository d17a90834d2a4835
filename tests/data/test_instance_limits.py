"""Instances beyond parsers.maskrcnn.max_num_instances: an error naming the record, or counted."""

import gin
import pytest
import tensorflow as tf

from maskrcnn_plugin.cli.main import main
from maskrcnn_plugin.dataloaders import record_checks
from maskrcnn_plugin.errors import UserError
from registry import ConstraintError

from helpers.records import eval_pipeline
from helpers.training_input import SHAPES_64PX_TRAIN, read_training_input_instead_of_training


def _most_instances(pattern):
  """(["FILE #INDEX" of the records with the most instances], that count)."""
  counts = {}
  for path in sorted(tf.io.gfile.glob(pattern)):
    for i, record in enumerate(tf.data.TFRecordDataset(path)):
      example = tf.train.Example.FromString(record.numpy())
      counts[f"{path} #{i}"] = len(
          example.features.feature["image/object/class/label"].int64_list.value)
  most = max(counts.values())
  return [name for name, count in counts.items() if count == most], most


def test_a_record_over_the_limit_is_an_error_naming_record_count_and_binding(sharded_shapes_dir):
  pattern = str(sharded_shapes_dir / "val-*.tfrecord")
  records, count = _most_instances(pattern)
  assert count >= 2
  gin.bind_parameter("parsers.maskrcnn.max_num_instances", count - 1)
  with pytest.raises(tf.errors.InvalidArgumentError) as caught:
    list(eval_pipeline(pattern))
  error = record_checks.bad_record_error(caught.value)
  assert isinstance(error, UserError)
  named = str(error).split(": it holds ")[0]
  assert named.removeprefix("Bad record ") in records
  assert (f": it holds {count} instances, more than parsers.maskrcnn.max_num_instances = "
          f"{count - 1}. Raise parsers.maskrcnn.max_num_instances") in str(error)
  assert "too_many_instances to the string keep_first" in str(error)


def test_keep_first_accepts_the_cut_and_counts_the_dropped_instances(sharded_shapes_dir):
  pattern = str(sharded_shapes_dir / "val-*.tfrecord")
  _, count = _most_instances(pattern)
  gin.bind_parameter("parsers.maskrcnn.max_num_instances", count - 1)
  record_checks.reset_dropped_instance_counts()
  batches = list(eval_pipeline(pattern, too_many_instances="keep_first"))
  assert len(batches) == 6  # Every record is kept.
  dropped = record_checks.dropped_instance_counts()
  assert dropped["records"] >= 1 and dropped["instances"] >= 1


def test_records_within_the_limit_pass_and_a_wrong_setting_is_named(sharded_shapes_dir):
  pattern = str(sharded_shapes_dir / "val-*.tfrecord")
  _, count = _most_instances(pattern)
  gin.bind_parameter("parsers.maskrcnn.max_num_instances", count)
  assert len(list(eval_pipeline(pattern))) == 6
  with pytest.raises(ConstraintError, match="too_many_instances = 'drop' is not valid: it must be "
                                            "one of 'error', 'keep_first'"):
    eval_pipeline(pattern, too_many_instances="drop")


def test_data_check_reports_the_largest_count_and_images_over_the_limit(sharded_shapes_dir, capsys):
  pattern = str(sharded_shapes_dir / "val-*.tfrecord")
  _, count = _most_instances(pattern)
  assert main(["data", "check", pattern, "--max-instances", str(count - 1)]) == 0
  out = capsys.readouterr().out
  assert f"most instances in one image: {count}" in out
  assert f"images with more than --max-instances {count - 1} instances:" in out


def test_train_cli_stops_with_one_message_naming_the_binding(sharded_shapes_dir, tmp_path, capsys,
                                                             monkeypatch):
  read_training_input_instead_of_training(monkeypatch, batches=6)
  status = main([*SHAPES_64PX_TRAIN, f"--gin_param=SHAPES_DIR = '{sharded_shapes_dir}'",
                 "--gin_param=parsers.maskrcnn.max_num_instances = 1",
                 f"--model_dir={tmp_path / 'run'}", "--mode=train"])
  err = capsys.readouterr().err
  assert status == 2 and "Traceback" not in err, err
  assert err.startswith(f"maskrcnn train: error: Bad record {sharded_shapes_dir}/train-")
  assert "non-crowd instances, more than parsers.maskrcnn.max_num_instances = 1." in err
  assert err.count("\n") == 1
