"""`run(model_dir, mode)`: builds everything from gin and drives an Orbit Controller.

    schedule.train_steps = 600
    schedule.steps_per_loop = 50          # steps per tf.function call and progress line
    schedule.summary_interval = 50        # a multiple of steps_per_loop
    schedule.checkpoint_interval = 200    # Orbit saves no checkpoint without it
    schedule.max_to_keep = 3
    schedule.eval_interval = None         # train_and_eval: evaluate only at the end

Modes: 'train', 'eval' (the newest checkpoint once), 'train_and_eval',
'continuous_eval' (each new checkpoint until the last step's one is scored).
A run resumes from the newest readable checkpoint in model_dir (run_dir.py);
without one it warm starts (`checkpoints.warm_start`, warm_start.py) and starts
at step 0. Training freezes the backbone parts chosen with `freezing.freeze`.
"""

import contextlib
import dataclasses
import io
import os
import sys
import tempfile
from typing import Annotated, Callable, Dict, Optional, Sequence, Union

import gin
import orbit
import tensorflow as tf

from maskrcnn_plugin import errors
from maskrcnn_plugin.data import class_names
from maskrcnn_plugin.dataloaders import files as files_lib, record_checks
from maskrcnn_plugin.errors import UserError
from maskrcnn_plugin.gin_config import bound_value
from maskrcnn_plugin.keras_setup import model_garden_keras
from maskrcnn_plugin.modeling.precision import policy_scope
from maskrcnn_plugin.params import OptionalPositiveInt, Positive, PositiveInt
from maskrcnn_plugin.run_modes import MODES
from maskrcnn_plugin.training import evaluator as evaluator_lib, freezing, progress, run_dir
from maskrcnn_plugin.training import runtime as runtime_lib, warm_start
from maskrcnn_plugin.training.losses import MaskRCNNLosses
from maskrcnn_plugin.training.optimization import build_optimizer
from maskrcnn_plugin.training.trainer import MaskRCNNTrainer
from registry import Range
from registry.constraints import constraint

DatasetFn = Callable[[Optional[tf.distribute.InputContext]], tf.data.Dataset]


