"""Mask AP of the plugin and of Model Garden after the same training budget on shapes.

    python benchmarks/accuracy_parity.py --steps=300 --output=runs/parity
    python benchmarks/accuracy_parity.py --steps=1000 --repeats=3 \
        --sides=plugin,plugin_bf16,model_garden --output=runs/parity1000

Trains the shapes demo architecture (twins.SETTINGS['shapes_2fc']: ResNet-18,
FPN(64), 2-fc box head, 128 px, batch 8) from scratch twice for --steps steps
with the demo's schedule (SGD momentum 0.9, clip norm 10, 50 warmup steps,
cosine decay from 0.06 over --steps): once with `maskrcnn train` and the
shipped gin config, once with Model Garden's `train_lib.run_experiment` on its
`maskrcnn_resnetfpn_coco` experiment and task with the same overrides. Each
side is evaluated by its own evaluator (both Model Garden's COCOEvaluator)
on the 200 validation images against the same instances_val.json, and each
runs in its own process, one after the other. Sides: `plugin` (its defaults,
float32: the mask head trains on foreground ROIs), `plugin_padded` (Model
Garden's padded mask training), `plugin_bf16` (mixed_bfloat16, box math in
float32) and `model_garden`. Prints each side's mean, minimum and maximum mask
and box AP over --repeats runs and each plugin side's difference of means
from Model Garden's.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import twins  # noqa: E402  pylint: disable=wrong-import-position

SETTING = twins.SETTINGS["shapes_2fc"]
# The plugin's sides: gin bindings on top of the shipped shapes config.
PLUGIN_SIDES = {
    "plugin": (),
    "plugin_padded": ("maskrcnn.build_maskrcnn.foreground_mask_training = False",),
    "plugin_bf16": ("runtime.mixed_precision = 'mixed_bfloat16'",),
}
SIDES = (*PLUGIN_SIDES, "model_garden")


def train_model_garden(data_dir: str, model_dir: str, steps: int) -> dict:
  """Model Garden's own train_and_eval; returns its final eval logs (floats)."""
  # pylint: disable=import-outside-toplevel
  import numpy as np
  import tensorflow as tf
  from official.core import task_factory, train_lib
  import official.vision.tasks.maskrcnn  # noqa: F401  (registers the task)

  config = twins.model_garden_config(SETTING, data_dir, train_steps=steps)
  config.trainer.steps_per_loop = 50
  config.trainer.summary_interval = 50
  config.trainer.checkpoint_interval = steps
  config.trainer.validation_steps = -1
  strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
  with strategy.scope():
    task = task_factory.get_task(config.task, logging_dir=model_dir)
  # Mode 'train' with run_post_eval: one evaluation at the end, whose logs are returned.
  _, logs = train_lib.run_experiment(distribution_strategy=strategy, task=task, mode="train",
                                     params=config, model_dir=model_dir, run_post_eval=True)
  return {key: float(np.asarray(value)) for key, value in logs.items()
          if np.asarray(value).size == 1}


