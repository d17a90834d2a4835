"""The plugin's Mask R-CNN against torchvision's maskrcnn_resnet50_fpn, same work, same run.

    python benchmarks/compare_torchvision.py                      # float32
    python benchmarks/compare_torchvision.py --reduced_precision  # also each side's bfloat16
    python benchmarks/compare_torchvision.py --quick              # fewer windows

torch is no dependency of the plugin: torchvision's side runs in a virtual
environment of its own, `--torch_python` (default .venv-torch/bin/python):

    python3 -m venv .venv-torch && .venv-torch/bin/pip install torch torchvision numpy pillow

Needs the shapes dataset (--data_dir, default data/shapes; `maskrcnn data
make-shapes --output data/shapes`), no checkpoint. The architecture is the
`r50_2fc` setting of twins.py with 4 classes (3 shapes + background): R50-FPN,
256 px images, batch 2, a box head of 2 fcs of 1024 (torchvision's TwoMLPHead)
and the 4-conv mask head. torchvision's model is `maskrcnn_resnet50_fpn(weights=None,
weights_backbone=None)` (no download; trainable batch norm everywhere, as the
plugin's) with the plugin's counts, read from the parsed gin config
(`torchvision_config`): image size, anchors (32-512 px on P2-P6, ratios 0.5,
1, 2), RPN matching and sampling, proposals before/after NMS for training and
inference, 512 sampled ROIs per image at 0.25 foreground, the box score and
NMS thresholds and 100 detections per image.

Both sides read the same shapes records: the plugin through its own training
pipeline; torchvision gets the first training images decoded by the plugin's
tf.Example decoder and resized to 256 px with their full-image masks, and
exactly the images of the plugin's eval pipeline for inference. Both train
with SGD (lr 0.01, momentum 0.9, weight decay 4e-5 = the plugin's L2, the
gradient clipped to a global norm of 10).

Each side runs in a process of its own (`side_server.py`), one per precision;
after each side's warm-up window the sides' windows alternate (the
`_interleave` of compare_model_garden.py, with its R50 window plan), so load
from other processes hits all alike; figures are medians. Per side:
training images/s, inference images/s in eval mode on random weights, with
the detections each side kept per image (its mask head runs on those), and
the peak RSS of the side's process. Inference ends, on both sides, with a
28x28 mask per detection: torchvision's transform would also paste them into
full-image masks (a Python loop over the detections), which the plugin does
in export and `predict`, not in the model, so that step is left out. torch runs 2 threads
(`torch.set_num_threads`), TensorFlow its default (one intra-op thread per
core, as compare_model_garden.py). With --reduced_precision: the plugin with
`mixed_bfloat16` (the model built under the Keras policy, as
compare_model_garden.py --candidates) and torchvision under
`torch.autocast('cpu', dtype=torch.bfloat16)`.
"""

import argparse
import glob
import inspect
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from typing import Dict, List, Sequence, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# pylint: disable=wrong-import-position,protected-access
import compare_model_garden  # noqa: E402
import side_server  # noqa: E402
import twins  # noqa: E402

SETTING = twins.SETTINGS["r50_2fc"]
TRAIN_IMAGES = 32  # Training images handed to torchvision, cycled.
# The plugin's bindings on top of the setting's: 4 classes, the optimizer both
# sides use, and an ordered eval pipeline. From random weights both models
# diverge within a few steps at this rate unless the gradient is clipped (the
# shapes demo's global norm of 10); the work of a step does not depend on it.
LEARNING_RATE = 0.01
MOMENTUM = 0.9
CLIPNORM = twins.SHAPES_CLIPNORM
PLUGIN_BINDINGS = (
    "NUM_CLASSES = 4",
    f"optimization.build_optimizer.learning_rate = {LEARNING_RATE}",
    f"optimization.build_optimizer.global_clipnorm = {CLIPNORM}",
    f"optimizers.sgd.momentum = {MOMENTUM}",
    # The same eval images in the same order in every process.
    "eval/data.input_pipeline.deterministic = True",
    # A shuffle buffer of as many images as torchvision's side holds (peak RSS).
    f"data.input_pipeline.shuffle_buffer_size = {TRAIN_IMAGES}",
)
TORCH_THREADS = 2
# Side name: (precision, the plugin's Keras policy or torch's autocast dtype).
SIDES = {
    "plugin": ("float32", "float32"),
    "torchvision": ("float32", "float32"),
    "plugin bf16": ("bfloat16", "mixed_bfloat16"),
    "torchvision bf16": ("bfloat16", "bfloat16"),
}
VENV_COMMAND = ("python3 -m venv .venv-torch && "
                ".venv-torch/bin/pip install torch torchvision numpy pillow")


