"""Serving speed: start-up (imports, model load, first call) and images/s per batch size.

    python benchmarks/serving_latency.py --model_dir=runs/shapes_r18_cpu --onnx
    python benchmarks/serving_latency.py --gin_file=maskrcnn_shapes_r18_cpu
    python benchmarks/serving_latency.py --gin_file=maskrcnn_r50_fpn_coco \\
        --gin_param="IMAGE_SIZE = [640, 640]" --batch_sizes 1 4 --iterations=2

Builds the model from gin (random weights) or from a training folder
(`--model_dir`, trained weights) and exports it as `maskrcnn export` does: one
SavedModel with any batch size (image_tensor, binary full-image masks), and
with `--onnx` also the ONNX file of `maskrcnn export --format=onnx`. Each
runtime is timed as `maskrcnn predict` uses it (the `serving_padded` inputs:
images padded to one size and their sizes): the model load, the first call
(batch 1), then per batch size one untimed call and `--iterations` timed
calls on shapes-demo images of the model's size. Images/s is the batch size
over the median call time. The machine's load average is printed, since other
processes slow it.
"""

import time

START = time.perf_counter()

# pylint: disable=wrong-import-position
import argparse
import os
import statistics
import tempfile

import maskrcnn_plugin  # noqa: F401  (Keras and the CPU runtime set up before TensorFlow is imported)
import gin
import numpy as np
import tensorflow as tf

import maskrcnn_plugin.dataloaders  # noqa: F401  (registers what the gin files name)
import maskrcnn_plugin.training  # noqa: F401
from maskrcnn_plugin.data.shapes import draw_image
from maskrcnn_plugin.gin_config import parse_gin
from maskrcnn_plugin.modeling import build_from_gin
from maskrcnn_plugin.serving.detection import DetectionExportModule
from maskrcnn_plugin.serving.export import export_saved_model
from maskrcnn_plugin.serving.predictor import Predictor
from maskrcnn_plugin.serving.restore import restore_run

IMPORT_SECONDS = time.perf_counter() - START


def shapes_images(count: int, image_size, seed: int = 0):
  """(pixels, b'') pairs of shapes-demo images of the model's size."""
  rng = np.random.default_rng(seed)
  height, width = image_size
  return [(np.ascontiguousarray(draw_image(max(height, width), rng)[0][:height, :width]), b"")
          for _ in range(count)]


def time_runtime(name: str, load, image_size, batch_sizes, iterations: int) -> None:
  """Prints load, first-call and per-batch timings of the Predictor `load(batch)` returns."""
  images = shapes_images(max(batch_sizes), image_size)
  predictor = load(1)
  start = time.perf_counter()
  predictor.predict_batch(images[:1])
  first_call = time.perf_counter() - start
  print(f"{name}: model load {predictor.load_seconds:.2f} s, first call {first_call:.2f} s")
  print(f"{'':>4}{'batch':>6} {'ms per call (median)':>21} {'ms/image':>9} {'images/s':>9}")
  for batch_size in batch_sizes:
    predictor.batch_size = batch_size  # the models take any batch size
    predictor.predict_batch(images[:batch_size])  # untimed: a new batch shape
    timings = []
    for _ in range(iterations):
      start = time.perf_counter()
      predictor.predict_batch(images[:batch_size])
      timings.append(time.perf_counter() - start)
    latency = statistics.median(timings)
    print(f"{'':>4}{batch_size:>6} {latency * 1000:>21.1f} {latency * 1000 / batch_size:>9.1f} "
          f"{batch_size / latency:>9.2f}", flush=True)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--gin_file", action="append", default=[])
  parser.add_argument("--gin_param", action="append", default=[])
  parser.add_argument("--model_dir", help="training folder (trained weights) instead of gin")
  parser.add_argument("--batch_sizes", type=int, nargs="+", default=[1, 4, 8])
  parser.add_argument("--iterations", type=int, default=5)
  parser.add_argument("--onnx", action="store_true",
                      help="also ONNX Runtime (needs the onnx extra)")
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
  print(f"imports (TensorFlow, Model Garden, plugin): {IMPORT_SECONDS:.2f} s")
  with tempfile.TemporaryDirectory() as scratch:
    saved = os.path.join(scratch, "saved_model")
    start = time.perf_counter()
    export_saved_model(DetectionExportModule(model, image_size=image_size), saved)
    print(f"SavedModel export {time.perf_counter() - start:.1f} s")
    time_runtime("TensorFlow SavedModel", lambda b: Predictor.from_saved_model(saved, b),
                 image_size, args.batch_sizes, args.iterations)
    if args.onnx:
      # pylint: disable=import-outside-toplevel
      import onnxruntime
      from maskrcnn_plugin.serving.onnx_export import export_onnx
      onnx_file = os.path.join(scratch, "model.onnx")
      seconds = export_onnx(DetectionExportModule(model, image_size=image_size), onnx_file)
      print(f"ONNX export {seconds:.1f} s (ONNX Runtime {onnxruntime.__version__})")
      time_runtime("ONNX Runtime", lambda b: Predictor.from_onnx(onnx_file, b), image_size,
                   args.batch_sizes, args.iterations)
  print(f"load average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
  main()
