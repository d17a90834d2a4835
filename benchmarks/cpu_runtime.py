"""TensorFlow's CPU runtime as the plugin sets it against TensorFlow's defaults, for both sides.

    python benchmarks/cpu_runtime.py [--setting=shapes_2fc] [--rounds=2]
        [--configurations=plugin,no_onednn,tensorflow] [--json=FILE]

Importing maskrcnn_plugin sets two CPU runtime variables unless the
environment sets them (maskrcnn_plugin/cpu_runtime.py): the pooled allocator
(TF_CPU_ALLOCATOR_USE_BFC=1) and, on x86-64, oneDNN's kernels
(TF_ENABLE_ONEDNN_OPTS=1; on Linux TensorFlow turns them on by itself only on
CPUs with AVX512_VNNI, AVX_VNNI, AVX512_BF16 or AMX). So `maskrcnn train` and
every process of compare_model_garden.py run on both, Model Garden's side
included; Model Garden's own trainer sets neither. The configurations:

  plugin      both as the plugin sets them on x86-64
  no_onednn   the pooled allocator, oneDNN off
  tensorflow  TensorFlow's defaults: its default allocator, and oneDNN as
              TensorFlow chooses on this CPU (probed in a process of its own)

There is no "oneDNN on, default allocator": with oneDNN on, TensorFlow's CPU
allocator is oneDNN's, which pools too, whatever TF_CPU_ALLOCATOR_USE_BFC says
(each worker checks the allocator and oneDNN it got).

TensorFlow reads both variables once per process, so each configuration runs
in worker processes of its own, in an order that alternates round by round.
Each worker builds both sides of the setting as compare_model_garden.py does,
trains from the trained weights (the demo's, or the cached R50 ones) in
alternating windows, then runs inference on the validation images in
alternating windows, and reports the median window per side and its peak RSS
(both models in one process). Each figure below is the median over the rounds.

It prints each configuration's figures, each side's rate under the plugin's
configuration over its rate under the others, the plugin against Model Garden
under the same configuration, and the plugin under the plugin's configuration
against Model Garden under TensorFlow's defaults: what `maskrcnn train` gets
against Model Garden's trainer as it ships.
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

# Before anything imports TensorFlow (this module's workers run as `maskrcnn` does).
from maskrcnn_plugin import cpu_runtime as runtime  # pylint: disable=wrong-import-order
import compare_model_garden as cmg
import twins

# pylint: disable=protected-access  (compare_model_garden's helpers build and time the sides)

ALLOCATOR_VARIABLE = runtime.POOLED_ALLOCATOR_VARIABLE
ONEDNN_VARIABLE = runtime.ONEDNN_VARIABLE
# Configuration -> (TF_CPU_ALLOCATOR_USE_BFC, TF_ENABLE_ONEDNN_OPTS); None: TensorFlow's own
# oneDNN choice on this CPU.
CONFIGURATIONS = {"plugin": ("1", "1"), "no_onednn": ("1", "0"), "tensorflow": ("0", None)}
SIDES = ("plugin", "Model Garden")


def tensorflows_onednn_default() -> str:
  """'1' if TensorFlow turns oneDNN on by itself on this CPU, else '0'."""
  env = {key: value for key, value in os.environ.items() if key != ONEDNN_VARIABLE}
  # TensorFlow first: the plugin's import then no longer changes TensorFlow's choice.
  code = ("import tensorflow\nfrom maskrcnn_plugin import cpu_runtime\n"
          "print(int(cpu_runtime.onednn_in_use()))")
  completed = subprocess.run([sys.executable, "-c", code], env=dict(env, TF_CPP_MIN_LOG_LEVEL="3"),
                             capture_output=True, text=True, check=True)
  return completed.stdout.split()[-1]


def worker(args) -> Dict:
  """Training and inference images/s of both sides under this process's configuration."""
  # pylint: disable=import-outside-toplevel
  import resource
  import tensorflow as tf
  setting = twins.SETTINGS[args.setting]
  state = {"pooled": runtime.pooled_allocator_in_use(), "onednn": runtime.onednn_in_use()}
  onednn = os.environ[ONEDNN_VARIABLE] == "1"
  asked = {"pooled": onednn or os.environ[ALLOCATOR_VARIABLE] == "1", "onednn": onednn}
  if state != asked:
    raise SystemExit(f"configuration {args.configuration} asked for {asked}, but TensorFlow "
                     f"runs with {state}")
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
  return {"configuration": args.configuration, **state,
          "train": {name: cmg._median(rates) for name, rates in train.items()},
          "infer": {name: cmg._median(rates) for name, rates in infer.items()},
          "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _run_worker(configuration: str, variables: Dict[str, str], args) -> Dict:
  with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
    output = handle.name
  command = [sys.executable, os.path.abspath(__file__), f"--_worker={configuration}",
             f"--_output={output}", f"--setting={args.setting}", f"--windows={args.windows}",
             f"--data_dir={args.data_dir}", f"--checkpoint={args.checkpoint}",
             f"--r50_dir={args.r50_dir}"]
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", **variables)
  completed = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True, check=False)
  if completed.returncode:
    sys.stderr.write(completed.stderr)
    raise SystemExit(f"The {configuration} worker failed (exit {completed.returncode}).")
  for line in completed.stderr.splitlines():
    if line.startswith("  round"):
      print(f"  [{configuration}] {line.strip()}", flush=True)
  with open(output, encoding="utf-8") as file:
    result = json.load(file)
  os.unlink(output)
  return result


