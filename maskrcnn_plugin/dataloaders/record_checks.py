"""Checks of records before decoding: bad records are an error or skipped.

Every record is summarized cheaply (image bytes, box coordinates, class ids,
mask count) and checked, inside tf.data, for:

  * image bytes that are empty, not JPEG/PNG/GIF/BMP/WebP, or truncated (a
    JPEG without an end-of-image marker in its last 4 KiB, a PNG not ending
    with its IEND chunk);
  * box coordinate lists of different lengths, and class or mask counts that
    differ from the box count;
  * class ids outside [1, num_classes - 1];
  * zero-area boxes, and boxes outside the image (normalized coordinates
    beyond [-0.01, 1.01]).

With `bad_records='error'` a bad record stops the input pipeline with
"Bad record FILE #INDEX: REASON" (a tf.errors.InvalidArgumentError raised in
the training loop; `bad_record_error(e)` turns it into one clear UserError).
With `bad_records='skip'` it is dropped, logged as a warning with file and
index, and counted: `skipped_record_counts()`.

Image (or mask) bytes that pass these checks but are corrupt inside fail in
TensorFlow's decoder, which names neither file nor record: `decode_or_reject`
decodes each record in a one-element dataset whose errors are caught, so such
a record is a bad record too ("the record could not be decoded"), reported
or skipped like the others.
"""

import collections
import logging
import re
import threading
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import tensorflow as tf

from maskrcnn_plugin.errors import UserError
from maskrcnn_plugin.registries import RecordSummary

BAD_RECORD_POLICIES = ("error", "skip")
BOX_TOLERANCE = 0.01
# JPEG files may carry trailing bytes after the end-of-image marker (TensorFlow
# ignores them); the marker is searched for in this many final bytes.
JPEG_TRAILER_BYTES = 4096
# Without quotes: tf.debugging.Assert escapes them in its message.
_FIX = ("Fix or remove the record (maskrcnn data check lists every bad one), or bind "
        "data.input_pipeline.bad_records to the string skip to skip and count bad records.")

# For problems a decoder reports itself (DECODE_PROBLEM): data check reads TFRecords only.
_FIX_DECODED = ("Fix or remove the image or annotation, or bind "
                "data.input_pipeline.bad_records to the string skip to skip and count bad "
                "records.")
# A decoder may add this string scalar to its dict: non-empty says why the
# record is bad (e.g. data_decoders.coco_json naming the image file).
DECODE_PROBLEM = "decode_problem"

# How tf.debugging.Assert prints the two strings of `check_or_skip`.
_ASSERT_TEXT = re.compile(r"\[(Bad record .*?)\] \[((?:Fix or remove .*? bad records|Raise "
                          r"parsers\.maskrcnn\.max_num_instances .*? dropped instances)\.)\]",
                          re.S)
TOO_MANY_INSTANCES_POLICIES = ("error", "keep_first")
_DROPPED = collections.Counter()

_SKIPPED = collections.Counter()
_SKIPPED_LOCK = threading.Lock()


class BadRecordError(UserError):
  """A record failed its check while the input pipeline ran."""


def bad_record_error(error: BaseException) -> Optional[BadRecordError]:
  """The one-line BadRecordError inside a TensorFlow error, or None.

  The training loop sees a bad record as a tf.errors.InvalidArgumentError
  wrapped in op names; `raise bad_record_error(e) or e` shows the user
  "Bad record FILE #INDEX: REASON. <how to fix>" alone.
  """
  match = _ASSERT_TEXT.search(str(error)) if isinstance(error, tf.errors.OpError) else None
  if not match:
    return None
  # tf.debugging.Assert escapes quotes (of file names in the reason).
  reason = match.group(1).replace("\\'", "'").replace('\\"', '"')
  return BadRecordError(f"{reason} {match.group(2)}")


def skipped_record_counts() -> Dict[str, int]:
  """Bad records skipped by input pipelines of this process, by reason."""
  with _SKIPPED_LOCK:
    return dict(_SKIPPED)