def _log(line: str) -> None:
  print(line, flush=True)


def gin_value(selector: str):
  """The parsed gin config's value of 'module.name.parameter' or '%MACRO'.

  A parameter that no file binds has its factory's default (the registered
  function's signature).
  """
  import gin  # pylint: disable=import-outside-toplevel
  from maskrcnn_plugin import registries  # pylint: disable=import-outside-toplevel
  try:
    return gin.query_parameter(selector)
  except ValueError:
    if selector.startswith("%"):
      raise
  kind, name, parameter = selector.split(".")
  registry = next(value for value in vars(registries).values()
                  if isinstance(value, registries.Registry) and value.kind == kind)
  return inspect.signature(registry.get(name)).parameters[parameter].default


def _require(selector: str, expected, what: str) -> None:
  value = gin_value(selector)
  if value != expected:
    raise ValueError(f"{selector} = {value!r}, but torchvision's maskrcnn_resnet50_fpn has "
                     f"{what} ({expected!r}): the two sides would not do the same work. "
                     f"Remove that binding.")


def torchvision_config() -> Dict:
  """The model part of torchvision_side.py's config, from the parsed plugin gin config.

  Raises ValueError naming the binding where the plugin's architecture has
  no counterpart in torchvision's maskrcnn_resnet50_fpn (its box head,
  mask head, ROI sizes and FPN levels are fixed).
  """
  # pylint: disable=import-outside-toplevel
  from official.vision.ops import preprocess_ops
  _require("detection_heads.detection_head.num_convs", 0, "no convs in its box head")
  _require("detection_heads.detection_head.num_fcs", 2, "2 fcs in its box head (TwoMLPHead)")
  _require("detection_heads.detection_head.fc_dims", 1024, "fcs of 1024 units")
  _require("mask_heads.mask_head.num_convs", 4, "4 mask convs")
  _require("mask_heads.mask_head.num_filters", 256, "mask convs of 256 filters")
  _require("roi_aligners.multilevel_roi_aligner.crop_size", 7, "7x7 box ROIs")
  _require("roi_aligners.multilevel_mask_roi_aligner.crop_size", 14, "14x14 mask ROIs")
  _require("maskrcnn.AnchorSettings.min_level", 2, "FPN levels P2-P6")
  _require("maskrcnn.AnchorSettings.max_level", 6, "FPN levels P2-P6")
  _require("maskrcnn.AnchorSettings.num_scales", 1, "one anchor scale per level")
  _require("backbones.resnet.model_id", 50, "a ResNet-50")
  height, width = gin_value("%IMAGE_SIZE")
  if height != width:
    raise ValueError(f"IMAGE_SIZE = {[height, width]}: the comparison needs square images.")
  generator = "roi_generators.multilevel_roi_generator."
  sampler = "roi_samplers.roi_sampler."
  detections = "detection_generators.detection_generator."
  parser = "parsers.maskrcnn."
  if gin_value(generator + "test_nms_iou_threshold") != gin_value(generator + "nms_iou_threshold"):
    raise ValueError(f"{generator}test_nms_iou_threshold differs from nms_iou_threshold: "
                     "torchvision has one RPN NMS threshold.")
  anchor_size = gin_value("maskrcnn.AnchorSettings.anchor_size")
  return {
      "model": {
          "num_classes": gin_value("%NUM_CLASSES"),
          "min_size": height, "max_size": height,
          "image_mean": list(preprocess_ops.MEAN_NORM),
          "image_std": list(preprocess_ops.STDDEV_NORM),
          # Model Garden keeps pre_nms_top_k per level, as torchvision's pre_nms_top_n.
          "rpn_pre_nms_top_n_train": gin_value(generator + "pre_nms_top_k"),
          "rpn_post_nms_top_n_train": gin_value(generator + "num_proposals"),
          "rpn_pre_nms_top_n_test": gin_value(generator + "test_pre_nms_top_k"),
          "rpn_post_nms_top_n_test": gin_value(generator + "test_num_proposals"),
          "rpn_nms_thresh": gin_value(generator + "nms_iou_threshold"),
          "rpn_fg_iou_thresh": gin_value(parser + "rpn_match_threshold"),
          "rpn_bg_iou_thresh": gin_value(parser + "rpn_unmatched_threshold"),
          "rpn_batch_size_per_image": gin_value(parser + "rpn_batch_size_per_im"),
          "rpn_positive_fraction": gin_value(parser + "rpn_fg_fraction"),
          "box_batch_size_per_image": gin_value(sampler + "num_sampled_rois"),
          "box_positive_fraction": gin_value(sampler + "foreground_fraction"),
          "box_fg_iou_thresh": gin_value(sampler + "foreground_iou_threshold"),
          "box_bg_iou_thresh": gin_value(sampler + "background_iou_high_threshold"),
          "box_score_thresh": gin_value(detections + "pre_nms_score_threshold"),
          "box_nms_thresh": gin_value(detections + "nms_iou_threshold"),
          "box_detections_per_img": gin_value(detections + "max_num_detections"),
      },
      # Model Garden's anchors: anchor_size x stride on each level.
      "anchor_sizes": [anchor_size * 2 ** level for level in range(2, 7)],
      "aspect_ratios": list(gin_value("maskrcnn.AnchorSettings.aspect_ratios")),
  }


