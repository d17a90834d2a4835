"""Where and how training runs: strategy, devices, precision, XLA.

    runtime.strategy = @strategies.mirrored       # the one binding to change (no '()')
    strategies.mirrored.devices = ['/gpu:0', '/gpu:1']   # optional parameters
    runtime.mixed_precision = 'auto'    # 'float32' | 'mixed_float16' | 'mixed_bfloat16' | 'auto'
    runtime.gpu_memory_growth = True
    runtime.jit_compile = False

Strategies (STRATEGIES registry, gin module `strategies`):
  one_device             one CPU or GPU (the first GPU when there is one)
  mirrored               all local GPUs (or the listed devices) in sync
  multi_worker_mirrored  several machines described by the TF_CONFIG variable
  tpu                    a TPU system (Model Garden's TPU set-up)
"""

import dataclasses
import functools
import json
import os
from typing import Annotated, Callable, Optional, Sequence, Tuple

import gin
import tensorflow as tf

from maskrcnn_plugin.doctor import matrix, probes
from maskrcnn_plugin.errors import UserError
from maskrcnn_plugin.registries import STRATEGIES
from official.common import distribute_utils
from registry import OneOf
from registry.constraints import constraint

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16", "auto")


# The strategies are Model Garden's `distribute_utils.get_distribution_strategy` where it
# builds the same thing. It takes a strategy name and a GPU count; the factories add a
# device of one's choice, the local devices of a machine without GPUs (several logical CPUs
# in tests), and a check of TF_CONFIG. Unknown option names never reach them: the
# parameters' declared choices reject those first, with close matches.


@STRATEGIES.register("one_device")
def one_device(device: Optional[str] = None) -> tf.distribute.Strategy:
  """One device: `device`, else the first GPU, else the CPU."""
  if device is not None:
    return tf.distribute.OneDeviceStrategy(device)
  has_gpu = bool(tf.config.list_logical_devices("GPU"))
  return distribute_utils.get_distribution_strategy("one_device", num_gpus=int(has_gpu))


@STRATEGIES.register("mirrored")
def mirrored(devices: Optional[Sequence[str]] = None,
             cross_device_ops: Annotated[Optional[str],
                                         OneOf(None, "nccl", "hierarchical_copy")] = None,
             ) -> tf.distribute.Strategy:
  """Synchronous data parallelism over local devices.

  Args:
    devices: Device names; default all GPUs, or all (logical) CPUs without GPUs.
    cross_device_ops: 'nccl', 'hierarchical_copy' or None (TensorFlow picks).
  """
  # Written out: Model Garden's factory mirrors GPU:0..N-1 or the one CPU:0, not a
  # device list or several logical CPUs.
  if devices is None:
    devices = ([d.name for d in tf.config.list_logical_devices("GPU")] or
               [d.name for d in tf.config.list_logical_devices("CPU")])
  all_reduce = {"nccl": tf.distribute.NcclAllReduce,
                "hierarchical_copy": tf.distribute.HierarchicalCopyAllReduce}
  return tf.distribute.MirroredStrategy(
      devices=list(devices),
      cross_device_ops=all_reduce[cross_device_ops]() if cross_device_ops else None)


@STRATEGIES.register("multi_worker_mirrored")
def multi_worker_mirrored(
    communication: Annotated[str, OneOf("auto", "ring", "nccl")] = "auto",
) -> tf.distribute.Strategy:
  """Synchronous training on the workers listed in TF_CONFIG.

  Every worker runs the same `maskrcnn train` command with its own TF_CONFIG
  ({"cluster": {"worker": [...]}, "task": {"type": "worker", "index": i}}).
  Worker 0 (the chief) writes checkpoints and summaries to model_dir.

  Args:
    communication: 'auto', 'ring' (gRPC) or 'nccl'.
  """
  # Without TF_CONFIG TensorFlow would train alone as a one-worker cluster, and bad JSON
  # fails deep inside it: both are said here first.
  if not os.environ.get("TF_CONFIG"):
    raise UserError("strategies.multi_worker_mirrored needs the TF_CONFIG environment "
                    "variable describing the cluster and this worker's task, e.g. "
                    '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
                    '"task": {"type": "worker", "index": 0}}.')
  try:
    json.loads(os.environ["TF_CONFIG"])
  except json.JSONDecodeError as error:
    raise UserError(f"TF_CONFIG is not valid JSON: {error}.") from error
  return distribute_utils.get_distribution_strategy(
      "multi_worker_mirrored", all_reduce_alg=None if communication == "auto" else communication)


