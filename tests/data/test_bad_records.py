"""Bad records: an error naming file and record index, or skipped and counted."""

import re

import gin
import pytest
import tensorflow as tf

from helpers.records import eval_pipeline, write_records
from maskrcnn_plugin.dataloaders import input_pipeline, record_checks
from maskrcnn_plugin.errors import UserError


def _good_example(sharded_shapes_dir):
  record = next(iter(tf.data.TFRecordDataset(str(next(sharded_shapes_dir.glob("val-*"))))))
  return tf.train.Example.FromString(record.numpy())


def _break(example, kind):
  """A copy of `example` made bad in one way."""
  bad = tf.train.Example()
  bad.CopyFrom(example)
  feature = bad.features.feature
  if kind == "truncated image":
    encoded = feature["image/encoded"].bytes_list.value[0]
    feature["image/encoded"].bytes_list.value[0] = encoded[:len(encoded) // 2]
  elif kind == "empty image":
    feature["image/encoded"].bytes_list.value[0] = b""
  elif kind == "not an image":
    feature["image/encoded"].bytes_list.value[0] = b"this is not an image"
  elif kind == "mask count":
    del feature["image/object/mask"].bytes_list.value[-1]
  elif kind == "class range":
    feature["image/object/class/label"].int64_list.value[0] = 7
  elif kind == "zero area":
    xmin = feature["image/object/bbox/xmin"].float_list.value
    feature["image/object/bbox/xmax"].float_list.value[0] = xmin[0]
  elif kind == "box outside":
    feature["image/object/bbox/xmax"].float_list.value[0] = 1.5
  return bad


REASONS = {
    "truncated image": "PNG image is truncated or corrupt",
    "empty image": "the image is empty",
    "not an image": "not a JPEG, PNG",
    "mask count": "masks for",
    "class range": r"class ids \[7\] are outside the label range \[1, 3\]",
    "zero area": "zero area",
    "box outside": "outside the image",
}


@pytest.mark.parametrize("kind", sorted(REASONS))
def test_a_bad_record_is_an_error_naming_file_and_index(sharded_shapes_dir, tmp_path, kind):
  good = _good_example(sharded_shapes_dir)
  path = write_records(tmp_path / "bad.tfrecord", [good, good, _break(good, kind), good])
  with pytest.raises(tf.errors.InvalidArgumentError) as error:
    list(eval_pipeline(path))
  message = str(error.value)
  assert f"Bad record {path} #2: " in message
  assert re.search(REASONS[kind], message), message
  assert "bind data.input_pipeline.bad_records to the string skip" in message
  clear = record_checks.bad_record_error(error.value)
  assert isinstance(clear, UserError) and str(clear).startswith(f"Bad record {path} #2: ")
  assert "\n" not in str(clear) and "Fix or remove the record" in str(clear)


def test_other_errors_are_not_taken_for_bad_records():
  assert record_checks.bad_record_error(ValueError("Bad record x #1: y")) is None
  assert record_checks.bad_record_error(tf.errors.InvalidArgumentError(None, None, "other")) is None


def test_skip_mode_skips_and_counts_every_kind(sharded_shapes_dir, tmp_path, caplog):
  good = _good_example(sharded_shapes_dir)
  examples = [good] + [_break(good, kind) for kind in sorted(REASONS)] + [good]
  path = write_records(tmp_path / "bad.tfrecord", examples)
  record_checks.reset_skipped_record_counts()
  batches = list(eval_pipeline(path, bad_records="skip"))
  assert len(batches) == 2  # the two good records
  assert record_checks.skipped_record_counts() == {
      "box outside image": 1, "class id outside label range": 1, "mask/box count mismatch": 1,
      "empty image": 1,
      "not an image": 1, "truncated or corrupt image": 1, "zero-area box": 1}
  assert f"Skipping Bad record {path} #3:" in caplog.text


def test_truncated_tfrecord_file_is_named_or_read_up_to_the_break(sharded_shapes_dir, tmp_path):
  good = _good_example(sharded_shapes_dir)
  path = write_records(tmp_path / "cut.tfrecord", [good, good, good])
  data = open(path, "rb").read()
  with open(path, "wb") as f:
    f.write(data[:-40])
  with pytest.raises(UserError, match=f"Bad record {path} #2: the TFRecord file is truncated"):
    eval_pipeline(path)
  record_checks.reset_skipped_record_counts()
  assert len(list(eval_pipeline(path, bad_records="skip"))) == 2
  assert record_checks.skipped_record_counts() == {"truncated file": 1}


def test_training_pipeline_skips_bad_records_too(sharded_shapes_dir, tmp_path):
  good = _good_example(sharded_shapes_dir)
  path = write_records(tmp_path / "bad.tfrecord", [_break(good, "class range"), good, good])
  gin.bind_parameter("parsers.maskrcnn.output_size", [64, 64])
  record_checks.reset_skipped_record_counts()
  dataset = input_pipeline(file_pattern=path, global_batch_size=2, num_classes=4,
                           bad_records="skip")
  images, _ = next(iter(dataset))
  assert images.shape[0] == 2
  assert record_checks.skipped_record_counts()["class id outside label range"] >= 1


def test_jpeg_checks_accept_trailing_bytes_and_reject_truncation():
  jpeg = tf.io.encode_jpeg(tf.zeros([16, 16, 3], tf.uint8)).numpy()
  def problem(data):
    summary = {"encoded": tf.constant(data), "classes": tf.zeros([0], tf.int64),
               "num_masks": 0, **{k: tf.zeros([0]) for k in ("xmin", "xmax", "ymin", "ymax")}}
    return record_checks.record_problem(summary, 4).numpy().decode()

  assert problem(jpeg) == "" and problem(jpeg + b"\0" * 100) == ""
  assert "JPEG image is truncated" in problem(jpeg[:-2])
  assert "JPEG image is truncated" in problem(jpeg + b"x" * 5000)
  assert "empty" in problem(b"")
