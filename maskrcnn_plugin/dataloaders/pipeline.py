"""`data.input_pipeline`: files on disk to batches for the Mask R-CNN train step.

Train and eval differ by gin scope; callers build them as

    with gin.config_scope('train'):
      train_dataset = data.input_pipeline(input_context)

and base/data.gin binds `train/data.input_pipeline.*` and
`eval/data.input_pipeline.*`. The output is what Model Garden's Mask R-CNN
task consumes: (images, labels) with images [batch, height, width, 3] and
labels the dict of `maskrcnn_input.Parser` (training: anchor_boxes,
image_info, rpn_score_targets, rpn_box_targets, gt_boxes, gt_classes,
gt_outer_boxes, gt_masks; eval: image_info, anchor_boxes and `groundtruths`
with source_id, height, width, num_detections, boxes, classes, areas,
is_crowds, masks, the inputs of Model Garden's COCOEvaluator).

Stages: list files -> shard per input pipeline (files when there are enough,
else records) -> interleave files -> check each record (bad ones: error or
skip, see record_checks.py) -> decode (a record that fails to decode: error or
skip; more instances than the parser keeps: error or keep_first,
counted) -> [cache] -> [repeat, shuffle] -> parse in parallel -> batch ->
prefetch.

Decoders and parsers keep the contracts of their registries
(`registries.DataDecoder`, `Parser`): the records of a decoder without
`summarize(record)` are not checked before decoding, and a decoder with
`records(files, bad_records)` (data_decoders.coco_json) reads its own files.
"""

import logging
from typing import Annotated, Callable, Optional, Sequence, Union

import gin
import tensorflow as tf

from maskrcnn_plugin.dataloaders import decoders
from maskrcnn_plugin.dataloaders import files as files_lib
from maskrcnn_plugin.dataloaders import parsers  # noqa: F401
from maskrcnn_plugin.dataloaders import record_checks
from maskrcnn_plugin.errors import UserError
from maskrcnn_plugin.params import NumClasses, PositiveInt
from maskrcnn_plugin.registries import PARSERS, Parser, RecordSource, SummarizingDecoder
from registry import OneOf
from registry.constraints import constraint

AUTOTUNE = tf.data.AUTOTUNE


def _tfrecord_source(files: Sequence[str], policy: str, verify_files: bool,
                     ) -> Callable[[tf.Tensor], tf.data.Dataset]:
  """A per-file reader yielding (record, file, index).

  Truncated local files raise (policy 'error'), or yield only their complete
  records and count the rest as one skipped record (policy 'skip'). Local
  files without a single complete record raise: the dataset is empty.
  """
  limits = {}
  if verify_files:
    # Remote files (gs://...) would cost one request per record: not scanned.
    local = [f for f in files if "://" not in f]
    counts = [files_lib.scan_tfrecord(path) for path in local]
    for path, (count, truncated_at) in zip(local, counts):
      if truncated_at is None:
        continue
      message = (f"Bad record {path} #{count}: the TFRecord file is truncated (the record "
                 f"at byte {truncated_at} is incomplete)")
      if policy == "error":
        raise UserError(f"{message}. Re-create the file, or set "
                        "data.input_pipeline.bad_records = 'skip' to read its complete "
                        "records and count the rest as skipped.")
      record_checks.count_skipped("truncated file", message)
      limits[path] = count
    if len(local) == len(files) and not any(count for count, _ in counts):
      shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
      raise UserError(f"data.input_pipeline.file_pattern: the dataset is empty, the files it "
                      f"matches hold no complete record ({shown}). Point it at the right "
                      "files, or re-create them.")
  table = tf.lookup.StaticHashTable(
      tf.lookup.KeyValueTensorInitializer(
          tf.constant(list(limits) or [""]), tf.constant(list(limits.values()) or [-1], tf.int64)),
      default_value=-1)

  def read(path):
    records = tf.data.TFRecordDataset(path).take(table.lookup(path))
    return records.enumerate().map(lambda i, record: (record, path, i))
  return read


def _instance_limit(parser, is_training: bool, policy: str) -> Optional[Callable]:
  """The instance-limit check for Model Garden's parser (None for parsers without a limit)."""
  max_instances = getattr(parser, "_max_num_instances", None)
  if max_instances is None:
    return None
  skip_crowd = is_training and bool(getattr(parser, "_skip_crowd_during_training", False))
  return lambda features, source, index: record_checks.instance_limit_check(
      features, source, index, int(max_instances), policy, skip_crowd)


