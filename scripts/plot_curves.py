"""Plots evaluation curves of training runs from their TensorBoard event logs.

    python scripts/plot_curves.py --run fine-tuned=runs/shapes2_finetune \
        --run scratch=runs/shapes2_scratch --metric mask/AP --metric box/AP \
        --reach 0.5 --output docs/fine_tuning_curves.png

Reads the scalars the evaluator writes to RUN/eval/events.out.tfevents.*,
prints a table of every metric per step and run, the first evaluated step at
which each run reaches `--reach` of the first metric, and draws one panel per
metric. Needs matplotlib (`pip install -e ".[plot]"`) for the PNG only.
"""

import argparse
import collections
import glob
import os
import sys
from typing import Dict, List, Tuple

import tensorflow as tf

Curve = List[Tuple[int, float]]


def read_scalars(folder: str) -> Dict[str, Curve]:
  """{tag: [(step, value)] sorted by step} of every scalar in folder's event files."""
  curves = collections.defaultdict(dict)
  for path in sorted(glob.glob(os.path.join(folder, "events.out.tfevents.*"))):
    for record in tf.data.TFRecordDataset(path):
      event = tf.compat.v1.Event.FromString(record.numpy())
      for value in event.summary.value:
        if value.HasField("tensor"):
          number = tf.make_ndarray(value.tensor)
          if number.size != 1:
            continue
          number = float(number.reshape(()))
        elif value.HasField("simple_value"):
          number = float(value.simple_value)
        else:
          continue
        curves[value.tag][int(event.step)] = number  # A later value for a step wins.
  return {tag: sorted(points.items()) for tag, points in curves.items()}


def first_step_reaching(curve: Curve, threshold: float):
  return next((step for step, value in curve if value >= threshold), None)


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
  parser.add_argument("--run", action="append", required=True, metavar="LABEL=MODEL_DIR",
                      help="a run to plot (repeat); its evaluations are in MODEL_DIR/eval")
  parser.add_argument("--metric", action="append", default=None,
                      help="evaluation tag to plot (repeat; default mask/AP)")
  parser.add_argument("--reach", type=float, default=None,
                      help="print the first step at which each run reaches this value of the "
                           "first metric")
  parser.add_argument("--output", default=None, help="PNG file to write")
  args = parser.parse_args(argv)
  metrics = args.metric or ["mask/AP"]

  runs = {}
  for spec in args.run:
    label, _, model_dir = spec.partition("=")
    if not model_dir:
      parser.error(f"--run {spec!r}: use LABEL=MODEL_DIR")
    scalars = read_scalars(os.path.join(model_dir, "eval"))
    missing = [m for m in metrics if m not in scalars]
    if missing:
      parser.error(f"{model_dir}/eval has no {', '.join(missing)} (evaluated tags: "
                   f"{', '.join(sorted(scalars)) or 'none'})")
    runs[label] = scalars

  for metric in metrics:
    print(f"{metric}:")
    steps = sorted({step for scalars in runs.values() for step, _ in scalars[metric]})
    print("  step  " + "  ".join(f"{label:>12}" for label in runs))
    for step in steps:
      values = [dict(scalars[metric]).get(step) for scalars in runs.values()]
      print(f"  {step:4d}  " + "  ".join(f"{v:12.3f}" if v is not None else " " * 12
                                         for v in values))
  if args.reach is not None:
    for label, scalars in runs.items():
      step = first_step_reaching(scalars[metrics[0]], args.reach)
      print(f"{label}: {metrics[0]} >= {args.reach} first at step "
            f"{step if step is not None else 'never (within the run)'}")

  if args.output:
    try:
      import matplotlib  # pylint: disable=import-outside-toplevel
      matplotlib.use("Agg")
      from matplotlib import pyplot  # pylint: disable=import-outside-toplevel
    except ImportError:
      print("matplotlib is not installed: pip install matplotlib", file=sys.stderr)
      return 1
    figure, axes = pyplot.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.6),
                                   squeeze=False)
    for axis, metric in zip(axes[0], metrics):
      for label, scalars in runs.items():
        steps, values = zip(*scalars[metric])
        axis.plot(steps, values, marker="o", label=label)
      if args.reach is not None and metric == metrics[0]:
        axis.axhline(args.reach, color="grey", linestyle="--", linewidth=0.8)
      axis.set_xlabel("training step")
      axis.set_ylabel(metric)
      axis.grid(alpha=0.3)
      axis.legend()
    figure.tight_layout()
    figure.savefig(args.output, dpi=110)
    print(f"wrote {args.output}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
