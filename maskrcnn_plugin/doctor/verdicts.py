"""Turning a report's facts into findings: what is wrong and what to change.

`diagnose(report)` reads only the report (see `report.Report`), so a verdict
can be tested on made-up facts; the rules of which versions go together are
the support matrix's (`matrix`).
"""

import os
from typing import Any, Dict, List, Optional, Tuple

from maskrcnn_plugin import cpu_runtime, keras_setup
from maskrcnn_plugin.doctor import matrix, probes
from maskrcnn_plugin.doctor.report import ERROR, INFO, WARNING, Finding, Report


def diagnose(report: Report) -> List[Finding]:
  """All findings for `report`, errors first."""
  findings = (_python_findings(report) + _package_findings(report) + _import_findings(report)
              + _keras_findings(report) + _gpu_findings(report) + _precision_findings(report)
              + _allocator_findings(report) + _onednn_findings(report))
  findings += [Finding(WARNING, "probe_failed", f"Could not read the {name}: {error}")
               for name, error in report.probe_errors.items()]
  order = {ERROR: 0, WARNING: 1, INFO: 2}
  return sorted(findings, key=lambda f: order[f.severity])


def _python_findings(report: Report) -> List[Finding]:
  version = matrix.major_minor(report.python["version"])
  low, high = matrix.SUPPORTED_PYTHON
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
                    matrix.install_advice(gpu=False))]
  findings = []
  tf_mm = matrix.major_minor(tf_version)
  line = matrix.line_for(tf_version)
  if line is None:
    findings.append(Finding(
        WARNING, "tensorflow_untested",
        f"TensorFlow {tf_version} is not a tested line "
        f"({', '.join(l.tensorflow for l in matrix.SUPPORTED_LINES)}).",
        matrix.install_advice(gpu=False)))
  model_garden = packages["tf-models-official"]
  if not model_garden:
    findings.append(Finding(ERROR, "model_garden_missing", "tf-models-official is not installed.",
                            f'pip install "tf-models-official=={_mm(tf_mm)}.*"'))
  elif matrix.major_minor(model_garden) != tf_mm:
    findings.append(Finding(
        ERROR, "model_garden_version",
        f"tf-models-official {model_garden} does not match TensorFlow {tf_version}: Model "
        f"Garden X.Y needs TensorFlow X.Y.",
        f'pip install "tf-models-official=={_mm(tf_mm)}.*"'
        + (f" (or reinstall with -c {line.constraints})" if line else "")))
  tf_keras = packages["tf-keras"]
  model_garden_needs_tf_keras = tf_mm >= (2, 16)
  if tf_keras and matrix.major_minor(tf_keras) != tf_mm:
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
  if numpy and matrix.major_minor(numpy) >= (2, 0) and tf_mm < (2, 18):
    findings.append(Finding(
        ERROR, "numpy_version",
        f"NumPy {numpy} is installed, but TensorFlow {_mm(tf_mm)} was built against NumPy 1.x.",
        'pip install "numpy<2"' + (f" (or reinstall with -c {line.constraints})" if line else "")))
  return findings


