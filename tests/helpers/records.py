"""Records and the evaluation input over them, for the bad-record and data fault tests."""

import gin
import tensorflow as tf

from maskrcnn_plugin.dataloaders import input_pipeline


def write_records(path, examples) -> str:
  """Writes the tf.train.Examples to one TFRecord file at `path`; returns the path."""
  with tf.io.TFRecordWriter(str(path)) as writer:
    for example in examples:
      writer.write(example.SerializeToString())
  return str(path)


def eval_pipeline(pattern, **kwargs) -> tf.data.Dataset:
  """The evaluation input over `pattern`: 64 px, batch 1, 4 classes, in file order."""
  gin.bind_parameter("parsers.maskrcnn.output_size", [64, 64])
  return input_pipeline(file_pattern=pattern, is_training=False, global_batch_size=1,
                        num_classes=4, deterministic=True, **kwargs)
