"""Alternating-round timing and error of single kernels, for the kernel benchmarks.

`roi_align.py` and `conv_kernel_gradient.py` time two or more forms of one
computation on the same inputs. The machines are shared and noisy, so the
forms run in rounds that alternate their order, and each figure is the median
of the rounds.
"""

import time
from typing import Callable, Dict, Sequence, Tuple

import numpy as np
import maskrcnn_plugin  # noqa: F401  (Keras and the CPU runtime set up before TensorFlow is imported)
import tensorflow as tf


def median_call_times(calls: Dict[str, Tuple[Callable, Sequence]], rounds: int,
                      calls_per_round: int) -> Dict[str, float]:
  """Median seconds per call of each form.

  Args:
    calls: {name: (function, arguments)}; each function is traced already.
    rounds: Rounds of one timing per form, in the order of `calls` in even
      rounds and reversed in odd ones.
    calls_per_round: Calls per timing; the timing ends when the last call's
      first output is read back.

  Returns:
    {name: median over the rounds of the timing's seconds per call}.
  """
  times = {name: [] for name in calls}
  for round_index in range(rounds):
    for name in (list(calls) if round_index % 2 == 0 else list(reversed(calls))):
      function, arguments = calls[name]
      start = time.perf_counter()
      for _ in range(calls_per_round):
        result = function(*arguments)
      tf.nest.flatten(result)[0].numpy()
      times[name].append((time.perf_counter() - start) / calls_per_round)
  return {name: float(np.median(values)) for name, values in times.items()}


def relative_difference(values, reference) -> float:
  """The largest difference from `reference` over the largest magnitude of `reference`."""
  values, reference = tf.cast(values, tf.float32), tf.cast(reference, tf.float32)
  return float(tf.reduce_max(tf.abs(values - reference)) / tf.reduce_max(tf.abs(reference)))
