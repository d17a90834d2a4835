"""The support matrix: tested TensorFlow lines, Python versions and hardware rules.

Data and pure functions only: nothing here probes the machine or imports
TensorFlow.
"""

import dataclasses
import re
from typing import Optional, Sequence, Tuple

from maskrcnn_plugin import keras_setup


@dataclasses.dataclass(frozen=True)
class SupportedLine:
  """One tested TensorFlow line of the support matrix."""
  tensorflow: str  # major.minor of TensorFlow, tf-models-official and tf-keras
  cuda: str  # CUDA version the TensorFlow wheel was built for
  cudnn: str
  min_driver: str  # the oldest Linux driver for that CUDA major version
  ptx_driver: str  # the oldest driver that can JIT-compile the build's PTX (CUDA `cuda`)
  constraints: str  # constraints file in the source tree
  gpu_install: str  # how GPU libraries are added to the CPU install command

  @property
  def cuda_major(self) -> int:
    return int(self.cuda.split(".")[0])

  def install_command(self, *, gpu: bool) -> str:
    """The pip command (run in the source tree) that installs this line."""
    packages = self.gpu_install if gpu else f'"tensorflow=={self.tensorflow}.*"'
    return f"pip install -c {self.constraints} {packages} -e ."


SUPPORTED_LINES = (
    SupportedLine("2.20", cuda="12.5", cudnn="9.3", min_driver="525.60.13",
                  ptx_driver="555.42.02",
                  constraints="constraints/tf2.20-py311.txt",
                  gpu_install='"tensorflow[and-cuda]==2.20.*"'),
    # tensorflow[and-cuda]==2.14 needs tensorrt 8.5.3.1, which has no Python 3.11 wheel:
    # the GPU libraries come from a requirements file instead.
    SupportedLine("2.14", cuda="11.8", cudnn="8.7", min_driver="450.80.02",
                  ptx_driver="520.61.05",
                  constraints="constraints/tf2.14-py311.txt",
                  gpu_install='"tensorflow==2.14.*" -r constraints/tf2.14-cuda11.8-gpu.txt'),
)
SUPPORTED_PYTHON = ((3, 10), (3, 12))  # inclusive range of tested major.minor versions
BFLOAT16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
FAST_FLOAT16_COMPUTE_CAPABILITY = (7, 0)  # Volta and newer have float16 Tensor Cores.


def major_minor(version: str) -> Tuple[int, int]:
  """(2, 20) for "2.20.1"."""
  return keras_setup._version_tuple(version)  # pylint: disable=protected-access


def line_for(tensorflow_version: Optional[str]) -> Optional[SupportedLine]:
  """The supported line of a TensorFlow version, None for an untested version."""
  if not tensorflow_version:
    return None
  wanted = major_minor(tensorflow_version)
  return next((l for l in SUPPORTED_LINES if major_minor(l.tensorflow) == wanted), None)


def line_for_driver(cuda_version: Optional[str]) -> Optional[SupportedLine]:
  """The newest supported line whose CUDA major version the driver can run."""
  if not cuda_version:
    return None
  major = major_minor(cuda_version)[0]
  return next((l for l in SUPPORTED_LINES if l.cuda_major <= major), None)


def line_of_cuda(cuda_version: str) -> Optional[SupportedLine]:
  """The supported line built for the CUDA major version of `cuda_version`."""
  major = major_minor(cuda_version)[0]
  return next((l for l in SUPPORTED_LINES if l.cuda_major == major), None)


def install_advice(*, gpu: bool) -> str:
  """One install command per tested line, each on its own line."""
  return "Install the tested line that fits, from the source tree:\n" + "\n".join(
      f"  TensorFlow {l.tensorflow} (CUDA {l.cuda_major}.x driver >= {l.min_driver}): "
      f"{l.install_command(gpu=gpu)}" for l in SUPPORTED_LINES)


def kernel_source(capability: Optional[Sequence[int]],
                  architectures: Sequence[str]) -> Optional[str]:
  """How TensorFlow gets GPU kernels for a compute capability.

  Args:
    capability: [major, minor] of the GPU, or None when unknown.
    architectures: The build's `cuda_compute_capabilities`, e.g.
      ['sm_60', 'sm_70', 'compute_80'] (sm_XY: machine code, compute_XY: PTX).

  Returns:
    "native" when machine code for the GPU is in the build (code for X.Y runs
    on X.Z, Z >= Y), "ptx" when the driver must JIT-compile PTX, None when the
    GPU is too old for the build or the capability is unknown.
  """
  if not capability:
    return None
  major, minor = capability
  compiled = [_architecture(a) for a in architectures]
  if any(kind == "sm" and cc[0] == major and cc[1] <= minor for kind, cc in compiled if cc):
    return "native"
  if any(kind == "compute" and cc <= (major, minor) for kind, cc in compiled if cc):
    return "ptx"
  return None


def lowest_compute_capability(architectures: Sequence[str]) -> Optional[Tuple[int, int]]:
  """(6, 0) for ['sm_60', 'sm_70', 'compute_90']; None when unknown."""
  found = [cc for _, cc in map(_architecture, architectures) if cc]
  return min(found) if found else None


def _architecture(name: str) -> Tuple[str, Optional[Tuple[int, int]]]:
  match = re.fullmatch(r"(sm|compute)_(\d+)(\d)", name)
  return (match.group(1), (int(match.group(2)), int(match.group(3)))) if match else ("", None)
