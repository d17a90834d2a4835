"""`maskrcnn train`: train and/or evaluate a gin-configured Mask R-CNN with Orbit.

    maskrcnn train --gin_file=maskrcnn_shapes_r18_cpu --model_dir=runs/shapes
    maskrcnn train --gin_file=my.gin --gin_param='schedule.train_steps = 5000' \\
        --model_dir=runs/a --mode=train
    maskrcnn train --gin_file=my.gin --model_dir=runs/a --mode=eval
"""

import os

from maskrcnn_plugin.cli.main import add_gin_arguments
from maskrcnn_plugin.run_modes import MODES

MODE_HELP = ("train: train to schedule.train_steps; eval: score the newest checkpoint once; "
             "train_and_eval: train, evaluating every schedule.eval_interval steps and at the "
             "end; continuous_eval: score each new checkpoint until the final one")


def add_commands(subparsers) -> None:
  parser = subparsers.add_parser(
      "train", help="train and evaluate a model from gin files (Orbit)",
      description="Train and/or evaluate Mask R-CNN from gin files. Resumes from the newest "
                  "checkpoint in --model_dir; writes config.gin, operative_config.gin, "
                  "checkpoints, TensorBoard summaries (train/, eval/) and "
                  "eval/metrics_<step>.json there.")
  add_gin_arguments(parser)
  parser.add_argument("--model_dir", "--model-dir", required=True, metavar="DIR",
                      help="folder for checkpoints, configs, summaries and metrics")
  parser.add_argument("--mode", default="train_and_eval",
                      choices=MODES,
                      help=MODE_HELP + " (default: train_and_eval)")
  parser.set_defaults(run=run_train)


def run_train(args) -> int:
  # pylint: disable=import-outside-toplevel
  from absl import logging as absl_logging
  from maskrcnn_plugin import training
  from maskrcnn_plugin.gin_config import parse_gin  # registers the built-in components
  from maskrcnn_plugin.training.progress import summarize

  absl_logging.set_verbosity(absl_logging.INFO if args.verbose else absl_logging.WARNING)
  parse_gin(args.gin_file, args.gin_param)
  model_dir = os.path.abspath(os.path.expanduser(args.model_dir))
  print(f"maskrcnn train: mode {args.mode}, model_dir {model_dir}", flush=True)
  result = training.run(model_dir, args.mode, verbose=args.verbose)
  if result.metrics:
    print(f"Final COCO metrics at step {result.step}: {summarize(result.metrics)}")
  print(f"Run files in {model_dir}: checkpoints ({os.path.basename(result.checkpoint or '')}"
        f"{'' if result.checkpoint else 'none'}), config.gin, operative_config.gin, "
        f"eval/metrics_<step>.json; TensorBoard: tensorboard --logdir {model_dir}")
  return 0