def reset_skipped_record_counts() -> None:
  with _SKIPPED_LOCK:
    _SKIPPED.clear()


def dropped_instance_counts() -> Dict[str, int]:
  """Instances cut by `too_many_instances = 'keep_first'` in this process: records, instances."""
  with _SKIPPED_LOCK:
    return dict(_DROPPED)


def reset_dropped_instance_counts() -> None:
  with _SKIPPED_LOCK:
    _DROPPED.clear()


def count_skipped(reason: str, message: str) -> None:
  """Counts one skipped record and logs `message` naming it."""
  with _SKIPPED_LOCK:
    _SKIPPED[reason] += 1
    total = sum(_SKIPPED.values())
  logging.warning("Skipping %s (%d bad records skipped so far).", message, total)


def summarize_tf_example(serialized: tf.Tensor, include_mask: bool = True,
                         classes_fn: Optional[Callable] = None) -> RecordSummary:
  """The fields the record check reads, from a serialized tf.Example.

  Returns:
    The RecordSummary: a dict with `encoded` (string scalar), `xmin`, `xmax`, `ymin`, `ymax`
    (float [N_i] each), `classes` (int64 [N]) and `num_masks` (int32 scalar,
    -1 when masks are not decoded).
  """
  features = {
      "image/encoded": tf.io.FixedLenFeature((), tf.string, ""),
      "image/object/class/label": tf.io.VarLenFeature(tf.int64),
      "image/object/class/text": tf.io.VarLenFeature(tf.string),
  }
  for key in ("xmin", "xmax", "ymin", "ymax"):
    features[f"image/object/bbox/{key}"] = tf.io.VarLenFeature(tf.float32)
  if include_mask:
    features["image/object/mask"] = tf.io.VarLenFeature(tf.string)
  parsed = tf.io.parse_single_example(serialized, features)
  parsed = {k: tf.sparse.to_dense(v) if isinstance(v, tf.SparseTensor) else v
            for k, v in parsed.items()}
  summary = {k: parsed[f"image/object/bbox/{k}"] for k in ("xmin", "xmax", "ymin", "ymax")}
  summary["encoded"] = parsed["image/encoded"]
  summary["classes"] = (classes_fn(parsed) if classes_fn
                        else parsed["image/object/class/label"])
  summary["num_masks"] = (tf.size(parsed["image/object/mask"]) if include_mask
                          else tf.constant(-1))
  return summary


def _image_problems(encoded: tf.Tensor) -> List[Tuple[tf.Tensor, Callable]]:
  """(is bad, reason) pairs for image bytes that do not look like a whole image."""
  length = tf.strings.length(encoded)
  head = lambda n: tf.strings.substr(encoded, 0, n)
  tail = lambda n: tf.strings.substr(encoded, tf.maximum(length - n, 0), n)
  is_jpeg = tf.equal(head(3), b"\xff\xd8\xff")
  is_png = tf.equal(head(8), b"\x89PNG\r\n\x1a\n")
  is_other = tf.reduce_any(tf.stack([
      tf.equal(head(4), b"GIF8"), tf.equal(head(2), b"BM"),
      tf.logical_and(tf.equal(head(4), b"RIFF"),
                     tf.equal(tf.strings.substr(encoded, tf.minimum(8, length), 4),
                              b"WEBP"))]))

  def jpeg_end_missing():
    end = tf.io.decode_raw(tail(JPEG_TRAILER_BYTES), tf.uint8)
    return tf.logical_not(tf.reduce_any(tf.logical_and(tf.equal(end[:-1], 0xFF),
                                                       tf.equal(end[1:], 0xD9))))

  return [
      (tf.equal(length, 0), lambda: "the image is empty (no image/encoded bytes)"),
      (tf.cond(is_jpeg, jpeg_end_missing, lambda: False),
       lambda: "the JPEG image is truncated or corrupt (no end-of-image marker)"),
      (tf.logical_and(is_png, tf.not_equal(tail(8), b"IEND\xaeB`\x82")),
       lambda: "the PNG image is truncated or corrupt (no IEND chunk)"),
      (tf.logical_not(tf.reduce_any(tf.stack([is_jpeg, is_png, is_other]))),
       lambda: "the image bytes are not a JPEG, PNG, GIF, BMP or WebP image"),
  ]