@gin.configurable("schedule")
@constraint("schedule")
@dataclasses.dataclass(frozen=True)
class Schedule:
  """Loop settings bound in gin under `schedule` (see the module docstring).

  Attributes:
    train_steps: The global step training runs to.
    steps_per_loop: Steps per call of the compiled train loop; progress lines,
      TensorBoard scalars and checkpoints happen between loops.
    summary_interval: Steps between training summaries; a multiple of
      steps_per_loop (default: steps_per_loop).
    checkpoint_interval: Steps between checkpoints (rounded up to a loop end).
    max_to_keep: Checkpoints kept in model_dir.
    eval_interval: Steps between evaluations in train_and_eval (None: at the end).
    eval_steps: Eval batches per evaluation; -1 for the whole eval set.
    eval_timeout: continuous_eval: seconds to wait for a new checkpoint.
  """
  train_steps: PositiveInt = 1000
  steps_per_loop: PositiveInt = 100
  summary_interval: OptionalPositiveInt = None
  checkpoint_interval: PositiveInt = 1000
  max_to_keep: PositiveInt = 5
  eval_interval: OptionalPositiveInt = None
  eval_steps: Annotated[int, Range(min=-1)] = -1
  eval_timeout: Positive = 3600.0

  def __post_init__(self):
    if self.summary_interval is None:
      object.__setattr__(self, "summary_interval", self.steps_per_loop)
    if self.summary_interval % self.steps_per_loop:
      lower = max(self.summary_interval // self.steps_per_loop, 1) * self.steps_per_loop
      raise UserError(
          f"schedule.summary_interval ({self.summary_interval}) must be a positive multiple of "
          f"schedule.steps_per_loop ({self.steps_per_loop}): summaries are written between "
          f"loops. Use e.g. schedule.summary_interval = {lower}.")
    if self.eval_steps == 0 or self.eval_steps < -1:
      raise UserError(f"schedule.eval_steps must be positive or -1 (whole eval set), got "
                      f"{self.eval_steps}.")


@dataclasses.dataclass
class Inputs:
  """What a run trains on: model and dataset factories.

  Attributes:
    model_fn: Returns a built MaskRCNNModel (called in the strategy's scope).
    train_dataset_fn: `fn(input_context)` -> batched (images, labels) for training.
    eval_dataset_fn: `fn(input_context)` -> finite batched eval data.
    eval_files: The eval TFRecord files or glob (to generate COCO annotations
      from when `evaluation.coco_metric.annotation_file` is None).
  """
  model_fn: Callable[[], object]
  train_dataset_fn: DatasetFn
  eval_dataset_fn: DatasetFn
  eval_files: Union[str, Sequence[str], None]


def plugin_inputs() -> Inputs:
  """The model and input pipeline configured in gin (`maskrcnn.build_maskrcnn`, `data`)."""
  # pylint: disable=import-outside-toplevel
  from maskrcnn_plugin.dataloaders import input_pipeline
  from maskrcnn_plugin.modeling import build_maskrcnn

  def scoped(scope):
    def dataset_fn(input_context=None):
      with gin.config_scope(scope):
        return input_pipeline(input_context=input_context)
    return dataset_fn

  pattern = _input_value("eval", "file_pattern")
  eval_files = None
  if pattern:
    eval_files = files_lib.expand_patterns(
        pattern, "eval/data.input_pipeline.file_pattern",
        data_dir=_input_value("eval", "data_dir"))
  return Inputs(build_maskrcnn, scoped("train"), scoped("eval"), eval_files)


def _data_files() -> Sequence[str]:
  """The training then evaluation data files gin binds (for the class names beside them)."""
  found = []
  for scope in ("train", "eval"):
    pattern = _input_value(scope, "file_pattern")
    try:
      found += files_lib.expand_patterns(
          pattern, f"{scope}/data.input_pipeline.file_pattern",
          data_dir=_input_value(scope, "data_dir")) if pattern else []
    except UserError:
      continue  # The input pipeline reports a pattern that matches nothing, if it is used.
  return found


def _input_value(scope: str, parameter: str):
  """What gin binds to `scope/data.input_pipeline.parameter` (else unscoped), or None."""
  return bound_value(f"{scope}/data.input_pipeline.{parameter}", inherit_scopes=True)


@dataclasses.dataclass
class Result:
  """What a run did.

  Attributes:
    step: The global step reached.
    metrics: The last evaluation's metrics ('box/AP', 'mask/AP50', ...), or {}.
    model_dir: The run's folder.
    checkpoint: The newest checkpoint in model_dir, or None.
    model: The trained (or evaluated) model.
    strategy: The strategy it ran under.
  """
  step: int
  metrics: Dict[str, float]
  model_dir: str
  checkpoint: Optional[str]
  model: object = None
  strategy: Optional[tf.distribute.Strategy] = None


def _is_chief(strategy: tf.distribute.Strategy) -> bool:
  return strategy.extended.should_checkpoint


def run(model_dir: str, mode: str = "train_and_eval", inputs: Optional[Inputs] = None,
        printer: Optional[Callable[[str], None]] = None, verbose: bool = False) -> Result:
  """Trains and/or evaluates as `mode` says, from the parsed gin config.

  Args:
    model_dir: Checkpoints, config.gin, operative_config.gin, train/ and eval/
      summaries and eval/metrics_<step>.json go here.
    mode: One of MODES.
    inputs: Model and data factories; default `plugin_inputs()`.
    printer: Receives the progress lines (default: print to stdout).
    verbose: Also show what Orbit and pycocotools print (Orbit prints every
      loop's raw output dict; without `verbose` only the plugin's one-line
      progress is shown).

  Raises:
    UserError: for bad settings, a missing checkpoint in eval mode, or a
      non-finite loss (NonFiniteLossError).
  """
  if mode not in MODES:
    raise UserError(f"Unknown mode '{mode}'; choose one of {', '.join(MODES)}.")
  if printer is None:
    stdout = sys.stdout
    printer = lambda line: print(line, file=stdout, flush=True)
  runtime = runtime_lib.Runtime()
  runtime_lib.configure_devices(runtime)
  # The run's layers take runtime.policy; the caller's global policy is back afterwards.
  with (contextlib.nullcontext() if verbose else contextlib.redirect_stdout(io.StringIO()),
        policy_scope(runtime.policy)):
    return _run(model_dir, mode, inputs, printer, runtime)


def _run(model_dir: str, mode: str, inputs: Optional[Inputs],
         printer: Callable[[str], None], runtime: runtime_lib.Runtime) -> Result:
  """`run` with stdout redirected and the precision policy set."""
  config_str = gin.config_str()
  if runtime.mixed_precision == "auto":
    printer(f"runtime.mixed_precision = 'auto': {runtime.policy} "
            f"({runtime_lib.auto_precision()[1]}).")
  strategy = runtime_lib.make_strategy(runtime)
  schedule = Schedule()
  latest = tf.train.latest_checkpoint(model_dir)
  if mode == "eval" and latest is None:
    raise UserError(f"--mode=eval needs a checkpoint in {model_dir}, and there is none. "
                    "Train first, or point --model_dir at a training run.")
  inputs = inputs or plugin_inputs()
  chief = _is_chief(strategy)
  try:
    tf.io.gfile.makedirs(model_dir)
    note = chief and run_dir.write_config(model_dir, config_str, resumed=latest is not None)
  except (tf.errors.OpError, OSError) as error:
    raise UserError(f"--model_dir {model_dir} cannot be written ({errors.reason(error, 200)}). Choose a "
                    "folder you can write to, or fix its permissions.") from error
  if note:
    printer(note)
  training = mode in ("train", "train_and_eval")

  with strategy.scope():
    model = inputs.model_fn()
    switched = (model.use_static_shapes() if isinstance(strategy, tf.distribute.TPUStrategy)
                else [])
    if switched:
      printer("TPU: XLA compiles every step and needs static shapes, so Model Garden's padded "
              f"paths replace {', '.join(switched)}.")
    global_step = orbit.utils.create_global_step()
    items = {"model": model, "global_step": global_step}
    optimizer = None
    if training:
      optimizer = build_optimizer()
      if runtime.uses_loss_scaling:
        optimizer = model_garden_keras().mixed_precision.LossScaleOptimizer(optimizer)
      items["optimizer"] = optimizer
  checkpoint = tf.train.Checkpoint(**items)
  if latest and training:  # Skips damaged newest checkpoints, with a warning.
    latest = run_dir.newest_readable(model_dir, printer, repoint=chief)
  if latest and mode != "continuous_eval":
    run_dir.restore(checkpoint, latest, partial=not training)
    printer(f"{'Resuming from' if training else 'Evaluating'} {latest} "
            f"(step {int(global_step.numpy())}).")
  elif training:
    warm = warm_start.warm_start(model)
    if warm:
      printer(warm.summary())
      if chief:
        printer(f"  Every variable read or skipped: {warm.write(model_dir)}")
  if training:
    frozen = freezing.freeze(model).summary()
    if frozen:
      printer(frozen)

  trainer = None
  if training:
    trainer = MaskRCNNTrainer(model=model, optimizer=optimizer, losses=MaskRCNNLosses(model),
                              dataset_fn=inputs.train_dataset_fn, strategy=strategy,
                              global_step=global_step, jit_compile=runtime.jit_compile)
  evaluator = None
  if mode != "train":
    metric = evaluator_lib.coco_metric(
        model_dir, inputs.eval_files,
        include_mask=model.get_config().get("mask_head") is not None)
    evaluator = evaluator_lib.MaskRCNNEvaluator(
        model=model, dataset_fn=inputs.eval_dataset_fn, strategy=strategy, metric=metric,
        global_step=global_step, metrics_dir=os.path.join(model_dir, "eval"),
        class_names_file=os.path.join(model_dir, run_dir.CLASS_NAMES_FILE))
  if chief:
    run_dir.write_operative_config(model_dir)
    class_names.write_for_run(model_dir, _data_files())

  # Non-chief workers of a multi-worker run must take part in saving (variables
  # may sync on read) but must not overwrite the chief's files.
  checkpoint_dir = model_dir if chief else tempfile.mkdtemp(prefix="maskrcnn_worker_")
  manager = run_dir.CheckpointManager(
      checkpoint, directory=checkpoint_dir,
      max_to_keep=schedule.max_to_keep if chief else 1, step_counter=global_step,
      checkpoint_interval=schedule.checkpoint_interval)
  controller = orbit.Controller(
      global_step=global_step, trainer=trainer, evaluator=evaluator, strategy=strategy,
      steps_per_loop=schedule.steps_per_loop if training else None,
      checkpoint_manager=manager if training else None,
      summary_interval=schedule.summary_interval if training else None,
      summary_dir=os.path.join(model_dir, "train") if chief else None,
      eval_summary_dir=os.path.join(model_dir, "eval") if chief else None,
      train_actions=[progress.TrainProgress(global_step, schedule.train_steps, printer)],
      eval_actions=[progress.EvalProgress(global_step, printer)])
  metrics = _drive(controller, mode, schedule, model_dir, checkpoint, global_step)
  return Result(step=int(global_step.numpy()), metrics={k: float(v) for k, v in metrics.items()},
                model_dir=model_dir, checkpoint=tf.train.latest_checkpoint(model_dir),
                model=model, strategy=strategy)


def _out_of_data(step: int) -> UserError:
  """The training input (repeated forever) ended: it holds no usable batch."""
  skipped = record_checks.skipped_record_counts()
  counts = (f" Bad records skipped: {', '.join(f'{n} {k}' for k, n in sorted(skipped.items()))}."
            if skipped else "")
  return UserError(
      f"The training input ran out of data at step {step} although it repeats: its files "
      f"hold fewer usable records than one batch.{counts} Check them with "
      "`maskrcnn data check 'PATTERN'`, or lower the batch size.")


def _drive(controller: orbit.Controller, mode: str, schedule: Schedule, model_dir: str,
           checkpoint: tf.train.Checkpoint, global_step: tf.Variable) -> Dict[str, float]:
  """Runs `mode` on `controller`; returns the last evaluation's metrics."""
  try:
    return _drive_mode(controller, mode, schedule, model_dir, checkpoint, global_step)
  except tf.errors.OutOfRangeError as error:  # The training input repeats: it has no batch.
    if mode not in ("train", "train_and_eval"):
      raise
    raise _out_of_data(int(global_step.numpy())) from error


def _drive_mode(controller: orbit.Controller, mode: str, schedule: Schedule, model_dir: str,
                checkpoint: tf.train.Checkpoint, global_step: tf.Variable) -> Dict[str, float]:
  """`_drive` without the conversion of errors."""
  metrics: Dict[str, float] = {}
  if mode == "train":
    controller.train(steps=schedule.train_steps)
  elif mode == "train_and_eval" and int(global_step.numpy()) >= schedule.train_steps:
    metrics = controller.evaluate(steps=schedule.eval_steps) or {}  # Already trained.
  elif mode == "train_and_eval":
    metrics = controller.train_and_evaluate(
        train_steps=schedule.train_steps, eval_steps=schedule.eval_steps,
        eval_interval=schedule.eval_interval) or {}
  elif mode == "eval":
    metrics = controller.evaluate(steps=schedule.eval_steps) or {}
  else:
    # Orbit's evaluate_continuously waits `timeout` after the last checkpoint
    # even when it is the final one; this loop stops as soon as it is scored.
    for path in tf.train.checkpoints_iterator(model_dir, timeout=schedule.eval_timeout):
      run_dir.restore(checkpoint, path, partial=True)
      metrics = controller.evaluate(steps=schedule.eval_steps) or {}
      if int(global_step.numpy()) >= schedule.train_steps:
        break
  return metrics