def train_plugin(data_dir: str, model_dir: str, steps: int, gin_params=()) -> dict:
  """`maskrcnn train` on the shipped shapes config (plus gin_params); returns its final metrics."""
  # pylint: disable=import-outside-toplevel
  from maskrcnn_plugin import training
  from maskrcnn_plugin.gin_config import parse_gin

  annotation_file = os.path.join(data_dir, "instances_val.json")
  files, params = twins.plugin_gin(SETTING, data_dir, extra=[
      f"TRAIN_STEPS = {steps}", "schedule.checkpoint_interval = %TRAIN_STEPS",
      f"evaluation.coco_metric.annotation_file = '{annotation_file}'", *gin_params])
  parse_gin(files, params)
  metrics = training.run(model_dir, "train_and_eval").metrics
  # The plugin names Model Garden's 'mask_AP' and 'AP' 'mask/AP' and 'box/AP'.
  return {"mask_AP": metrics["mask/AP"], "AP": metrics["box/AP"], **metrics}


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--steps", type=int, default=300)
  parser.add_argument("--data_dir", default="data/shapes")
  parser.add_argument("--output", default="runs/parity",
                      help="Parent of the two runs' model_dirs (plugin/, model_garden/).")
  parser.add_argument("--gin_param", action="append", default=[],
                      help="Extra binding for every plugin side's run.")
  parser.add_argument("--repeats", type=int, default=1,
                      help="Runs per side, alternating sides (output/run<i>/ when > 1): single "
                      "300-step runs spread over about 0.17 mask AP, so compare means.")
  parser.add_argument("--sides", default="plugin,model_garden",
                      help=f"Comma-separated sides to train, among {', '.join(SIDES)}.")
  parser.add_argument("--_side", dest="side", choices=SIDES, help=argparse.SUPPRESS)
  args = parser.parse_args()
  model_dir = os.path.abspath(os.path.join(args.output, args.side or ""))
  if args.side:
    import maskrcnn_plugin  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
    if args.side in PLUGIN_SIDES:
      metrics = train_plugin(args.data_dir, model_dir, args.steps,
                             [*PLUGIN_SIDES[args.side], *args.gin_param])
    else:
      metrics = train_model_garden(args.data_dir, model_dir, args.steps)
    with open(os.path.join(model_dir, "parity_metrics.json"), "w", encoding="utf-8") as file:
      json.dump(metrics, file, indent=2)
    return

  if not os.path.exists(os.path.join(args.data_dir, "instances_val.json")):
    raise SystemExit(f"No shapes dataset in {args.data_dir}: run `maskrcnn data make-shapes "
                     f"--output {args.data_dir}` (or `make demo`), or pass --data_dir.")
  results = {}  # side -> metrics of each run
  sides = args.sides.split(",")
  unknown = [side for side in sides if side not in SIDES]
  if unknown:
    parser.error(f"unknown side {', '.join(unknown)}; choose among {', '.join(SIDES)}.")
  for repeat in range(args.repeats):
    root = os.path.join(args.output, f"run{repeat}") if args.repeats > 1 else args.output
    for side in sides:
      run_dir = os.path.abspath(os.path.join(root, side))
      if os.path.exists(run_dir):
        raise SystemExit(f"{run_dir} exists: choose a new --output.")
      started = time.perf_counter()
      subprocess.run([sys.executable, os.path.abspath(__file__), f"--_side={side}",
                      f"--steps={args.steps}", f"--data_dir={args.data_dir}",
                      f"--output={root}",
                      *[f"--gin_param={param}" for param in args.gin_param]], check=True,
                     env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
      with open(os.path.join(run_dir, "parity_metrics.json"), encoding="utf-8") as file:
        results.setdefault(side, []).append(json.load(file))
      print(f"{side} run {repeat}: mask AP {results[side][-1]['mask_AP']:.4f}, box AP "
            f"{results[side][-1]['AP']:.4f} ({time.perf_counter() - started:.0f} s)", flush=True)
  print(f"\nAfter {args.steps} steps (batch {SETTING.batch_size}, {SETTING.image_size} px), "
        f"{args.repeats} run(s) per side:")
  means = {}
  for side, runs in results.items():
    mask, box = [run["mask_AP"] for run in runs], [run["AP"] for run in runs]
    means[side] = statistics.mean(mask)
    print(f"  {side:13s} mask AP mean {means[side]:.4f} (min {min(mask):.4f}, max "
          f"{max(mask):.4f}), box AP mean {statistics.mean(box):.4f} (min {min(box):.4f}, "
          f"max {max(box):.4f})")
  for side in results:
    for reference in ("model_garden", "plugin"):
      if side != reference and reference in means:
        print(f"  mask AP difference of the means, {side} - {reference}: "
              f"{means[side] - means[reference]:+.4f}")

if __name__ == "__main__":
  main()