def summary(results: List[Dict]) -> Dict[str, float]:
  """Median over the workers of each (figure, configuration): {"train plugin tensorflow": ...}."""
  figures = {}
  for configuration in dict.fromkeys(result["configuration"] for result in results):
    mine = [result for result in results if result["configuration"] == configuration]
    for mode in ("train", "infer"):
      for side in SIDES:
        figures[f"{mode} {side} {configuration}"] = cmg._median(
            [result[mode][side] for result in mine])
    figures[f"peak_rss_mib {configuration}"] = cmg._median(
        [result["peak_rss_mib"] for result in mine])
  return figures


def table(figures: Dict[str, float], variables: Dict[str, Dict[str, str]]) -> str:
  """Each configuration's images/s; the plugin's configuration over each; plugin over Model
  Garden. `variables`: configuration -> the variables its workers ran with."""
  names = [name for name in variables if f"peak_rss_mib {name}" in figures]
  lines = [f"| configuration | {ALLOCATOR_VARIABLE} | {ONEDNN_VARIABLE} | training, plugin | "
           "training, Model Garden | inference, plugin | inference, Model Garden | "
           "peak RSS MiB (both models) |", "|---|---|---|---:|---:|---:|---:|---:|"]
  for name in names:
    rates = " | ".join(f"{figures[f'{mode} {side} {name}']:.3g}"
                       for mode in ("train", "infer") for side in SIDES)
    lines.append(f"| {name} | {variables[name][ALLOCATOR_VARIABLE]} | "
                 f"{variables[name][ONEDNN_VARIABLE]} | {rates} | "
                 f"{figures[f'peak_rss_mib {name}']:.0f} |")
  if "plugin" in names:
    lines += ["", "| plugin configuration / this one | training, plugin | training, Model Garden "
              "| inference, plugin | inference, Model Garden |", "|---|---:|---:|---:|---:|"]
    for name in names:
      if name != "plugin":
        ratios = " | ".join(f"{figures[f'{mode} {side} plugin'] / figures[f'{mode} {side} {name}']:.2f}"
                            for mode in ("train", "infer") for side in SIDES)
        lines.append(f"| over {name} | {ratios} |")
  lines += ["", "| plugin / Model Garden | training | inference |", "|---|---:|---:|"]
  pairs = [(f"both under {name}", name, name) for name in names]
  if "plugin" in names and "tensorflow" in names:
    pairs.append(("plugin under plugin, Model Garden under tensorflow (as shipped)", "plugin",
                  "tensorflow"))
  for label, plugin, model_garden in pairs:
    ratios = [figures[f"{mode} plugin {plugin}"] / figures[f"{mode} Model Garden {model_garden}"]
              for mode in ("train", "infer")]
    lines.append(f"| {label} | {ratios[0]:.2f} | {ratios[1]:.2f} |")
  return "\n".join(lines)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--setting", default="shapes_2fc", choices=list(twins.SETTINGS))
  parser.add_argument("--configurations", default=",".join(CONFIGURATIONS),
                      help=f"Comma-separated, of {', '.join(CONFIGURATIONS)}.")
  parser.add_argument("--rounds", type=int, default=2, help="Workers per configuration.")
  parser.add_argument("--windows", type=int, default=3, help="Timed windows per side and worker.")
  parser.add_argument("--data_dir", default="data/shapes")
  parser.add_argument("--checkpoint", default="runs/shapes_r18_cpu")
  parser.add_argument("--r50_dir", default="runs/bench_r50")
  parser.add_argument("--json", help="Also write the workers' figures to this file.")
  parser.add_argument("--_worker", dest="configuration", choices=list(CONFIGURATIONS),
                      help=argparse.SUPPRESS)
  parser.add_argument("--_output", dest="output", help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.configuration:
    with open(args.output, "w", encoding="utf-8") as file:
      json.dump(worker(args), file)
    return
  chosen = args.configurations.split(",")
  unknown = [name for name in chosen if name not in CONFIGURATIONS]
  if unknown:
    parser.error(f"unknown configuration(s) {', '.join(unknown)}: choose from "
                 f"{', '.join(CONFIGURATIONS)}")
  checkpoint_dir = cmg._checkpoint_dir(twins.SETTINGS[args.setting], args)
  if not checkpoint_dir or not glob.glob(os.path.join(checkpoint_dir, "ckpt-*.index")):
    raise SystemExit(f"No trained weights of {args.setting} in {checkpoint_dir}: run `make demo` "
                     "(shapes_2fc), or compare_model_garden.py with this setting once, which "
                     "trains and caches the R50 weights.")
  onednn_default = tensorflows_onednn_default()
  print(f"TensorFlow's own oneDNN choice on this CPU: {'on' if onednn_default == '1' else 'off'}")
  variables = {name: {ALLOCATOR_VARIABLE: CONFIGURATIONS[name][0],
                      ONEDNN_VARIABLE: CONFIGURATIONS[name][1] or onednn_default}
               for name in chosen}
  started = time.perf_counter()
  results = []
  for index in range(args.rounds):
    for name in chosen if index % 2 == 0 else list(reversed(chosen)):
      results.append(_run_worker(name, variables[name], args))
      print(f"round {index + 1}/{args.rounds}, {name}: {results[-1]} ({cmg._load()})",
            flush=True)
      if args.json:
        with open(args.json, "w", encoding="utf-8") as file:
          json.dump(results, file, indent=2)
  print()
  print(table(summary(results), variables))
  print(f"\nTotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
  main()
