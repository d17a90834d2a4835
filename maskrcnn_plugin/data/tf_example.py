"""Builds tf.Examples in Model Garden's detection layout.

The layout is the one `official.vision.data.create_coco_tf_record` writes and
`official.vision.dataloaders.tf_example_decoder.TfExampleDecoder` reads:
image/{encoded,format,height,width,source_id,filename,key/sha256},
image/object/bbox/{xmin,xmax,ymin,ymax} (normalized), image/object/class/
{label,text}, image/object/is_crowd, image/object/area and image/object/mask
(one PNG per instance, pixel values 0/1).
"""

import contextlib
import dataclasses
from typing import Callable, Iterator, List, Sequence

import numpy as np
import tensorflow as tf
from official.vision.data import tfrecord_lib


@dataclasses.dataclass
class Instance:
  """One annotated object.

  Attributes:
    bbox: COCO box [x, y, width, height] in pixels.
    category_id: Class id (1-based; 0 is background).
    category_name: Class name, written as image/object/class/text.
    area: Object area in pixels.
    is_crowd: Whether the region is a crowd region.
    mask_png: PNG of the instance mask (uint8, 0/1), or None without masks.
  """
  bbox: Sequence[float]
  category_id: int
  category_name: str
  area: float
  is_crowd: bool = False
  mask_png: bytes = None


def build_example(*, encoded_image: bytes, image_format: str, height: int, width: int,
                  image_id: int, filename: str, instances: List[Instance]) -> tf.train.Example:
  """A tf.Example for one image and its instances (possibly none).

  Masks are written when every instance has `mask_png`.
  """
  features = tfrecord_lib.image_info_to_feature_dict(
      height, width, filename, image_id, encoded_image, image_format)
  boxes = np.array([i.bbox for i in instances], np.float64).reshape(-1, 4)
  x, y, w, h = boxes.T
  convert = tfrecord_lib.convert_to_feature
  features.update({
      "image/object/bbox/xmin": convert((x / width).tolist(), "float_list"),
      "image/object/bbox/xmax": convert(((x + w) / width).tolist(), "float_list"),
      "image/object/bbox/ymin": convert((y / height).tolist(), "float_list"),
      "image/object/bbox/ymax": convert(((y + h) / height).tolist(), "float_list"),
      "image/object/class/label": convert([i.category_id for i in instances], "int64_list"),
      "image/object/class/text": convert(
          [i.category_name.encode("utf8") for i in instances], "bytes_list"),
      "image/object/is_crowd": convert([int(i.is_crowd) for i in instances], "int64_list"),
      "image/object/area": convert([float(i.area) for i in instances], "float_list"),
  })
  if all(i.mask_png is not None for i in instances):
    features["image/object/mask"] = convert([i.mask_png for i in instances], "bytes_list")
  return tf.train.Example(features=tf.train.Features(feature=features))


def encode_mask_png(mask: np.ndarray) -> bytes:
  """PNG bytes of a binary [height, width] mask with pixel values 0/1."""
  return tfrecord_lib.encode_mask_as_png(np.asarray(mask, np.uint8))


def shard_paths(prefix: str, num_shards: int) -> List[str]:
  """Shard file names as Model Garden's tfrecord_lib writes them."""
  return [f"{prefix}-{i:05d}-of-{num_shards:05d}.tfrecord" for i in range(num_shards)]


@contextlib.contextmanager
def sharded_writer(paths: Sequence[str], pool=None) -> Iterator[Callable[[int, bytes], None]]:
  """Yields `write(index, serialized)`, which puts record `index` in shard index % len(paths).

  On exit, also after an error, every shard file is closed and `pool` (the
  multiprocessing pool producing the records, or None) is terminated.
  """
  writers = [tf.io.TFRecordWriter(path) for path in paths]
  try:
    yield lambda index, serialized: writers[index % len(writers)].write(serialized)
  finally:
    for writer in writers:
      writer.close()
    if pool is not None:
      pool.terminate()
      pool.join()