def parse_plugin_gin(data_dir: str) -> None:
  """Parses the plugin's config of the compared setting."""
  from maskrcnn_plugin.gin_config import parse_gin  # pylint: disable=import-outside-toplevel
  parse_gin(*twins.plugin_gin(SETTING, data_dir, extra=PLUGIN_BINDINGS))


def _training_images(data_dir: str, count: int) -> Dict:
  """The first `count` training records, decoded and resized to the image size, for torchvision."""
  # pylint: disable=import-outside-toplevel
  import numpy as np
  import tensorflow as tf
  from maskrcnn_plugin.registries import DATA_DECODERS
  size = SETTING.image_size
  decoder = DATA_DECODERS.get("tf_example")(include_mask=True)
  files = sorted(glob.glob(os.path.join(data_dir, "train-*.tfrecord")))
  images, counts, boxes, labels, masks = [], [], [], [], []
  for record in tf.data.TFRecordDataset(files).take(count):
    decoded = decoder.decode(record)
    images.append(tf.cast(tf.image.resize(decoded["image"], [size, size]) + 0.5, tf.uint8))
    ymin, xmin, ymax, xmax = np.split(decoded["groundtruth_boxes"].numpy() * size, 4, axis=1)
    xyxy = np.concatenate([xmin, ymin, xmax, ymax], axis=1)
    # torchvision rejects boxes without width or height.
    keep = (xyxy[:, 2] - xyxy[:, 0] >= 1) & (xyxy[:, 3] - xyxy[:, 1] >= 1)
    instance_masks = tf.image.resize(decoded["groundtruth_instance_masks"][..., None],
                                     [size, size])[..., 0] > 0.5
    counts.append(int(keep.sum()))
    boxes.append(xyxy[keep].astype(np.float32))
    labels.append(decoded["groundtruth_classes"].numpy()[keep].astype(np.int64))
    masks.append(instance_masks.numpy()[keep].astype(np.uint8))
  return {"train_images": np.stack(images), "train_counts": np.array(counts),
          "train_boxes": np.concatenate(boxes), "train_labels": np.concatenate(labels),
          "train_masks": np.concatenate(masks)}


