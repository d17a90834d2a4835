"""Can this Python environment train Mask R-CNN, and if not, what to change.

`run_checks()` gathers facts (package versions, imports, TensorFlow's build,
the NVIDIA driver, the GPUs TensorFlow sees, CPU features) and turns every
inconsistency into a `Finding` with a remedy. No probe may raise: a failing
import or probe becomes a finding. TensorFlow is imported only inside the
probes, so a report is produced even when TensorFlow itself cannot be imported.

Each probe is a module-level function so that tests can replace it.
"""

import ctypes
import dataclasses
import importlib
import importlib.metadata
import os
import platform
import re
import shutil
import subprocess
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

from maskrcnn_plugin import errors, keras_setup

ERROR = "error"  # The set-up cannot train: the exit status is non-zero.
WARNING = "warning"  # Training works, but something will bite (slow, wrong Keras for user code).
INFO = "info"


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

# Distributions reported by version. TensorFlow may come as one of several names.
TENSORFLOW_DISTRIBUTIONS = ("tensorflow", "tensorflow-cpu", "tensorflow-macos", "tf-nightly")
PACKAGES = ("tf-models-official", "tf-keras", "keras", "gin-config", "pycocotools", "numpy",
            "protobuf", "maskrcnn-plugin")
# Modules that training imports, in import order: module -> what needs it.
IMPORTS = {
    "numpy": "everything",
    "tensorflow": "everything",
    "tf_keras": "Model Garden under TensorFlow >= 2.16",
    "official.vision.modeling.maskrcnn_model": "model building (tf-models-official)",
    "orbit": "training loops (ships with tf-models-official)",
    "gin": "configuration",
    "pycocotools.cocoeval": "COCO evaluation",
}
# These fail whenever TensorFlow does; only TensorFlow's failure is reported then.
NEED_TENSORFLOW = ("tf_keras", "official.vision.modeling.maskrcnn_model", "orbit")
PROC_DRIVER_VERSION = "/proc/driver/nvidia/version"  # exists when the kernel driver is loaded
BFLOAT16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
FAST_FLOAT16_COMPUTE_CAPABILITY = (7, 0)  # Volta and newer have float16 Tensor Cores.


@dataclasses.dataclass
class Finding:
  """One verdict: what is wrong (or notable) and what to do about it."""
  severity: str  # ERROR, WARNING or INFO
  check: str  # stable identifier, e.g. "tf_keras_version"
  message: str
  remedy: str = ""


@dataclasses.dataclass
class Report:
  """Everything doctor found. `to_dict()` is the `--json` output."""
  python: Dict[str, str]
  packages: Dict[str, Optional[str]]  # distribution -> version, None when not installed
  imports: Dict[str, Optional[str]]  # module -> None when it imports, else the error
  keras: Dict[str, Any]
  tensorflow_build: Dict[str, Any]
  driver: Dict[str, Any]
  gpus: List[Dict[str, Any]]
  cpu: Dict[str, Any]
  probe_errors: Dict[str, str] = dataclasses.field(default_factory=dict)  # probe -> error
  findings: List[Finding] = dataclasses.field(default_factory=list)

  @property
  def can_train(self) -> bool:
    return not any(f.severity == ERROR for f in self.findings)

  def to_dict(self) -> Dict[str, Any]:
    result = dataclasses.asdict(self)
    result["can_train"] = self.can_train
    return result


# ---------------------------------------------------------------------------
# Probes: each returns plain data. run_checks() turns an exception into a warning.


def package_version(distribution: str) -> Optional[str]:
  """The installed version of `distribution`, None when it is not installed."""
  try:
    return importlib.metadata.version(distribution)
  except importlib.metadata.PackageNotFoundError:
    return None


def import_error(module: str) -> Optional[str]:
  """Imports `module`; returns None on success, else the error in one line."""
  try:
    importlib.import_module(module)
  except (Exception, SystemExit) as error:  # pylint: disable=broad-except
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[-1] if text else ''}".rstrip(": ")
  return None