@STRATEGIES.register("tpu")
def tpu(tpu_address: str = "") -> tf.distribute.Strategy:
  """A TPUStrategy; `tpu_address` '' or 'local' for local TPUs, else the TPU name."""
  return distribute_utils.get_distribution_strategy("tpu", tpu_address=tpu_address)


@gin.configurable("runtime")
@constraint("runtime")
@dataclasses.dataclass(frozen=True)
class Runtime:
  """Run-time settings bound in gin under `runtime`.

  Attributes:
    strategy: A factory from STRATEGIES, e.g. `@strategies.mirrored` (without
      '()': the strategy is built after device set-up by `make_strategy`).
    mixed_precision: 'float32', 'mixed_float16' (GPU, with dynamic loss
      scaling), 'mixed_bfloat16' (TPU, recent CPUs) or 'auto' (the fast
      one of this machine, see `auto_precision`). Box math stays float32
      under either mixed policy (`modeling/precision.py`).
    gpu_memory_growth: Allocate GPU memory as needed instead of all at once.
    jit_compile: Compile the train step with XLA. Off by default: measure first.
  """
  strategy: Optional[Callable[[], tf.distribute.Strategy]] = None
  mixed_precision: Annotated[str, OneOf(*PRECISIONS)] = "float32"
  gpu_memory_growth: bool = True
  jit_compile: bool = False

  @functools.cached_property
  def policy(self) -> str:
    """The Keras policy: mixed_precision, with 'auto' resolved on this machine."""
    return auto_precision()[0] if self.mixed_precision == "auto" else self.mixed_precision

  @property
  def uses_loss_scaling(self) -> bool:
    return self.policy == "mixed_float16"


def auto_precision() -> Tuple[str, str]:
  """(policy, reason) of `runtime.mixed_precision = 'auto'` on this machine.

  mixed_float16 (with loss scaling) when there are GPUs and all have compute
  capability >= 7.0 (float16 Tensor Cores); mixed_bfloat16 on a machine
  without GPUs whose CPU has bfloat16 instructions (AMX or AVX512_BF16, as
  `maskrcnn doctor` reports); float32 otherwise.
  """
  gpus = tf.config.list_physical_devices("GPU")
  if gpus:
    capabilities = [tf.config.experimental.get_device_details(gpu).get("compute_capability")
                    for gpu in gpus]
    if all(c and tuple(c) >= matrix.FAST_FLOAT16_COMPUTE_CAPABILITY for c in capabilities):
      return "mixed_float16", "every GPU has compute capability >= 7.0"
    return "float32", "a GPU has compute capability < 7.0 (no float16 Tensor Cores)"
  flags = [flag for flag in matrix.BFLOAT16_CPU_FLAGS if flag in probes.cpu_flags()]
  if flags:
    return "mixed_bfloat16", f"the CPU has {', '.join(flags)}"
  return "float32", "no GPU, and the CPU has no bfloat16 instructions (AMX or AVX512_BF16)"


def configure_devices(runtime: Runtime) -> None:
  """GPU memory growth, and a check that `runtime.policy` can run here; call before
  building models, inside `precision.policy_scope(runtime.policy)`."""
  gpus = tf.config.list_physical_devices("GPU")
  if runtime.gpu_memory_growth:
    for gpu in gpus:
      try:
        tf.config.experimental.set_memory_growth(gpu, True)
      except RuntimeError:  # Devices already initialized: growth is fixed by then.
        pass
  if runtime.policy == "mixed_float16" and not gpus:
    raise UserError("runtime.mixed_precision = 'mixed_float16' needs a GPU (float16 is slow "
                    "and unscaled elsewhere); use 'mixed_bfloat16' on CPU or TPU, or "
                    "'float32'.")


def make_strategy(runtime: Runtime) -> tf.distribute.Strategy:
  """Builds the configured strategy (one_device when none is bound)."""
  factory = runtime.strategy if runtime.strategy is not None else one_device
  if isinstance(factory, tf.distribute.Strategy):
    return factory
  if not callable(factory):
    raise UserError(f"runtime.strategy must name a strategy factory such as "
                    f"@strategies.mirrored, got {factory!r}. Registered: "
                    f"{', '.join(STRATEGIES.names())}.")
  return factory()
