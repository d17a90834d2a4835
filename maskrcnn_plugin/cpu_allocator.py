"""TensorFlow's pooled (BFC) allocator for host memory, on unless the user chose otherwise.

TensorFlow's default CPU allocator takes every tensor from `malloc`, which
serves large blocks with fresh `mmap`ed pages and unmaps them on free: every
large intermediate tensor of every step faults its pages in again (a
10M-element float32 multiply caused 9.8k minor page faults and took 24 ms;
with the pooled allocator 0.6k and 14 ms). TF_CPU_ALLOCATOR_USE_BFC=1 makes
TensorFlow keep freed host memory in its best-fit-with-coalescing pool, as it
does for GPU memory: the shapes demo trains 1.11x faster, Model Garden's
model 1.12x (`benchmarks/cpu_allocator.py`; docs/performance.md).

TensorFlow reads the variable when it creates its CPU allocator, at the first
tensor of the process, so `configure_environment()` runs when
`maskrcnn_plugin` is imported and must run before any TensorFlow op. Set
TF_CPU_ALLOCATOR_USE_BFC=0 to keep TensorFlow's default. This module must not
import TensorFlow at import time.
"""

import os

POOLED_ALLOCATOR_VARIABLE = "TF_CPU_ALLOCATOR_USE_BFC"


def configure_environment() -> None:
  """Sets TF_CPU_ALLOCATOR_USE_BFC=1 unless it is already set."""
  os.environ.setdefault(POOLED_ALLOCATOR_VARIABLE, "1")


def pooled_allocator_in_use() -> bool:
  """Whether this process's TensorFlow CPU allocator is the pooled one.

  Creates the allocator if no tensor exists yet. Only the pooled allocator
  keeps the statistics that `tf.config.experimental.get_memory_info` reads.
  """
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  tf.constant(0.0)  # TensorFlow's CPU allocator exists from the first tensor on.
  try:
    tf.config.experimental.get_memory_info("CPU:0")
  except ValueError:  # "Allocator stats not available for device 'CPU:0'"
    return False
  return True