def tensorflow_build_info() -> Dict[str, Any]:
  """`tf.sysconfig.get_build_info()` as JSON-ready data (TensorFlow imported)."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  info = {key: (list(value) if isinstance(value, (list, tuple)) else value)
          for key, value in tf.sysconfig.get_build_info().items()}
  info["version"] = tf.version.VERSION
  return info


def tensorflow_gpus(*, run_on_gpu: bool = True) -> List[Dict[str, Any]]:
  """The GPUs TensorFlow sees, with details (TensorFlow imported).

  Memory growth is read before anything initializes the GPUs. With
  `run_on_gpu`, memory growth is then turned on (so that the probe takes only
  the memory it needs on a shared GPU) and TensorFlow's GPU runtime is
  initialized, to read the usable memory and to run a small convolution on
  each GPU, which is what fails when the CUDA or cuDNN libraries do not match
  the build. Memory growth can no longer be changed in this process afterwards.
  """
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  devices = tf.config.list_physical_devices("GPU")
  gpus = []
  for device in devices:
    details = tf.config.experimental.get_device_details(device)
    capability = details.get("compute_capability")
    gpus.append({
        "device": device.name,
        "name": details.get("device_name", ""),
        "compute_capability": list(capability) if capability else None,
        "memory_growth": tf.config.experimental.get_memory_growth(device),
        "memory_limit_mb": None,
        "compute_error": None,
    })
  if gpus and run_on_gpu:
    for device in devices:
      tf.config.experimental.set_memory_growth(device, True)
    for gpu, limit in zip(gpus, _gpu_memory_limits_mb()):
      gpu["memory_limit_mb"] = limit
    for index, gpu in enumerate(gpus):
      gpu["compute_error"] = gpu_compute_error(f"/GPU:{index}")
  return gpus


def _gpu_memory_limits_mb() -> List[int]:
  # device_lib is the only TensorFlow API that reports how much memory each GPU offers.
  from tensorflow.python.client import device_lib  # pylint: disable=import-outside-toplevel
  return [d.memory_limit // 2**20 for d in device_lib.list_local_devices()
          if d.device_type == "GPU"]


def gpu_compute_error(device: str) -> Optional[str]:
  """Runs a tiny convolution and matmul on `device`; the error in one line, or None."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  try:
    with tf.device(device):
      images = tf.ones((1, 8, 8, 3))
      features = tf.nn.conv2d(images, tf.ones((3, 3, 3, 4)), strides=1, padding="SAME")
      float(tf.reduce_sum(tf.matmul(tf.reshape(features, (8, 32)), tf.ones((32, 2)))))
  except Exception as error:  # pylint: disable=broad-except
    return errors.reason(error)
  return None


def nvidia_driver() -> Dict[str, Any]:
  """The NVIDIA driver as the system sees it, independent of TensorFlow.

  Returns:
    {"found": bool, "driver_version": str|None, "cuda_version": str|None
    (the newest CUDA the driver supports), "gpus": [{"name", "compute_capability",
    "memory_mb"}] from nvidia-smi when available}.
  """
  driver = {"found": False, "driver_version": None, "cuda_version": None, "gpus": []}
  try:
    with open(PROC_DRIVER_VERSION, encoding="utf-8") as version_file:
      match = re.search(r"Kernel Module\s+(?:for \S+\s+)?([\d.]+)", version_file.read())
    driver.update(found=True, driver_version=match.group(1) if match else None)
  except OSError:
    pass
  driver["cuda_version"] = _libcuda_driver_version()
  if driver["cuda_version"]:
    driver["found"] = True
  smi_gpus, smi_driver = _nvidia_smi_gpus()
  if smi_gpus or smi_driver:
    driver["found"] = True
    driver["gpus"] = smi_gpus
    driver["driver_version"] = driver["driver_version"] or smi_driver
  return driver