def _problems(summary: Dict[str, tf.Tensor], num_classes: Optional[int]
              ) -> List[Tuple[tf.Tensor, Callable]]:
  """(is bad, reason) pairs, in reporting order.

  The conditions are a few cheap ops per record; the reason texts are only
  built (by calling them) for a bad record.
  """
  xmin, xmax, ymin, ymax = (tf.cast(summary[k], tf.float32)
                            for k in ("xmin", "xmax", "ymin", "ymax"))
  classes = tf.cast(summary["classes"], tf.int64)
  num_boxes = tf.size(xmin)
  sizes = tf.stack([num_boxes, tf.size(xmax), tf.size(ymin), tf.size(ymax)])
  same_lengths = tf.reduce_all(tf.equal(sizes, num_boxes))
  num_masks = tf.cast(summary["num_masks"], tf.int32)
  as_text = lambda t: tf.strings.reduce_join(tf.strings.as_string(t), separator=", ")

  def when_lengths_match(check):
    # Elementwise box checks only make sense once the lists have one length.
    return tf.cond(same_lengths, check, lambda: False)

  if num_classes is not None:
    outside = tf.logical_or(classes < 1, classes >= num_classes)
    range_text = (f"outside the label range [1, {num_classes - 1}] (NUM_CLASSES = "
                  f"{num_classes} includes background 0)")
  else:
    outside = classes < 1
    range_text = "outside the label range (ids start at 1; 0 is background)"
  return _image_problems(summary["encoded"]) + [
      (tf.logical_not(same_lengths), lambda: tf.strings.join([
          "the box coordinate lists differ in length (xmin/xmax/ymin/ymax: ",
          as_text(sizes), ")"])),
      (tf.not_equal(tf.size(classes), num_boxes), lambda: tf.strings.join([
          tf.strings.as_string(tf.size(classes)), " class ids for ",
          tf.strings.as_string(num_boxes), " boxes"])),
      (tf.logical_and(tf.greater_equal(num_masks, 0), tf.not_equal(num_masks, num_boxes)),
       lambda: tf.strings.join([tf.strings.as_string(num_masks), " masks for ",
                                tf.strings.as_string(num_boxes), " boxes"])),
      (tf.reduce_any(outside), lambda: tf.strings.join([
          "class ids [", as_text(tf.boolean_mask(classes, outside)), "] are " + range_text])),
      (when_lengths_match(lambda: tf.reduce_any(tf.logical_or(xmax <= xmin, ymax <= ymin))),
       lambda: "a box has zero area (xmax <= xmin or ymax <= ymin)"),
      (when_lengths_match(lambda: tf.reduce_any(tf.logical_or(
          tf.minimum(xmin, ymin) < -BOX_TOLERANCE,
          tf.maximum(xmax, ymax) > 1.0 + BOX_TOLERANCE))),
       lambda: "a box lies outside the image (normalized coordinates beyond [0, 1])"),
  ]


def _is_good(problems) -> tf.Tensor:
  return tf.logical_not(tf.reduce_any(tf.stack([condition for condition, _ in problems])))


def _first_reason(problems) -> tf.Tensor:
  reason = tf.constant("")
  for condition, text in reversed(problems):
    reason = tf.where(condition, text(), reason)
  return reason


def record_problem(summary: Dict[str, tf.Tensor], num_classes: Optional[int]) -> tf.Tensor:
  """Why a summarized record is bad, as a string tensor ("" for a good record)."""
  problems = _problems(summary, num_classes)
  return tf.cond(_is_good(problems), lambda: tf.constant(""),
                 lambda: _first_reason(problems))


