"""Optimizers and learning-rate schedules, selected by name in gin.

    optimization.build_optimizer.optimizer = @optimizers.sgd   # a factory, not called
    optimizers.sgd.momentum = 0.9
    optimization.build_optimizer.learning_rate = @lr_schedules.linear_warmup()
    lr_schedules.linear_warmup.warmup_steps = 500
    lr_schedules.linear_warmup.schedule = @lr_schedules.cosine()
    lr_schedules.cosine.initial_learning_rate = 0.08
    lr_schedules.cosine.decay_steps = %TRAIN_STEPS
    optimization.build_optimizer.global_clipnorm = 10.0       # optional clipping

An optimizer factory takes `learning_rate` (a schedule or a float) and
`global_clipnorm` and returns an optimizer of Model Garden's Keras. The
classes are the ones Model Garden's optimizer factory uses
(official/modeling/optimization); the schedules are its offset-aware
schedules and its `LinearWarmup`.
"""

from typing import Annotated, Callable, Optional, Sequence, Union

import gin

from maskrcnn_plugin.errors import UserError
from maskrcnn_plugin.keras_setup import model_garden_keras
from maskrcnn_plugin.params import (Epsilon, NonNegative, NonNegativeInt, OptionalPositive,
                                    Positive, Rate)
from maskrcnn_plugin.registries import LR_SCHEDULES, OPTIMIZERS
from official.modeling.optimization import lr_schedule
from registry import Each, Range
from registry.constraints import constraint

# A float or a Keras LearningRateSchedule (a callable of the step).
LearningRate = Union[float, Callable[[int], float]]


@OPTIMIZERS.register("sgd")
def sgd(learning_rate: LearningRate, *, momentum: Rate = 0.9, nesterov: bool = False,
        global_clipnorm: OptionalPositive = None):
  """Stochastic gradient descent with momentum (Model Garden's 'sgd')."""
  return model_garden_keras().optimizers.SGD(
      learning_rate=learning_rate, momentum=momentum, nesterov=nesterov,
      global_clipnorm=global_clipnorm)


@OPTIMIZERS.register("adamw")
def adamw(learning_rate: LearningRate, *, weight_decay: NonNegative = 1e-4, beta_1: Rate = 0.9,
          beta_2: Rate = 0.999, epsilon: Epsilon = 1e-7,
          exclude_from_weight_decay: Sequence[str] = ("bias", "beta", "gamma"),
          global_clipnorm: OptionalPositive = None):
  """Adam with decoupled weight decay (Model Garden's 'adamw_experimental').

  Variables whose name contains one of `exclude_from_weight_decay` (biases
  and normalization parameters by default) are not decayed.
  """
  optimizer = model_garden_keras().optimizers.AdamW(
      learning_rate=learning_rate, weight_decay=weight_decay, beta_1=beta_1, beta_2=beta_2,
      epsilon=epsilon, global_clipnorm=global_clipnorm)
  optimizer.exclude_from_weight_decay(var_names=list(exclude_from_weight_decay))
  return optimizer


@LR_SCHEDULES.register("constant")
def constant(learning_rate: Positive = 0.01) -> float:
  """A fixed learning rate."""
  return float(learning_rate)


@LR_SCHEDULES.register("stepwise")
def stepwise(boundaries: Annotated[Sequence[int], Each(Range(min=1))] = gin.REQUIRED,
             values: Annotated[Sequence[float], Each(Range(min=0))] = gin.REQUIRED,
             offset: NonNegativeInt = 0):
  """Piecewise constant: `values[i]` until step `boundaries[i]`.

  `values` has one more entry than `boundaries`.
  """
  if len(values) != len(boundaries) + 1:
    raise UserError(
        f"lr_schedules.stepwise needs one more value than boundaries, got "
        f"{len(boundaries)} boundaries {list(boundaries)} and {len(values)} values "
        f"{list(values)}.")
  return lr_schedule.PiecewiseConstantDecayWithOffset(
      boundaries=list(boundaries), values=list(values), offset=offset)


@LR_SCHEDULES.register("cosine")
def cosine(initial_learning_rate: Positive = gin.REQUIRED,
           decay_steps: Annotated[int, Range(min=1)] = gin.REQUIRED,
           alpha: Annotated[float, Range(0, 1)] = 0.0, offset: NonNegativeInt = 0):
  """Cosine decay from `initial_learning_rate` to `alpha` times it over `decay_steps`."""
  return lr_schedule.CosineDecayWithOffset(
      initial_learning_rate=initial_learning_rate, decay_steps=decay_steps, alpha=alpha,
      offset=offset)


@LR_SCHEDULES.register("linear_warmup")
def linear_warmup(schedule: LearningRate = gin.REQUIRED, warmup_steps: NonNegativeInt = 500,
                  warmup_learning_rate: NonNegative = 0.0):
  """Linear ramp from `warmup_learning_rate` to `schedule` over `warmup_steps`."""
  if warmup_steps <= 0:
    return schedule
  return lr_schedule.LinearWarmup(after_warmup_lr_sched=schedule, warmup_steps=warmup_steps,
                                  warmup_learning_rate=warmup_learning_rate)


@gin.configurable(module="optimization")
@constraint("optimization.build_optimizer")
def build_optimizer(optimizer: Callable[..., object] = gin.REQUIRED,
                    learning_rate: LearningRate = gin.REQUIRED,
                    global_clipnorm: OptionalPositive = None):
  """The optimizer `optimizer(learning_rate, global_clipnorm=...)`.

  Args:
    optimizer: A factory from OPTIMIZERS, e.g. `@optimizers.sgd` (no call).
    learning_rate: A schedule from LR_SCHEDULES or a float.
    global_clipnorm: Clip gradients to this global norm (None: no clipping).
  """
  if not callable(optimizer):
    raise UserError(f"optimization.build_optimizer.optimizer must name a factory such as "
                    f"@optimizers.sgd (without '()'), got {optimizer!r}.")
  return optimizer(learning_rate, global_clipnorm=global_clipnorm)


def learning_rate_at(optimizer, step) -> float:
  """The learning rate `optimizer` uses at `step` (a number)."""
  inner = getattr(optimizer, "inner_optimizer", optimizer)
  rate = inner._learning_rate  # pylint: disable=protected-access
  if callable(rate):
    return float(rate(step))
  return float(rate.numpy() if hasattr(rate, "numpy") else rate)
