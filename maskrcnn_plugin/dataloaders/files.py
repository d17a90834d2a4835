"""Input files: expanding patterns, and finding truncated TFRecord files.

TensorFlow reports a truncated TFRecord file as "truncated record at N"
without naming the file, in the middle of training. `scan_tfrecord` walks the
record headers (12 bytes each, no payload read) so the pipeline can name the
file before training starts.
"""

import os
import struct
from typing import List, Optional, Sequence, Tuple, Union

import tensorflow as tf

from maskrcnn_plugin.errors import UserError


def expand_patterns(file_pattern: Union[str, Sequence[str]], what: str,
                    data_dir: Optional[str] = None) -> List[str]:
  """Sorted files matching a pattern, a comma-separated list or a list of them.

  Relative patterns are resolved against `data_dir` when it is given.

  Raises:
    UserError: naming the pattern that matches nothing and the gin binding.
  """
  if not file_pattern:
    raise UserError(f"{what} is not set: bind it to TFRecord files, e.g. "
                    f"`{what} = 'data/train-*.tfrecord'`.")
  patterns = file_pattern.split(",") if isinstance(file_pattern, str) else list(file_pattern)
  files = []
  for pattern in (p.strip() for p in patterns):
    if data_dir and not os.path.isabs(pattern) and "://" not in pattern:
      pattern = os.path.join(data_dir, pattern)
    matches = sorted(tf.io.gfile.glob(pattern))
    if not matches:
      hint = ""
      if data_dir and not tf.io.gfile.isdir(data_dir):
        hint = (f" The folder '{data_dir}' does not exist; for the shapes demo create it with "
                f"`maskrcnn data make-shapes --output {data_dir}`.")
      raise UserError(f"{what}: no file matches '{pattern}'.{hint}")
    files.extend(matches)
  return list(dict.fromkeys(files))


def scan_tfrecord(path: str) -> Tuple[int, Optional[int]]:
  """Counts the complete records of a TFRecord file without reading payloads.

  Returns:
    (num_records, truncated_at): truncated_at is the byte offset where an
    incomplete record starts, or None when the file ends cleanly.
  """
  size = tf.io.gfile.stat(path).length
  count, offset = 0, 0
  with tf.io.gfile.GFile(path, "rb") as f:
    while offset < size:
      header = f.read(12)
      if len(header) < 12:
        return count, offset
      (length,) = struct.unpack("<Q", header[:8])
      end = offset + 12 + length + 4
      if end > size:
        return count, offset
      f.seek(end)
      count, offset = count + 1, end
  return count, None