def reason_key(reason: str) -> str:
  """A short counting key for a reason, e.g. 'class id outside label range'."""
  for key, marker in (("truncated or corrupt image", "truncated or corrupt"),
                      ("empty image", "image is empty"),
                      ("undecodable record", "could not be decoded"),
                      ("not an image", "not a JPEG"),
                      ("not an image", "is not an image file"),
                      ("undecodable image", "cannot be decoded"),
                      ("image size differs from annotations", "but the annotations say"),
                      ("zero-area segmentation", "covers no pixel"),
                      ("box lists differ in length", "differ in length"),
                      ("class/box count mismatch", "class ids for"),
                      ("mask/box count mismatch", "masks for"),
                      ("class id outside label range", "outside the label range"),
                      ("zero-area box", "zero area"),
                      ("box outside image", "outside the image")):
    if marker in reason:
      return key
  return "other"


def check_or_skip(summary: Dict[str, tf.Tensor], source: tf.Tensor, index: tf.Tensor,
                  num_classes: Optional[int], policy: str) -> tf.Tensor:
  """Applies `policy` to one record; returns whether to keep it (bool scalar).

  'error' raises "Bad record SOURCE #INDEX: REASON. <how to fix>" through
  tf.debugging.Assert; 'skip' counts and logs the record and returns False.
  """
  return _apply_policy(_problems(summary, num_classes), source, index, policy)


def _apply_policy(problems, source: tf.Tensor, index: tf.Tensor, policy: str,
                  fix: str = _FIX) -> tf.Tensor:
  """True for a good record; for a bad one raises (policy 'error') or counts (False)."""

  def message():
    reason = _first_reason(problems)
    return reason, tf.strings.join(["Bad record ", source, " #", tf.strings.as_string(index),
                                    ": ", reason, "."])

  def fail():
    with tf.control_dependencies([tf.debugging.Assert(False, [message()[1], fix],
                                                      summarize=2)]):
      return tf.constant(False)

  def skip():
    def count(reason_bytes, message_bytes):
      count_skipped(reason_key(reason_bytes.decode()), message_bytes.decode())
      return np.bool_(False)
    return tf.numpy_function(count, list(message()), tf.bool, stateful=True)

  keep = tf.cond(_is_good(problems), lambda: tf.constant(True),
                 fail if policy == "error" else skip)
  keep.set_shape([])
  return keep


_UNDECODABLE = ("the record could not be decoded (corrupt image or mask data inside valid "
                "headers; maskrcnn data check shows the decoder message)")


def _empty_like(spec: tf.TensorSpec) -> tf.Tensor:
  """A tensor that fits `spec` (unknown dimensions 0), standing in for a failed decode."""
  if spec.shape.rank is None:
    return tf.zeros([], spec.dtype)
  return tf.zeros([d if d is not None else 0 for d in spec.shape.as_list()], spec.dtype)


