"""TensorFlow's pooled CPU allocator against its default one, for the plugin and Model Garden.

    python benchmarks/cpu_allocator.py [--setting=shapes_2fc] [--rounds=2] [--json=FILE]

Importing maskrcnn_plugin sets TF_CPU_ALLOCATOR_USE_BFC=1 (maskrcnn_plugin/
cpu_allocator.py), so `maskrcnn train` and every process of
compare_model_garden.py run on the pooled allocator, Model Garden's side
included. Model Garden's own trainer does not set it. TensorFlow picks its
allocator once per process, so this script times each allocator in worker
processes of its own (TF_CPU_ALLOCATOR_USE_BFC=1 or 0), alternating the order
round by round. Each worker builds both sides of the setting as
compare_model_garden.py does, trains from the trained weights (the demo's, or
the cached R50 ones) in alternating windows, then runs inference on the
validation images in alternating windows, and reports the median window per
side and its peak RSS (both models in one process). Each figure below is the
median over the rounds.

It prints each side's pooled/default ratio, the plugin against Model Garden on
the same allocator, and the plugin on the pooled allocator against Model
Garden on the default one: what `maskrcnn train` gets against Model Garden's
trainer as it ships.
"""

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Dict, List

import compare_model_garden as cmg
import twins

# pylint: disable=protected-access  (compare_model_garden's helpers build and time the sides)

ALLOCATORS = {"pooled": "1", "default": "0"}
SIDES = ("plugin", "Model Garden")


def worker(args) -> Dict:
  """Training and inference images/s of both sides on this process's allocator."""
  # pylint: disable=import-outside-toplevel
  import resource
  from maskrcnn_plugin import cpu_allocator
  import tensorflow as tf
  setting = twins.SETTINGS[args.setting]
  pooled = cpu_allocator.pooled_allocator_in_use()
  if pooled != (args.allocator == "pooled"):
    raise SystemExit(f"asked for the {args.allocator} allocator, but TensorFlow's pooled "
                     f"allocator is {'on' if pooled else 'off'}")
  log = lambda line: print(line, file=sys.stderr, flush=True)
  plan = cmg.window_plan(setting, quick=False)
  strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
  cmg._parse_plugin_gin(setting, args.data_dir)
  sides = {"plugin": cmg._plugin_side("plugin", setting, strategy),
           "Model Garden": cmg._model_garden_side(setting, args.data_dir, strategy)}
  twins.assert_same_architecture(sides["plugin"].model, sides["Model Garden"].model)

  def load_trained_weights():
    cmg._restore(sides["plugin"].model, cmg._checkpoint_dir(setting, args), log)
    sides["Model Garden"].model.set_weights(sides["plugin"].model.get_weights())

  steps = plan["train_steps"]
  for side in sides.values():  # Warm-up: tracing, pipeline start.
    side.train_window(steps)
  load_trained_weights()
  train = cmg._interleave(list(SIDES), lambda name: sides[name].train_window(steps),
                          args.windows, log)
  load_trained_weights()  # Training moved the weights.
  batches = cmg._eval_batches(None)
  for side in sides.values():  # Tracing.
    side.infer(*batches[0])
  infer = cmg._interleave(list(SIDES), cmg.inference_windows(sides, batches,
                                                             plan["infer_batches"]),
                          args.windows, log)
  return {"allocator": args.allocator, "pooled": pooled,
          "train": {name: cmg._median(rates) for name, rates in train.items()},
          "infer": {name: cmg._median(rates) for name, rates in infer.items()},
          "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _run_worker(allocator: str, args) -> Dict:
  with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
    output = handle.name
  command = [sys.executable, os.path.abspath(__file__), f"--_worker={allocator}",
             f"--_output={output}", f"--setting={args.setting}", f"--windows={args.windows}",
             f"--data_dir={args.data_dir}", f"--checkpoint={args.checkpoint}",
             f"--r50_dir={args.r50_dir}"]
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TF_CPU_ALLOCATOR_USE_BFC=ALLOCATORS[allocator])
  completed = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True, check=False)
  if completed.returncode:
    sys.stderr.write(completed.stderr)
    raise SystemExit(f"The {allocator}-allocator worker failed (exit {completed.returncode}).")
  for line in completed.stderr.splitlines():
    if line.startswith("  round"):
      print(f"  [{allocator}] {line.strip()}", flush=True)
  with open(output, encoding="utf-8") as file:
    result = json.load(file)
  os.unlink(output)
  return result


