"""TensorFlow's CPU runtime as the plugin sets it at import: the pooled allocator and oneDNN.

Both are TensorFlow environment variables that take effect only before
TensorFlow runs, so `configure_environment()` runs when `maskrcnn_plugin` is
imported. Each is set only if the environment does not set it already: a
user's own value is kept. This module must not import TensorFlow at import
time.

- TF_CPU_ALLOCATOR_USE_BFC=1, the pooled allocator. TensorFlow's default CPU
  allocator takes every tensor from `malloc`, which serves large blocks with
  fresh `mmap`ed pages and unmaps them on free: every large intermediate
  tensor of every step faults its pages in again (a 10M-element float32
  multiply caused 9.8k minor page faults and took 24 ms; with the pooled
  allocator 0.6k and 14 ms). The pooled allocator keeps freed host memory in
  its best-fit-with-coalescing pool, as TensorFlow does for GPU memory.
  TensorFlow reads the variable when it creates its CPU allocator, at the
  first tensor of the process.
- TF_ENABLE_ONEDNN_OPTS=1 on x86-64, oneDNN's kernels and graph fusions.
  On Linux, TensorFlow turns them on by itself only on CPUs with AVX512_VNNI,
  AVX_VNNI, AVX512_BF16 or AMX; on other CPUs (AVX2 ones) its default is
  Eigen's kernels, which train the shapes demo slower (`benchmarks/cpu_runtime.py`;
  docs/performance.md). TensorFlow reads the variable when it is imported.
  Other machines keep TensorFlow's default: oneDNN was not measured there.
  With oneDNN on, TensorFlow's CPU allocator is oneDNN's, which pools too,
  whatever TF_CPU_ALLOCATOR_USE_BFC says.

Set either variable to 0 to keep TensorFlow's default.
"""

import os
import platform
from typing import Optional

POOLED_ALLOCATOR_VARIABLE = "TF_CPU_ALLOCATOR_USE_BFC"
ONEDNN_VARIABLE = "TF_ENABLE_ONEDNN_OPTS"


def plugin_chooses_onednn(machine: str) -> bool:
  """Whether the plugin turns oneDNN on on a `platform.machine()` of `machine` (x86-64)."""
  return machine.lower() in ("x86_64", "amd64")


def configure_environment() -> None:
  """Sets TF_CPU_ALLOCATOR_USE_BFC=1, and TF_ENABLE_ONEDNN_OPTS=1 on x86-64, unless set."""
  os.environ.setdefault(POOLED_ALLOCATOR_VARIABLE, "1")
  if plugin_chooses_onednn(platform.machine()):
    os.environ.setdefault(ONEDNN_VARIABLE, "1")


def pooled_allocator_in_use() -> bool:
  """Whether this process's TensorFlow CPU allocator is the pooled one.

  Creates the allocator if no tensor exists yet. Only a pooled allocator (the
  BFC one, or oneDNN's) keeps the statistics that
  `tf.config.experimental.get_memory_info` reads.
  """
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  tf.constant(0.0)  # TensorFlow's CPU allocator exists from the first tensor on.
  try:
    tf.config.experimental.get_memory_info("CPU:0")
  except ValueError:  # "Allocator stats not available for device 'CPU:0'"
    return False
  return True


def onednn_in_use() -> Optional[bool]:
  """Whether this process's TensorFlow runs oneDNN's kernels; None if it cannot tell.

  Imports TensorFlow. Reads TensorFlow's own switch (`IsMklEnabled`, the one
  its tests read); None where that private function is missing.
  """
  # pylint: disable=import-outside-toplevel
  import tensorflow  # noqa: F401  pylint: disable=unused-import
  try:
    from tensorflow.python.util import _pywrap_util_port
  except ImportError:
    return None
  is_enabled = getattr(_pywrap_util_port, "IsMklEnabled", None)
  return None if is_enabled is None else bool(is_enabled())