def _denormalized(batches) -> "np.ndarray":
  """The eval pipeline's images back in [0, 1] (torchvision normalizes with the same mean/std)."""
  # pylint: disable=import-outside-toplevel
  import numpy as np
  from official.vision.ops import preprocess_ops
  images = np.concatenate([images.numpy() for images, _ in batches])
  return (images * np.array(preprocess_ops.STDDEV_NORM, np.float32)
          + np.array(preprocess_ops.MEAN_NORM, np.float32))


def _eval_batches(plan: Dict[str, int]):
  """The eval pipeline's first batches, as many as the inference windows take."""
  return compare_model_garden._eval_batches(plan["infer_batches"] * plan["infer_windows"])


def prepare(args, plan: Dict[str, int], folder: str) -> Tuple[str, Dict]:
  """Parses the plugin's gin config, writes torchvision's data; (data path, model config)."""
  import numpy as np  # pylint: disable=import-outside-toplevel
  parse_plugin_gin(args.data_dir)
  config = torchvision_config()
  path = os.path.join(folder, "torchvision_data.npz")
  np.savez(path, val_images=_denormalized(_eval_batches(plan)),
           **_training_images(args.data_dir, TRAIN_IMAGES))
  return path, config


def plugin_worker(args) -> None:
  """One plugin side (its precision from SIDES) serving side_server's commands."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  answers = side_server.protocol_stdout()
  plan = compare_model_garden.window_plan(SETTING, args.quick)
  parse_plugin_gin(args.data_dir)
  strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
  side = compare_model_garden._plugin_side(args.side, SETTING, strategy,
                                           policy=SIDES[args.side][1])
  batches = _eval_batches(plan)
  answers.write(json.dumps({"tensorflow": tf.__version__,
                            "parameters": int(sum(w.shape.num_elements()
                                                  for w in side.model.trainable_weights)),
                            "val_checksum": float(_denormalized(batches).sum())}) + "\n")
  cursor = {"next": 0}

  def infer(count: int) -> Tuple[float, List[int]]:
    detections = []
    start = time.perf_counter()
    for _ in range(count):
      images, labels = batches[cursor["next"]]
      cursor["next"] = (cursor["next"] + 1) % len(batches)
      detections += side.infer(images, labels)["num_detections"].numpy().tolist()
    return count * SETTING.batch_size / (time.perf_counter() - start), detections

  side.train_window(plan["train_steps"])  # Warm-up: tracing, pipeline start.
  infer(1)
  answers.write(json.dumps({"ready": True}) + "\n")
  side_server.serve(answers, side.train_window, infer)


def _check_torch_python(parser: argparse.ArgumentParser, torch_python: str) -> None:
  import subprocess  # pylint: disable=import-outside-toplevel
  if not os.path.exists(torch_python):
    parser.error(f"--torch_python={torch_python} does not exist. Create torchvision's "
                 f"environment with\n  {VENV_COMMAND}\nor point --torch_python at a Python "
                 "that has torch and torchvision.")
  probe = subprocess.run([torch_python, "-c", "import torch, torchvision"],
                         capture_output=True, text=True, check=False)
  if probe.returncode:
    last = (probe.stderr.strip().splitlines() or ["(no output)"])[-1]
    parser.error(f"--torch_python={torch_python} cannot import torch and torchvision ({last}). "
                 f"Install them with\n  {VENV_COMMAND}")


def _start_sides(args, names: Sequence[str], data: str, config: Dict, plan: Dict[str, int],
                 folder: str) -> Tuple[Dict[str, side_server.SideProcess], Dict[str, Dict]]:
  """Starts every side's process (they build at the same time); (ready sides, their facts)."""
  here = os.path.dirname(os.path.abspath(__file__))
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  sides = {}
  for name in names:
    log_path = None if args.verbose else os.path.join(folder, name.replace(" ", "_") + ".log")
    if name.startswith("plugin"):
      command = [sys.executable, os.path.abspath(__file__), "--_worker", f"--_side={name}",
                 f"--data_dir={args.data_dir}"] + (["--quick"] if args.quick else [])
    else:
      side_config = os.path.join(folder, name.replace(" ", "_") + ".json")
      with open(side_config, "w", encoding="utf-8") as file:
        json.dump({**config, "precision": SIDES[name][1], "threads": TORCH_THREADS,
                   "data": data, "batch_size": SETTING.batch_size, "paste_masks": False,
                   "warmup_steps": plan["train_steps"], "seed": 0,
                   "optimizer": {"lr": LEARNING_RATE, "momentum": MOMENTUM,
                                 "weight_decay": gin_value("maskrcnn.build_maskrcnn."
                                                           "l2_weight_decay")},
                   "clip_norm": CLIPNORM}, file)
      command = [args.torch_python, os.path.join(here, "torchvision_side.py"), side_config]
    sides[name] = side_server.SideProcess(name, command, log_path, env=env)
  facts = {name: side.read() for name, side in sides.items()}
  for name, side in sides.items():
    side.read()  # {"ready": true}
    _log(f"[{name}] ready: {facts[name]} ({compare_model_garden._load()})")
  return sides, facts