def summary(results: List[Dict]) -> Dict[str, float]:
  """Median over the workers of each (figure, allocator): {"train plugin pooled": ...}."""
  figures = {}
  for allocator in ALLOCATORS:
    mine = [result for result in results if result["allocator"] == allocator]
    for mode in ("train", "infer"):
      for side in SIDES:
        figures[f"{mode} {side} {allocator}"] = cmg._median(
            [result[mode][side] for result in mine])
    figures[f"peak_rss_mib {allocator}"] = cmg._median(
        [result["peak_rss_mib"] for result in mine])
  return figures


def table(figures: Dict[str, float]) -> str:
  """The allocators side by side, then the plugin against Model Garden."""
  lines = ["| figure | default allocator | pooled allocator | pooled / default |",
           "|---|---:|---:|---:|"]
  for mode, label in (("train", "training images/s"), ("infer", "inference images/s")):
    for side in SIDES:
      default, pooled = figures[f"{mode} {side} default"], figures[f"{mode} {side} pooled"]
      lines.append(f"| {label}, {side} | {default:.3g} | {pooled:.3g} | {pooled / default:.2f} |")
  default, pooled = figures["peak_rss_mib default"], figures["peak_rss_mib pooled"]
  lines.append(f"| peak RSS MiB (both models, one process) | {default:.0f} | {pooled:.0f} | "
               f"{pooled / default:.2f} |")
  lines += ["", "| plugin / Model Garden | training | inference |", "|---|---:|---:|"]
  for label, plugin, model_garden in (("both on the default allocator", "default", "default"),
                                      ("both on the pooled allocator", "pooled", "pooled"),
                                      ("plugin pooled, Model Garden default (as shipped)",
                                       "pooled", "default")):
    ratios = [figures[f"{mode} plugin {plugin}"] / figures[f"{mode} Model Garden {model_garden}"]
              for mode in ("train", "infer")]
    lines.append(f"| {label} | {ratios[0]:.2f} | {ratios[1]:.2f} |")
  return "\n".join(lines)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--setting", default="shapes_2fc", choices=list(twins.SETTINGS))
  parser.add_argument("--rounds", type=int, default=2, help="Workers per allocator.")
  parser.add_argument("--windows", type=int, default=3, help="Timed windows per side and worker.")
  parser.add_argument("--data_dir", default="data/shapes")
  parser.add_argument("--checkpoint", default="runs/shapes_r18_cpu")
  parser.add_argument("--r50_dir", default="runs/bench_r50")
  parser.add_argument("--json", help="Also write the workers' figures to this file.")
  parser.add_argument("--_worker", dest="allocator", choices=list(ALLOCATORS),
                      help=argparse.SUPPRESS)
  parser.add_argument("--_output", dest="output", help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.allocator:
    import maskrcnn_plugin  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
    with open(args.output, "w", encoding="utf-8") as file:
      json.dump(worker(args), file)
    return
  checkpoint_dir = cmg._checkpoint_dir(twins.SETTINGS[args.setting], args)
  if not checkpoint_dir or not glob.glob(os.path.join(checkpoint_dir, "ckpt-*.index")):
    raise SystemExit(f"No trained weights of {args.setting} in {checkpoint_dir}: run `make demo` "
                     "(shapes_2fc), or compare_model_garden.py with this setting once, which "
                     "trains and caches the R50 weights.")
  started = time.perf_counter()
  results = []
  for index in range(args.rounds):
    order = list(ALLOCATORS) if index % 2 == 0 else list(reversed(ALLOCATORS))
    for allocator in order:
      results.append(_run_worker(allocator, args))
      print(f"round {index + 1}/{args.rounds}, {allocator}: {results[-1]} ({cmg._load()})",
            flush=True)
      if args.json:
        with open(args.json, "w", encoding="utf-8") as file:
          json.dump(results, file, indent=2)
  print()
  print(table(summary(results)))
  print(f"\nTotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
  main()