def instance_limit_check(features: Dict[str, tf.Tensor], source: tf.Tensor, index: tf.Tensor,
                         max_instances: int, policy: str, skip_crowd: bool) -> tf.Tensor:
  """Applies the instance limit of Model Garden's parser to a decoded record.

  Model Garden's parser keeps the first `max_num_instances` instances of an
  image (after dropping crowd regions in training when `skip_crowd`) and
  drops the rest silently. With policy 'error' a record holding more raises
  "Bad record SOURCE #INDEX: it holds N instances, more than
  parsers.maskrcnn.max_num_instances = M" with the fix; with 'keep_first' the
  cut is accepted, and each cut record is logged and counted
  (`dropped_instance_counts()`).

  Returns:
    A bool scalar that is True (an op to depend on).
  """
  classes = features["groundtruth_classes"]
  count = tf.size(classes)
  if skip_crowd:
    count = tf.reduce_sum(tf.cast(tf.logical_not(features["groundtruth_is_crowd"]), tf.int32))
  over = count > max_instances
  what = ("non-crowd instances" if skip_crowd else "instances")
  message = lambda: tf.strings.join([
      "Bad record ", source, " #", tf.strings.as_string(index), ": it holds ",
      tf.strings.as_string(count), f" {what}, more than parsers.maskrcnn.max_num_instances = "
      f"{max_instances}."])
  fix = (f"Raise parsers.maskrcnn.max_num_instances (maskrcnn data check --max-instances "
         f"{max_instances} counts such images), or bind data.input_pipeline.too_many_instances "
         f"to the string keep_first to keep the first {max_instances} and count the dropped "
         "instances.")

  def fail():
    with tf.control_dependencies([tf.debugging.Assert(False, [message(), fix], summarize=2)]):
      return tf.constant(True)

  def record(message_bytes, number):
    with _SKIPPED_LOCK:
      _DROPPED["records"] += 1
      _DROPPED["instances"] += int(number) - max_instances
      total = _DROPPED["instances"]
    logging.warning("%s Keeping the first %d (too_many_instances = 'keep_first'; %d instances "
                    "dropped so far).", message_bytes.decode(), max_instances, total)
    return np.bool_(True)

  def keep_first():
    done = tf.numpy_function(record, [message(), count], tf.bool, stateful=True)
    done.set_shape([])
    return done

  checked = tf.cond(over, fail if policy == "error" else keep_first, lambda: tf.constant(True))
  checked.set_shape([])
  return checked


def decode_or_reject(dataset: tf.data.Dataset, decode: Callable, policy: str,
                     deterministic: bool, instance_limit: Optional[Callable] = None
                     ) -> tf.data.Dataset:
  """Decodes a dataset of (record, source, index); applies `policy` to records that fail.

  Each record is decoded in a one-element dataset whose errors are dropped
  (`ignore_errors`); a stand-in element flagged False takes its place, so a
  failed decode becomes "Bad record SOURCE #INDEX: the record could not be
  decoded" (policy 'error') or a skipped, counted record (policy 'skip'). The
  records are decoded in parallel as a parallel map would.

  A decoder may also report a bad record itself with a non-empty
  `DECODE_PROBLEM` string in its dict (removed here): its text is the reason.
  `instance_limit(features, source, index)`, if given, checks each good
  record's instance count (see `instance_limit_check`).

  Returns:
    A dataset of decoded records (the dicts `decode` returns).
  """

  def decode_one(record, source, index):
    decoded = tf.data.Dataset.from_tensors(record).map(lambda r: (decode(r), True))
    decoded = decoded.ignore_errors()
    stand_in = tf.nest.map_structure(_empty_like, decoded.element_spec[0])
    decoded = decoded.concatenate(tf.data.Dataset.from_tensors((stand_in, False))).take(1)
    return decoded.map(lambda features, ok: (features, ok, source, index))

  def verdict(features, ok, source, index):
    problems = [(tf.logical_not(ok), lambda: _UNDECODABLE)]
    fix = _FIX
    if DECODE_PROBLEM in features:
      features = dict(features)
      reported = tf.strings.regex_replace(features.pop(DECODE_PROBLEM), r"\.$", "")
      problems.append((tf.logical_and(ok, tf.not_equal(reported, "")), lambda: reported))
      fix = _FIX_DECODED
    keep = _apply_policy(problems, source, index, policy, fix)
    if instance_limit is not None:
      limited = tf.cond(keep, lambda: instance_limit(features, source, index),
                        lambda: tf.constant(True))
      with tf.control_dependencies([limited]):
        keep = tf.identity(keep)
    return features, keep

  dataset = dataset.interleave(decode_one, cycle_length=tf.data.AUTOTUNE, block_length=1,
                               num_parallel_calls=tf.data.AUTOTUNE,
                               deterministic=deterministic)
  dataset = dataset.map(verdict, num_parallel_calls=tf.data.AUTOTUNE,
                        deterministic=deterministic)
  if policy == "skip":
    dataset = dataset.filter(lambda features, keep: keep)
  return dataset.map(lambda features, keep: features)