def _import_findings(report: Report) -> List[Finding]:
  findings = []
  tf_mm = matrix.major_minor(report.packages["tensorflow"] or "0.0")
  tensorflow_fails = report.imports.get("tensorflow") is not None
  for module, needed_by in probes.IMPORTS.items():
    error = report.imports.get(module)
    if error is None or (tensorflow_fails and module in probes.NEED_TENSORFLOW):
      continue
    if module == "tensorflow" and not report.packages["tensorflow"]:
      continue  # already reported as not installed
    if module == "tf_keras" and tf_mm < (2, 16):
      continue  # Model Garden before 2.16 does not use tf_keras
    line = matrix.line_for(report.packages["tensorflow"])
    remedy = (f"Reinstall the tested set: {line.install_command(gpu=False)}" if line
              else matrix.install_advice(gpu=False))
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
  line = matrix.line_for(tf_version)
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
           if line else matrix.install_advice(gpu=True))))
    elif matrix.kernel_source(gpu.get("compute_capability"),
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
        "driver first. " + matrix.install_advice(gpu=True))]
  if driver.get("found"):
    return [Finding(
        WARNING, "cpu_only_build",
        f"An NVIDIA driver is installed, but TensorFlow {tf_version} is built without CUDA: "
        "training runs on the CPU.",
        (line.install_command(gpu=True) if line else matrix.install_advice(gpu=True))
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
  line = matrix.line_for(tf_version)
  suited = matrix.line_for_driver(driver_cuda)
  minimum = matrix.lowest_compute_capability(build.get("cuda_compute_capabilities") or [])
  too_old = [g for g in driver.get("gpus", []) if g.get("compute_capability") and minimum
             and tuple(g["compute_capability"]) < minimum]
  if too_old:
    remedy = (f"{too_old[0]['name']} has compute capability "
              f"{'.'.join(map(str, too_old[0]['compute_capability']))}, below the "
              f"{minimum[0]}.{minimum[1]} this build supports: use a newer GPU or train on "
              "the CPU.")
  elif driver_cuda and matrix.major_minor(driver_cuda)[0] < matrix.major_minor(built_cuda)[0]:
    needed = matrix.line_of_cuda(built_cuda)
    upgrade = (f"upgrade the driver to >= {needed.min_driver}" if needed
               else f"upgrade the driver to one for CUDA {built_cuda}")
    if suited:
      remedy = (f"The driver is too old for CUDA {built_cuda}: {upgrade}, or use the CUDA "
                f"{suited.cuda_major}.x line (TensorFlow {suited.tensorflow}, built for CUDA "
                f"{suited.cuda}) in a fresh environment: {suited.install_command(gpu=True)}")
    else:
      remedy = ("The driver is too old for every tested line: upgrade it to >= "
                + " or >= ".join(f"{l.min_driver} (CUDA {l.cuda_major}.x, TensorFlow "
                                 f"{l.tensorflow})"
                                 for l in reversed(matrix.SUPPORTED_LINES)) + ".")
  elif line:
    remedy = (f"The CUDA {line.cuda} / cuDNN {line.cudnn} libraries are probably missing or "
              f"shadowed by others on LD_LIBRARY_PATH: {line.install_command(gpu=True)}")
  else:
    remedy = matrix.install_advice(gpu=True)
  return Finding(ERROR, "cuda_build_without_gpu", message, remedy)


def _ptx_jit_finding(gpu: Dict[str, Any], build: Dict[str, Any],
                     line: Optional[matrix.SupportedLine]) -> Finding:
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


def _precision_findings(report: Report) -> List[Finding]:
  gpus = report.gpus
  if gpus:
    slow = [g for g in gpus if g.get("compute_capability")
            and tuple(g["compute_capability"]) < matrix.FAST_FLOAT16_COMPUTE_CAPABILITY]
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


def _allocator_findings(report: Report) -> List[Finding]:
  allocator = report.cpu.get("allocator")
  if not allocator or allocator["pooled"]:
    return []
  cause, remedy = _runtime_cause(
      cpu_runtime.POOLED_ALLOCATOR_VARIABLE, allocator["variable"],
      "a TensorFlow tensor existed before maskrcnn_plugin was imported",
      "Import maskrcnn_plugin before running TensorFlow")
  return [Finding(WARNING, "cpu_allocator_not_pooled",
                  f"TensorFlow's CPU allocator is its default, not the pooled one ({cause}): "
                  "every large tensor faults its memory pages in again, and CPU training is "
                  "slower (the shapes demo 1.11x).", remedy)]


def _onednn_findings(report: Report) -> List[Finding]:
  onednn = report.cpu.get("onednn")
  if (not onednn or onednn["on"] is not False
      or not cpu_runtime.plugin_chooses_onednn(report.cpu["machine"])):
    return []
  cause, remedy = _runtime_cause(cpu_runtime.ONEDNN_VARIABLE, onednn["variable"],
                                 "TensorFlow was imported before maskrcnn_plugin",
                                 "Import maskrcnn_plugin before tensorflow")
  return [Finding(WARNING, "onednn_off",
                  f"TensorFlow runs Eigen's CPU kernels, not oneDNN's ({cause}): CPU training "
                  "is slower (the shapes demo 1.44x on an AVX2 CPU).", remedy)]


def _runtime_cause(name: str, value: Optional[str], too_late: str,
                   import_first: str) -> Tuple[str, str]:
  """(cause, remedy) for a CPU runtime variable of `cpu_runtime` not in effect: the user's
  0/false for `name`, or else `too_late` (TensorFlow ran before the plugin set it)."""
  if value is not None and value.strip().lower() in ("0", "false"):
    return f"{name}={value} is set in the environment", f"Unset {name} or set it to 1."
  return too_late, f"{import_first}, or export {name}=1."


def _mm(version: Tuple[int, int]) -> str:
  return f"{version[0]}.{version[1]}"