def _libcuda_driver_version() -> Optional[str]:
  try:
    libcuda = ctypes.CDLL("libcuda.so.1")
    version = ctypes.c_int()
    if libcuda.cuDriverGetVersion(ctypes.byref(version)) != 0:
      return None
  except (OSError, AttributeError):
    return None
  return f"{version.value // 1000}.{version.value % 1000 // 10}"


def _nvidia_smi_gpus() -> Tuple[List[Dict[str, Any]], Optional[str]]:
  """GPUs and driver version from nvidia-smi; ([], None) without it."""
  executable = shutil.which("nvidia-smi")
  if not executable:
    return [], None
  fields = "name,memory.total,driver_version,compute_cap"
  for query in (fields, fields.rsplit(",", 1)[0]):  # old drivers lack compute_cap
    try:
      result = subprocess.run(
          [executable, f"--query-gpu={query}", "--format=csv,noheader,nounits"],
          capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
      return [], None
    if result.returncode == 0:
      break
  else:
    return [], None
  gpus, driver_version = [], None
  for line in result.stdout.strip().splitlines():
    values = [v.strip() for v in line.split(",")]
    driver_version = values[2]
    gpus.append({
        "name": values[0],
        "memory_mb": int(values[1]) if values[1].isdigit() else None,
        "compute_capability": ([int(p) for p in values[3].split(".")]
                               if len(values) > 3 and re.fullmatch(r"\d+\.\d+", values[3])
                               else None),
    })
  return gpus, driver_version


def cpu_flags() -> List[str]:
  """The CPU feature flags from /proc/cpuinfo (empty where it does not exist)."""
  try:
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
      for line in cpuinfo:
        if line.startswith("flags"):
          return line.split(":", 1)[1].split()
  except OSError:
    pass
  return []


def keras_facts() -> Dict[str, Any]:
  """Which Keras Model Garden uses and which one `tf.keras` is (TensorFlow imported)."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  return {"legacy_keras_variable": os.environ.get(keras_setup.LEGACY_KERAS_VARIABLE),
          "model_garden": _keras_of(keras_setup.model_garden_keras().layers.Layer),
          "tf_keras": _keras_of(tf.keras.layers.Layer),
          "same": keras_setup.tf_keras_is_model_garden_keras()}


def _keras_of(layer_class) -> Dict[str, Any]:
  package = layer_class.__module__.split(".")[0]  # "tf_keras" or "keras"
  distribution = "tf-keras" if package == "tf_keras" else "keras"
  version = package_version(distribution)
  major = _major_minor(version)[0] if version else None
  return {"package": package, "version": version, "keras_major": major}


# ---------------------------------------------------------------------------
# Gathering and verdicts.


def run_checks(*, run_on_gpu: bool = True) -> Report:
  """Probes the environment and returns the report with its findings.

  Args:
    run_on_gpu: Initialize the GPUs to read their memory and run a tiny
      convolution on each (see `tensorflow_gpus`).
  """
  tensorflow_version = next(
      (v for v in map(package_version, TENSORFLOW_DISTRIBUTIONS) if v), None)
  packages = {"tensorflow": tensorflow_version}
  packages.update((name, package_version(name)) for name in PACKAGES)
  imports = {module: import_error(module) for module in IMPORTS}
  errors = {}
  report = Report(
      python={"version": platform.python_version(), "executable": sys.executable},
      packages=packages, imports=imports, keras={}, tensorflow_build={},
      driver=_probe("NVIDIA driver", nvidia_driver, {"found": False}, errors), gpus=[],
      cpu=_cpu_report(_probe("CPU flags", cpu_flags, [], errors)), probe_errors=errors)
  if imports["tensorflow"] is None:
    report.tensorflow_build = _probe("TensorFlow build", tensorflow_build_info, {}, errors)
    report.gpus = _probe("TensorFlow GPUs", lambda: tensorflow_gpus(run_on_gpu=run_on_gpu),
                         [], errors)
    report.keras = _probe("Keras", keras_facts, {}, errors)
  report.findings = diagnose(report)
  return report


def _probe(name: str, probe, fallback, errors: Dict[str, str]):
  """Runs `probe`; on failure records the error under `name` and returns `fallback`."""
  try:
    return probe()
  except Exception as error:  # pylint: disable=broad-except
    errors[name] = f"{type(error).__name__}: {error}"
    return fallback


def _cpu_report(flags: Sequence[str]) -> Dict[str, Any]:
  found = [flag for flag in BFLOAT16_CPU_FLAGS if flag in flags]
  return {"machine": platform.machine(), "bfloat16_flags": found, "bfloat16": bool(found)}


def diagnose(report: Report) -> List[Finding]:
  """All findings for `report`, errors first."""
  findings = (_python_findings(report) + _package_findings(report) + _import_findings(report)
              + _keras_findings(report) + _gpu_findings(report) + _precision_findings(report))
  findings += [Finding(WARNING, "probe_failed", f"Could not read the {name}: {error}")
               for name, error in report.probe_errors.items()]
  order = {ERROR: 0, WARNING: 1, INFO: 2}
  return sorted(findings, key=lambda f: order[f.severity])


def line_for(tensorflow_version: Optional[str]) -> Optional[SupportedLine]:
  """The supported line of a TensorFlow version, None for an untested version."""
  if not tensorflow_version:
    return None
  wanted = _major_minor(tensorflow_version)
  return next((l for l in SUPPORTED_LINES if _major_minor(l.tensorflow) == wanted), None)


def line_for_driver(cuda_version: Optional[str]) -> Optional[SupportedLine]:
  """The newest supported line whose CUDA major version the driver can run."""
  if not cuda_version:
    return None
  major = _major_minor(cuda_version)[0]
  return next((l for l in SUPPORTED_LINES if l.cuda_major <= major), None)


def _install_advice(*, gpu: bool) -> str:
  """One install command per tested line, each on its own line."""
  return "Install the tested line that fits, from the source tree:\n" + "\n".join(
      f"  TensorFlow {l.tensorflow} (CUDA {l.cuda_major}.x driver >= {l.min_driver}): "
      f"{l.install_command(gpu=gpu)}" for l in SUPPORTED_LINES)


def _python_findings(report: Report) -> List[Finding]:
  version = _major_minor(report.python["version"])
  low, high = SUPPORTED_PYTHON
  if low <= version <= high:
    return []
  return [Finding(WARNING, "python_version",
                  f"Python {report.python['version']} is not tested (tested: "
                  f"{low[0]}.{low[1]} to {high[0]}.{high[1]}; both TensorFlow lines on 3.11).",
                  "Use Python 3.11 in a fresh virtual environment.")]


def _package_findings(report: Report) -> List[Finding]:
  packages = report.packages
  tf_version = packages["tensorflow"]
  if not tf_version:
    return [Finding(ERROR, "tensorflow_missing", "TensorFlow is not installed.",
                    _install_advice(gpu=False))]
  findings = []
  tf_mm = _major_minor(tf_version)
  line = line_for(tf_version)
  if line is None:
    findings.append(Finding(
        WARNING, "tensorflow_untested",
        f"TensorFlow {tf_version} is not a tested line "
        f"({', '.join(l.tensorflow for l in SUPPORTED_LINES)}).", _install_advice(gpu=False)))
  model_garden = packages["tf-models-official"]
  if not model_garden:
    findings.append(Finding(ERROR, "model_garden_missing", "tf-models-official is not installed.",
                            f'pip install "tf-models-official=={_mm(tf_mm)}.*"'))
  elif _major_minor(model_garden) != tf_mm:
    findings.append(Finding(
        ERROR, "model_garden_version",
        f"tf-models-official {model_garden} does not match TensorFlow {tf_version}: Model "
        f"Garden X.Y needs TensorFlow X.Y.",
        f'pip install "tf-models-official=={_mm(tf_mm)}.*"'
        + (f" (or reinstall with -c {line.constraints})" if line else "")))
  tf_keras = packages["tf-keras"]
  model_garden_needs_tf_keras = tf_mm >= (2, 16)
  if tf_keras and _major_minor(tf_keras) != tf_mm:
    if model_garden_needs_tf_keras:
      consequence, severity = "Model Garden's Keras will not load.", ERROR
    else:
      consequence, severity = (f"Model Garden {_mm(tf_mm)} uses tf.keras and does not need it, "
                               "but code that imports tf_keras gets a Keras that cannot be "
                               "mixed with Model Garden's layers."), WARNING
    findings.append(Finding(
        severity, "tf_keras_version",
        f"tf-keras {tf_keras} does not match TensorFlow {tf_version} (tf-keras X.Y goes with "
        f"TensorFlow X.Y). {consequence}", f'pip install "tf-keras=={_mm(tf_mm)}.*"'))
  elif not tf_keras and model_garden_needs_tf_keras:
    findings.append(Finding(
        ERROR, "tf_keras_missing",
        f"tf-keras is not installed; Model Garden on TensorFlow {_mm(tf_mm)} is built on it.",
        f'pip install "tf-keras=={_mm(tf_mm)}.*"'))
  numpy = packages["numpy"]
  if numpy and _major_minor(numpy) >= (2, 0) and tf_mm < (2, 18):
    findings.append(Finding(
        ERROR, "numpy_version",
        f"NumPy {numpy} is installed, but TensorFlow {_mm(tf_mm)} was built against NumPy 1.x.",
        'pip install "numpy<2"' + (f" (or reinstall with -c {line.constraints})" if line else "")))
  return findings


def _import_findings(report: Report) -> List[Finding]:
  findings = []
  tf_mm = _major_minor(report.packages["tensorflow"] or "0.0")
  tensorflow_fails = report.imports.get("tensorflow") is not None
  for module, needed_by in IMPORTS.items():
    error = report.imports.get(module)
    if error is None or (tensorflow_fails and module in NEED_TENSORFLOW):
      continue
    if module == "tensorflow" and not report.packages["tensorflow"]:
      continue  # already reported as not installed
    if module == "tf_keras" and tf_mm < (2, 16):
      continue  # Model Garden before 2.16 does not use tf_keras
    line = line_for(report.packages["tensorflow"])
    remedy = (f"Reinstall the tested set: {line.install_command(gpu=False)}" if line
              else _install_advice(gpu=False))
    findings.append(Finding(ERROR, f"import_{module.split('.')[0]}",
                            f"`import {module}` fails (needed for {needed_by}): {error}", remedy))
  return findings


def _keras_findings(report: Report) -> List[Finding]:
  keras = report.keras
  if not keras or keras["same"]:
    return []
  variable = keras["legacy_keras_variable"]
  if variable in ("1", "true", "True"):
    cause = (f"`tf.keras` was used before {keras_setup.LEGACY_KERAS_VARIABLE}=1 took effect "
             "(TensorFlow's Keras was resolved before maskrcnn_plugin was imported)")
    remedy = (f"Import maskrcnn_plugin before using tf.keras, or export "
              f"{keras_setup.LEGACY_KERAS_VARIABLE}=1 before starting Python.")
  else:
    cause = f"{keras_setup.LEGACY_KERAS_VARIABLE}={variable!r} is set in the environment"
    remedy = f"Unset {keras_setup.LEGACY_KERAS_VARIABLE} or set it to 1."
  model_garden = keras["model_garden"]
  tf_keras = keras["tf_keras"]
  return [Finding(
      WARNING, "tf_keras_is_keras3",
      f"`tf.keras` is {tf_keras['package']} {tf_keras['version']} (Keras "
      f"{tf_keras['keras_major']}) but Model Garden uses {model_garden['package']} "
      f"{model_garden['version']}, because {cause}. Shipped configs train, but backbones "
      "written with `tf.keras` will be rejected.", remedy)]


def _gpu_findings(report: Report) -> List[Finding]:
  build, driver, gpus = report.tensorflow_build, report.driver, report.gpus
  if not build:
    return []
  findings = []
  tf_version = build.get("version", "")
  line = line_for(tf_version)
  for gpu in gpus:
    if gpu.get("compute_error"):
      cuda = build.get("cuda_version")
      findings.append(Finding(
          ERROR, "gpu_unusable",
          f"TensorFlow sees {gpu['device']} ({gpu['name']}) but cannot compute on it: "
          f"{gpu['compute_error']}. TensorFlow {tf_version} needs CUDA {cuda} and cuDNN "
          f"{build.get('cudnn_version')} libraries.",
          (f"Install the GPU libraries of the line: {line.install_command(gpu=True)}; make "
           "sure LD_LIBRARY_PATH does not put other CUDA/cuDNN versions first."
           if line else _install_advice(gpu=True))))
    elif kernel_source(gpu.get("compute_capability"),
                       build.get("cuda_compute_capabilities") or []) == "ptx":
      findings.append(_ptx_jit_finding(gpu, build, line))
  if gpus:
    return findings
  hidden = os.environ.get("CUDA_VISIBLE_DEVICES")
  if build.get("is_cuda_build") and hidden is not None and hidden.strip() in ("", "-1"):
    return [Finding(WARNING, "gpus_hidden",
                    f"CUDA_VISIBLE_DEVICES={hidden!r} hides every GPU: training runs on the CPU.",
                    "Unset CUDA_VISIBLE_DEVICES to use the GPUs.")]
  if build.get("is_cuda_build") and driver.get("found"):
    return [_cuda_build_without_gpu(build, driver)]
  if build.get("is_cuda_build"):
    return [Finding(
        WARNING, "no_gpu",
        f"TensorFlow {tf_version} is a CUDA {build.get('cuda_version')} build, but no GPU and "
        "no NVIDIA driver were found: training runs on the CPU.",
        "Nothing to do on a machine without an NVIDIA GPU. Otherwise install the NVIDIA "
        "driver first. " + _install_advice(gpu=True))]
  if driver.get("found"):
    return [Finding(
        WARNING, "cpu_only_build",
        f"An NVIDIA driver is installed, but TensorFlow {tf_version} is built without CUDA: "
        "training runs on the CPU.",
        (line.install_command(gpu=True) if line else _install_advice(gpu=True))
        + " (and uninstall tensorflow-cpu if it is installed)")]
  return []


def _cuda_build_without_gpu(build: Dict[str, Any], driver: Dict[str, Any]) -> Finding:
  """Explains a CUDA build that sees no GPU although an NVIDIA driver is installed."""
  tf_version = build.get("version", "")
  built_cuda = build.get("cuda_version") or "?"
  driver_cuda = driver.get("cuda_version")
  message = (f"TensorFlow {tf_version} is built for CUDA {built_cuda}, an NVIDIA driver "
             f"{driver.get('driver_version') or ''} is installed"
             + (f" (supports CUDA up to {driver_cuda})" if driver_cuda else "")
             + ", but TensorFlow sees no GPU.")
  line = line_for(tf_version)
  suited = line_for_driver(driver_cuda)
  minimum = _lowest_compute_capability(build.get("cuda_compute_capabilities") or [])
  too_old = [g for g in driver.get("gpus", []) if g.get("compute_capability") and minimum
             and tuple(g["compute_capability"]) < minimum]
  if too_old:
    remedy = (f"{too_old[0]['name']} has compute capability "
              f"{'.'.join(map(str, too_old[0]['compute_capability']))}, below the "
              f"{minimum[0]}.{minimum[1]} this build supports: use a newer GPU or train on "
              "the CPU.")
  elif driver_cuda and _major_minor(driver_cuda)[0] < _major_minor(built_cuda)[0]:
    needed = _line_of_cuda(built_cuda)
    upgrade = (f"upgrade the driver to >= {needed.min_driver}" if needed
               else f"upgrade the driver to one for CUDA {built_cuda}")
    if suited:
      remedy = (f"The driver is too old for CUDA {built_cuda}: {upgrade}, or use the CUDA "
                f"{suited.cuda_major}.x line (TensorFlow {suited.tensorflow}, built for CUDA "
                f"{suited.cuda}) in a fresh environment: {suited.install_command(gpu=True)}")
    else:
      remedy = ("The driver is too old for every tested line: upgrade it to >= "
                + " or >= ".join(f"{l.min_driver} (CUDA {l.cuda_major}.x, TensorFlow "
                                 f"{l.tensorflow})" for l in reversed(SUPPORTED_LINES)) + ".")
  elif line:
    remedy = (f"The CUDA {line.cuda} / cuDNN {line.cudnn} libraries are probably missing or "
              f"shadowed by others on LD_LIBRARY_PATH: {line.install_command(gpu=True)}")
  else:
    remedy = _install_advice(gpu=True)
  return Finding(ERROR, "cuda_build_without_gpu", message, remedy)


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


def _architecture(name: str) -> Tuple[str, Optional[Tuple[int, int]]]:
  match = re.fullmatch(r"(sm|compute)_(\d+)(\d)", name)
  return (match.group(1), (int(match.group(2)), int(match.group(3)))) if match else ("", None)


def _ptx_jit_finding(gpu: Dict[str, Any], build: Dict[str, Any],
                     line: Optional[SupportedLine]) -> Finding:
  capability = ".".join(map(str, gpu["compute_capability"]))
  driver = f" >= {line.ptx_driver}" if line else f" for CUDA {build.get('cuda_version')}"
  return Finding(
      WARNING, "gpu_ptx_jit",
      f"TensorFlow {build.get('version')} has no machine code for {gpu['name']} (compute "
      f"capability {capability}; built for {', '.join(build['cuda_compute_capabilities'])}): "
      "the driver JIT-compiles its kernels from PTX on first use, which takes minutes and "
      f"needs a driver{driver}.",
      f"Keep the NVIDIA driver{driver} and set CUDA_CACHE_MAXSIZE=4294967296 so the compiled "
      "kernels stay cached (in ~/.nv/ComputeCache) between runs.")


def _line_of_cuda(cuda_version: str) -> Optional[SupportedLine]:
  major = _major_minor(cuda_version)[0]
  return next((l for l in SUPPORTED_LINES if l.cuda_major == major), None)


def _precision_findings(report: Report) -> List[Finding]:
  gpus = report.gpus
  if gpus:
    slow = [g for g in gpus if g.get("compute_capability")
            and tuple(g["compute_capability"]) < FAST_FLOAT16_COMPUTE_CAPABILITY]
    if slow:
      names = ", ".join(f"{g['name']} ({'.'.join(map(str, g['compute_capability']))})"
                        for g in slow)
      return [Finding(WARNING, "float16_slow",
                      f"Mixed float16 will not be faster on {names}: compute capability "
                      "< 7.0 has no float16 Tensor Cores.", "Train in float32 on these GPUs.")]
    return [Finding(INFO, "float16_fast",
                    "Mixed float16 (with loss scaling) will be fast: every GPU has compute "
                    "capability >= 7.0.")]
  if not report.tensorflow_build:
    return []
  if report.cpu.get("bfloat16"):
    return [Finding(INFO, "cpu_bfloat16",
                    "The CPU has bfloat16 instructions "
                    f"({', '.join(report.cpu['bfloat16_flags'])}): mixed bfloat16 speeds up "
                    "CPU training.")]
  return [Finding(INFO, "cpu_float32",
                  "The CPU has no bfloat16 instructions (AVX512_BF16/AMX): train in float32.")]


def _lowest_compute_capability(architectures: Sequence[str]) -> Optional[Tuple[int, int]]:
  """(6, 0) for ['sm_60', 'sm_70', 'compute_90']; None when unknown."""
  found = [cc for _, cc in map(_architecture, architectures) if cc]
  return min(found) if found else None


def _major_minor(version: str) -> Tuple[int, int]:
  return keras_setup._version_tuple(version)  # pylint: disable=protected-access


def _mm(version: Tuple[int, int]) -> str:
  return f"{version[0]}.{version[1]}"