@gin.configurable(module="data", denylist=["input_context"])
@constraint("data.input_pipeline")
def input_pipeline(input_context: Optional[tf.distribute.InputContext] = None, *,
                   file_pattern: Union[str, Sequence[str], None] = None,
                   data_dir: Optional[str] = None,
                   is_training: bool = True,
                   global_batch_size: PositiveInt = 8,
                   decoder: Optional[Callable] = None,
                   parser: Optional[Callable] = None,
                   num_classes: Optional[NumClasses] = None,
                   bad_records: Annotated[str, OneOf(*record_checks.BAD_RECORD_POLICIES)] = "error",
                   too_many_instances: Annotated[
                       str, OneOf(*record_checks.TOO_MANY_INSTANCES_POLICIES)] = "error",
                   verify_files: bool = True,
                   shuffle_buffer_size: PositiveInt = 1000,
                   cycle_length: PositiveInt = 8,
                   cache: bool = False,
                   deterministic: bool = False,
                   seed: Optional[int] = None,
                   drop_remainder: Optional[bool] = None,
                   repeat: Optional[bool] = None) -> tf.data.Dataset:
  """Builds the batched (images, labels) dataset.

  Args:
    input_context: From `strategy.distribute_datasets_from_function`; its
      input pipeline id/count shard the input and its per-replica batch size
      replaces `global_batch_size`. None: one pipeline, the global batch.
    file_pattern: TFRecord glob, comma-separated globs or a list; for
      data_decoders.coco_json the annotation JSON.
    data_dir: Folder that relative file patterns are resolved against.
    is_training: Training (augment, shuffle, repeat, drop remainder) or eval
      (Model Garden's eval labels with `groundtruths`).
    global_batch_size: Images per step over all replicas.
    decoder: Decoder factory, e.g. @data_decoders.tf_example (called with no
      arguments, so its gin bindings apply), or a decoder; default
      data_decoders.tf_example.
    parser: Parser factory; default parsers.maskrcnn.
    num_classes: Classes including background (%NUM_CLASSES); class ids
      outside [1, num_classes - 1] are bad records. None: not checked.
    bad_records: 'error' (stop with file and record index) or 'skip' (skip,
      log and count; see `skipped_record_counts()`).
    too_many_instances: A record with more instances than the parser keeps
      (`parsers.maskrcnn.max_num_instances`): 'error' (stop, naming the record,
      its count and the binding) or 'keep_first' (keep the first ones, as Model
      Garden's parser does, and log and count the dropped ones; see
      `dropped_instance_counts()`).
    verify_files: Scan local TFRecord files for truncation before reading
      (12 bytes read per record, about a second for COCO train2017).
    shuffle_buffer_size: Records in the shuffle buffer (training).
    cycle_length: Files read concurrently.
    cache: Keep decoded records in memory after the first epoch.
    deterministic: Same order on every run (seeded shuffles, ordered parallel
      maps); for tests and debugging, slower. Random augmentation follows
      TensorFlow's global seed (`tf.random.set_seed`).
    seed: Shuffle seed; default 0 when deterministic, else random.
    drop_remainder: Drop the last partial batch; default: is_training.
    repeat: Repeat forever; default: is_training.

  Returns:
    A dataset of (images, labels) batches of the per-replica batch size.
  """
  drop_remainder = is_training if drop_remainder is None else drop_remainder
  repeat = is_training if repeat is None else repeat
  if deterministic and seed is None:
    seed = 0
  batch_size = (input_context.get_per_replica_batch_size(global_batch_size)
                if input_context else global_batch_size)
  num_pipelines = input_context.num_input_pipelines if input_context else 1
  pipeline_id = input_context.input_pipeline_id if input_context else 0

  decoder = decoders.build_decoder(decoder)
  parser_object = (parser or PARSERS.get("maskrcnn"))()
  if not isinstance(parser_object, Parser):
    raise UserError(f"data.input_pipeline.parser gave a {type(parser_object).__name__}, not a "
                    f"parser: a parsers factory must return an object with a "
                    f"`parse_fn(is_training)` method (maskrcnn describe parsers).")
  parse = parser_object.parse_fn(is_training)
  instance_limit = _instance_limit(parser_object, is_training, too_many_instances)
  files = files_lib.expand_patterns(file_pattern, "data.input_pipeline.file_pattern",
                                    data_dir=data_dir)

  if isinstance(decoder, RecordSource):
    dataset = decoder.records(files, bad_records=bad_records)
    if num_pipelines > 1:
      dataset = dataset.shard(num_pipelines, pipeline_id)
    if is_training and not cache:
      dataset = dataset.shuffle(shuffle_buffer_size, seed=seed)
  else:
    read = _tfrecord_source(files, bad_records, verify_files)
    dataset = tf.data.Dataset.from_tensor_slices(files)
    shard_files = num_pipelines > 1 and len(files) >= num_pipelines
    if shard_files:
      dataset = dataset.shard(num_pipelines, pipeline_id)
    if is_training:
      dataset = dataset.shuffle(len(files), seed=seed)
    dataset = dataset.interleave(read, cycle_length=min(cycle_length, len(files)),
                                 num_parallel_calls=AUTOTUNE, deterministic=deterministic)
    if num_pipelines > 1 and not shard_files:
      logging.warning("%d files for %d input pipelines: sharding records, so every pipeline "
                      "reads every file. Write at least as many shards as pipelines.",
                      len(files), num_pipelines)
      dataset = dataset.shard(num_pipelines, pipeline_id)
    if is_training and not cache:
      dataset = dataset.shuffle(shuffle_buffer_size, seed=seed)

  def checked(record, source, index):
    if not isinstance(decoder, SummarizingDecoder):  # not checked before decoding
      return record, source, index, tf.constant(True)
    keep = record_checks.check_or_skip(decoders.record_summary(decoder, record), source, index,
                                    num_classes, bad_records)
    return record, source, index, keep

  dataset = dataset.map(checked, num_parallel_calls=AUTOTUNE, deterministic=deterministic)
  if bad_records == "skip":
    dataset = dataset.filter(lambda record, source, index, keep: keep)
  dataset = dataset.map(lambda record, source, index, keep: (record, source, index))
  dataset = record_checks.decode_or_reject(dataset, decoder.decode, bad_records, deterministic,
                                        instance_limit)
  if cache:
    dataset = dataset.cache()
  if repeat:
    dataset = dataset.repeat()
  if is_training and cache:
    dataset = dataset.shuffle(shuffle_buffer_size, seed=seed)
  dataset = dataset.map(parse, num_parallel_calls=AUTOTUNE, deterministic=deterministic)
  dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
  options = tf.data.Options()
  options.deterministic = deterministic
  # Sharding is done above from input_context; tf.distribute must not shard again.
  options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
  dataset = dataset.with_options(options)
  return dataset.prefetch(AUTOTUNE)
