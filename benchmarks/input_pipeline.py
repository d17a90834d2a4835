"""Input-pipeline throughput: images/s out of `data.input_pipeline`, one process.

    python benchmarks/input_pipeline.py --gin_file=maskrcnn_shapes_r18_cpu \
        --gin_param="SHAPES_DIR = 'data/shapes'"
    python benchmarks/input_pipeline.py --gin_file=maskrcnn_spinenet49_coco \
        --gin_param="TRAIN_FILE_PATTERN = 'data/shapes640/train-*.tfrecord'" \
        --gin_param="NUM_CLASSES = 4" --gin_param="TRAIN_BATCH_SIZE = 8"

Builds the pipeline of the gin scope (`train` by default) exactly as training
does, skips `--warmup` batches (tracing, autotuning, filling the shuffle
buffer) and times `--batches` more (eval pipelines do not repeat: keep
warmup + batches within the eval set).
"""

import argparse
import time

import maskrcnn_plugin  # noqa: F401  (Keras and the CPU runtime set up before TensorFlow is imported)
import gin

from maskrcnn_plugin.dataloaders import input_pipeline
from maskrcnn_plugin.gin_config import parse_gin


def measure(scope: str, batches: int, warmup: int):
  """(images per second over `batches` batches after `warmup`, batch shape)."""
  with gin.config_scope(scope):
    iterator = iter(input_pipeline())
  for _ in range(warmup):
    next(iterator)
  images = 0
  start = time.perf_counter()
  for _ in range(batches):
    batch_images, _ = next(iterator)
    images += int(batch_images.shape[0])
  return images / (time.perf_counter() - start), tuple(batch_images.shape)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--gin_file", action="append", default=[])
  parser.add_argument("--gin_param", action="append", default=[])
  parser.add_argument("--scope", default="train", choices=["train", "eval"])
  parser.add_argument("--batches", type=int, default=50)
  parser.add_argument("--warmup", type=int, default=10)
  args = parser.parse_args()
  parse_gin(args.gin_file or ["maskrcnn_shapes_r18_cpu"], args.gin_param)
  rate, shape = measure(args.scope, args.batches, args.warmup)
  print(f"input pipeline ({args.scope}, {', '.join(args.gin_file)}): {rate:.1f} images/s, "
        f"batches of {shape}")


if __name__ == "__main__":
  main()