def _cpu() -> Dict:
  """The CPU model and whether it has native bfloat16 (the flags `maskrcnn doctor` reads)."""
  from maskrcnn_plugin import doctor  # pylint: disable=import-outside-toplevel
  model = platform.processor()
  try:
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
      model = next(line.split(":", 1)[1].strip() for line in cpuinfo
                   if line.startswith("model name"))
  except (OSError, StopIteration):
    pass
  flags = doctor.cpu_flags()
  return {"model": model, "cores": os.cpu_count(),
          "bfloat16_flags": [flag for flag in doctor.BFLOAT16_CPU_FLAGS if flag in flags]}


def run(args, parser: argparse.ArgumentParser) -> Dict:
  """The whole comparison; returns its figures."""
  plan = compare_model_garden.window_plan(SETTING, args.quick)
  names = [name for name in SIDES if args.reduced_precision or SIDES[name][0] == "float32"]
  # Kept when a side fails: its log is there.
  folder = tempfile.mkdtemp(prefix="compare_torchvision_")
  try:
    data, config = prepare(args, plan, folder)
  except ValueError as error:
    parser.error(str(error))
  _log(f"Machine: {_cpu()}; {compare_model_garden._load()}")
  _log(f"torchvision's settings: {json.dumps(config)}")
  sides, facts = _start_sides(args, names, data, config, plan, folder)
  import numpy as np  # pylint: disable=import-outside-toplevel
  exported = float(np.load(data)["val_images"].sum())
  for name in names:
    if "val_checksum" in facts[name] and abs(facts[name]["val_checksum"] - exported) > 1e-3 * abs(
        exported):
      raise SystemExit(f"The {name} side's eval images differ from torchvision's "
                       f"(sums {facts[name]['val_checksum']} and {exported}).")
  steps = plan["train_steps"]
  _log(f"training: {plan['train_windows']} windows of {steps} steps per side")
  train = compare_model_garden._interleave(
      names, lambda name: sides[name].call("train", steps=steps)["images_per_s"],
      plan["train_windows"], _log)
  detections: Dict[str, List[int]] = {name: [] for name in names}

  def infer_window(name: str) -> float:
    answer = sides[name].call("infer", batches=plan["infer_batches"])
    detections[name] += answer["detections"]
    return answer["images_per_s"]

  _log(f"inference: {plan['infer_windows']} windows of {plan['infer_batches']} batches per side")
  infer = compare_model_garden._interleave(names, infer_window, plan["infer_windows"], _log)
  memory = {name: sides[name].call("peak_rss")["peak_rss_mib"] for name in names}
  for side in sides.values():
    side.close()
  shutil.rmtree(folder)
  return {"setting": SETTING.name, "cpu": _cpu(), "sides": facts, "torchvision_config": config,
          "plan": plan, "train": train, "infer": infer, "peak_rss_mib": memory,
          "detections_per_image": {name: sum(values) / len(values)
                                   for name, values in detections.items()}}


