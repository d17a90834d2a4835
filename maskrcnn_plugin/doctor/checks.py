"""Running every probe into a `Report` and judging it: what `maskrcnn doctor` calls."""

import platform
import sys
from typing import Any, Dict, Sequence

from maskrcnn_plugin.doctor import matrix, probes, verdicts
from maskrcnn_plugin.doctor.report import Report


def run_checks(*, run_on_gpu: bool = True) -> Report:
  """Probes the environment and returns the report with its findings.

  No probe failure escapes: a probe that raises is recorded in
  `Report.probe_errors` (and becomes a warning), and the TensorFlow probes run
  only when TensorFlow imports.

  Args:
    run_on_gpu: Initialize the GPUs to read their memory and run a tiny
      convolution on each (see `probes.tensorflow_gpus`).
  """
  tensorflow_version = next(
      (v for v in map(probes.package_version, probes.TENSORFLOW_DISTRIBUTIONS) if v), None)
  packages = {"tensorflow": tensorflow_version}
  packages.update((name, probes.package_version(name)) for name in probes.PACKAGES)
  imports = {module: probes.import_error(module) for module in probes.IMPORTS}
  probe_errors = {}
  report = Report(
      python={"version": platform.python_version(), "executable": sys.executable},
      packages=packages, imports=imports, keras={}, tensorflow_build={},
      driver=_probe("NVIDIA driver", probes.nvidia_driver, {"found": False}, probe_errors),
      gpus=[], cpu=_cpu_report(_probe("CPU flags", probes.cpu_flags, [], probe_errors)),
      probe_errors=probe_errors)
  if imports["tensorflow"] is None:
    report.tensorflow_build = _probe("TensorFlow build", probes.tensorflow_build_info, {},
                                     probe_errors)
    report.gpus = _probe("TensorFlow GPUs",
                         lambda: probes.tensorflow_gpus(run_on_gpu=run_on_gpu), [], probe_errors)
    report.keras = _probe("Keras", probes.keras_facts, {}, probe_errors)
    report.cpu["allocator"] = _probe("CPU allocator", probes.cpu_allocator_facts, {},
                                     probe_errors)
    report.cpu["onednn"] = _probe("oneDNN", probes.onednn_facts, {}, probe_errors)
  report.findings = verdicts.diagnose(report)
  return report


def _probe(name: str, probe, fallback, probe_errors: Dict[str, str]):
  """Runs `probe`; on failure records the error under `name` and returns `fallback`."""
  try:
    return probe()
  except Exception as error:  # pylint: disable=broad-except
    probe_errors[name] = f"{type(error).__name__}: {error}"
    return fallback


def _cpu_report(flags: Sequence[str]) -> Dict[str, Any]:
  found = [flag for flag in matrix.BFLOAT16_CPU_FLAGS if flag in flags]
  return {"machine": platform.machine(), "bfloat16_flags": found, "bfloat16": bool(found)}
