"""SavedModel inference speed: images/s and latency at several batch sizes.

    python benchmarks/serving_latency.py --gin_file=maskrcnn_shapes_r18_cpu
    python benchmarks/serving_latency.py --gin_file=maskrcnn_r50_fpn_coco \
        --gin_param="IMAGE_SIZE = [640, 640]" --iterations=3
    python benchmarks/serving_latency.py --model_dir=runs/shapes

Builds the model from gin (random weights) or from a training folder
(`--model_dir`, trained weights), exports one SavedModel per batch size with
`maskrcnn export`'s code (image_tensor input, binary full-image masks), loads
it, runs `--warmup` calls and times `--iterations` more on random uint8 images
of the model's size. Latency is the time of one call; images/s is batch size
over it. The machine's load average is printed, since other processes slow it.
"""

import argparse
import os
import statistics
import tempfile
import time

import maskrcnn_plugin  # noqa: F401  (Keras set-up before TensorFlow is imported)
import gin
import numpy as np
import tensorflow as tf

import maskrcnn_plugin.dataloaders  # noqa: F401  (registers what the gin files name)
import maskrcnn_plugin.training  # noqa: F401
from maskrcnn_plugin.gin_config import parse_gin
from maskrcnn_plugin.modeling import build_from_gin
from maskrcnn_plugin.serving.detection import DetectionExportModule
from maskrcnn_plugin.serving.export import export_saved_model
from maskrcnn_plugin.serving.restore import restore_run


def measure(saved_model_dir: str, batch_size: int, image_size, warmup: int, iterations: int):
  """Seconds per call of the loaded SavedModel on random images (list of timings)."""
  serve = tf.saved_model.load(saved_model_dir).signatures["serving_default"]
  images = tf.constant(np.random.default_rng(0).integers(
      0, 256, (batch_size, *image_size, 3), dtype=np.uint8))
  for _ in range(warmup):
    serve(inputs=images)["detection_masks"].numpy()
  timings = []
  for _ in range(iterations):
    start = time.perf_counter()
    serve(inputs=images)["detection_masks"].numpy()
    timings.append(time.perf_counter() - start)
  return timings


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--gin_file", action="append", default=[])
  parser.add_argument("--gin_param", action="append", default=[])
  parser.add_argument("--model_dir", help="training folder (trained weights) instead of gin")
  parser.add_argument("--batch_sizes", type=int, nargs="+", default=[1, 8])
  parser.add_argument("--warmup", type=int, default=2)
  parser.add_argument("--iterations", type=int, default=5)
  args = parser.parse_args()
  if bool(args.gin_file) == bool(args.model_dir):
    parser.error("give --gin_file (random weights) or --model_dir (trained weights)")

  if args.model_dir:
    run = restore_run(args.model_dir)
    model, image_size, weights = run.model, run.image_size, f"trained ({run.checkpoint})"
  else:
    parse_gin(args.gin_file, args.gin_param)
    model = build_from_gin()
    image_size = tuple(int(s) for s in gin.query_parameter("%IMAGE_SIZE"))
    weights = "random"
  detections = model.detection_generator.get_config()["max_num_detections"]
  print(f"model: {args.model_dir or ' '.join(args.gin_file + args.gin_param)}; weights {weights}; "
        f"images {image_size[0]}x{image_size[1]}; max {detections} detections; TensorFlow "
        f"{tf.__version__}; {os.cpu_count()} CPUs; load average before "
        f"{os.getloadavg()[0]:.2f}")
  print(f"{'batch':>5} {'latency ms (median)':>20} {'ms/image':>9} {'images/s':>9}")
  with tempfile.TemporaryDirectory() as scratch:
    for batch_size in args.batch_sizes:
      module = DetectionExportModule(model, image_size=image_size, batch_size=batch_size)
      path = export_saved_model(module, os.path.join(scratch, f"batch{batch_size}"))
      latency = statistics.median(measure(path, batch_size, image_size, args.warmup,
                                          args.iterations))
      print(f"{batch_size:>5} {latency * 1000:>20.1f} {latency * 1000 / batch_size:>9.1f} "
            f"{batch_size / latency:>9.2f}", flush=True)
  print(f"load average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
  main()