def table(result: Dict) -> str:
  """Markdown table: per precision, plugin and torchvision figures and plugin / torchvision."""
  figure = compare_model_garden._figure
  median = compare_model_garden._median
  lines = ["| precision | figure | plugin | torchvision | plugin / torchvision |",
           "|---|---|---:|---:|---:|"]
  for ours, theirs in (("plugin", "torchvision"), ("plugin bf16", "torchvision bf16")):
    if ours not in result["train"]:
      continue
    precision = SIDES[ours][0]

    def add(name: str, a: float, b: float, digits: str = "") -> None:
      text = (lambda v: f"{v:{digits}}") if digits else figure
      lines.append(f"| {precision} | {name} | {text(a)} | {text(b)} | {a / b:.2f} |")

    add("training images/s", median(result["train"][ours]), median(result["train"][theirs]))
    add("inference images/s (random weights)", median(result["infer"][ours]),
        median(result["infer"][theirs]))
    add("detections kept per image (inference)", result["detections_per_image"][ours],
        result["detections_per_image"][theirs], ".1f")
    add("peak RSS MiB", result["peak_rss_mib"][ours], result["peak_rss_mib"][theirs], ".0f")
  return "\n".join(lines)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--torch_python", default=".venv-torch/bin/python",
                      help="Python of the environment with torch and torchvision "
                           f"(create it with: {VENV_COMMAND}).")
  parser.add_argument("--data_dir", default="data/shapes",
                      help="The shapes dataset (`maskrcnn data make-shapes`).")
  parser.add_argument("--reduced_precision", action="store_true",
                      help="Also time the plugin with mixed_bfloat16 and torchvision under "
                           "CPU autocast bfloat16.")
  parser.add_argument("--quick", action="store_true", help="Fewer timed windows.")
  parser.add_argument("--json", help="Also write the raw figures to this file.")
  parser.add_argument("--table", metavar="JSON",
                      help="Print the table of an earlier run's --json file and exit.")
  parser.add_argument("--verbose", action="store_true", help="Show the sides' full logs.")
  parser.add_argument("--_worker", action="store_true", help=argparse.SUPPRESS)
  parser.add_argument("--_side", dest="side", choices=list(SIDES), help=argparse.SUPPRESS)
  args = parser.parse_args()

  if args._worker:
    import maskrcnn_plugin  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
    plugin_worker(args)
    return
  if args.table:
    with open(args.table, encoding="utf-8") as file:
      print(table(json.load(file)))
    return
  if (not glob.glob(os.path.join(args.data_dir, "train-*.tfrecord"))
      or not glob.glob(os.path.join(args.data_dir, "val-*.tfrecord"))):
    parser.error(f"no shapes records in {args.data_dir}: create them with\n"
                 f"  maskrcnn data make-shapes --output {args.data_dir}\n"
                 "or point --data_dir at them.")
  _check_torch_python(parser, args.torch_python)

  started = time.perf_counter()
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  import maskrcnn_plugin  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
  result = run(args, parser)
  if args.json:
    with open(args.json, "w", encoding="utf-8") as file:
      json.dump(result, file, indent=2)
  print()
  print(table(result))
  print(f"\nTotal {time.perf_counter() - started:.0f} s; {compare_model_garden._load()}")


if __name__ == "__main__":
  main()
