"""Progress lines a person can follow, printed after every loop and evaluation.

    step   200/600 | loss 1.0312 (rpn_score 0.061 rpn_box 0.032 frcnn_cls 0.214 frcnn_box
    0.301 mask 0.391) | lr 0.0800 | 1.21 steps/s 9.7 img/s | ETA 5m31s
"""

from typing import Callable, Mapping

SHORT_TERMS = (("rpn_score_loss", "rpn_score"), ("rpn_box_loss", "rpn_box"),
               ("frcnn_cls_loss", "frcnn_cls"), ("frcnn_box_loss", "frcnn_box"),
               ("mask_loss", "mask"))


def format_duration(seconds: float) -> str:
  seconds = int(round(seconds))
  hours, rest = divmod(seconds, 3600)
  minutes, seconds = divmod(rest, 60)
  if hours:
    return f"{hours}h{minutes:02d}m"
  return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


class TrainProgress:
  """An Orbit train action printing one line per loop of training.

  Args:
    global_step: The step variable.
    train_steps: The step training runs to (for the ETA).
    printer: Where lines go.
  """

  def __init__(self, global_step, train_steps: int, printer: Callable[[str], None]):
    self.global_step = global_step
    self.train_steps = train_steps
    self.printer = printer

  def __call__(self, logs: Mapping[str, float]) -> None:
    step = int(self.global_step.numpy())
    rate = logs.get("steps_per_second", 0.0)
    eta = format_duration((self.train_steps - step) / rate) if rate > 0 else "?"
    terms = " ".join(f"{short} {logs[name]:.3f}" for name, short in SHORT_TERMS if name in logs)
    width = len(str(self.train_steps))
    self.printer(f"step {step:>{width}}/{self.train_steps} | loss {logs['total_loss']:.4f} "
                 f"({terms}) | lr {logs['learning_rate']:.4g} | {rate:.2f} steps/s "
                 f"{logs.get('images_per_second', 0.0):.1f} img/s | ETA {eta}")


class EvalProgress:
  """An Orbit eval action printing the headline COCO metrics."""

  def __init__(self, global_step, printer: Callable[[str], None]):
    self.global_step = global_step
    self.printer = printer

  def __call__(self, metrics: Mapping[str, float]) -> None:
    self.printer(f"eval at step {int(self.global_step.numpy())} | " + summarize(metrics))


def summarize(metrics: Mapping[str, float]) -> str:
  """'box AP 0.812 AP50 0.95 AP75 0.90 | mask AP 0.790 ...' from evaluator metrics."""
  parts = []
  for kind in ("box", "mask"):
    if f"{kind}/AP" in metrics:
      parts.append(f"{kind} AP {metrics[f'{kind}/AP']:.3f} AP50 {metrics[f'{kind}/AP50']:.3f} "
                   f"AP75 {metrics[f'{kind}/AP75']:.3f}")
  return " | ".join(parts)
