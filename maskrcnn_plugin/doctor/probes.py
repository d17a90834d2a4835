"""What is measured on this machine: package versions, imports, TensorFlow's
build, the NVIDIA driver, the GPUs TensorFlow sees, CPU features, TensorFlow's
CPU allocator and oneDNN, Keras.

Each probe is a module-level function returning plain (JSON-ready) data, so
that tests can replace it; `checks.run_checks` turns a probe that raises into
a finding. TensorFlow is imported only inside the probes that say so.
"""

import ctypes
import importlib
import importlib.metadata
import os
import re
import shutil
import subprocess
from typing import Any, Dict, List, Optional, Tuple

from maskrcnn_plugin import cpu_runtime, errors, keras_setup
from maskrcnn_plugin.doctor import matrix

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


def cpu_allocator_facts() -> Dict[str, Any]:
  """TF_CPU_ALLOCATOR_USE_BFC and whether TensorFlow's pooled CPU allocator is in use
  (TensorFlow imported)."""
  return {"variable": os.environ.get(cpu_runtime.POOLED_ALLOCATOR_VARIABLE),
          "pooled": cpu_runtime.pooled_allocator_in_use()}


def onednn_facts() -> Dict[str, Any]:
  """TF_ENABLE_ONEDNN_OPTS and whether TensorFlow runs oneDNN's CPU kernels (None: cannot
  tell; TensorFlow imported)."""
  return {"variable": os.environ.get(cpu_runtime.ONEDNN_VARIABLE),
          "on": cpu_runtime.onednn_in_use()}


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
  major = matrix.major_minor(version)[0] if version else None
  return {"package": package, "version": version, "keras_major": major}
