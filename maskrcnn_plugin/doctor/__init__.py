"""Can this Python environment train Mask R-CNN, and if not, what to change.

`run_checks()` gathers facts (package versions, imports, TensorFlow's build,
the NVIDIA driver, the GPUs TensorFlow sees, CPU features) and turns every
inconsistency into a `Finding` with a remedy. No probe may raise: a failing
import or probe becomes a finding. TensorFlow is imported only inside the
probes, so a report is produced even when TensorFlow itself cannot be imported.

Modules:
  matrix    the support matrix: tested TensorFlow lines, Python versions,
            CUDA and CPU rules (data and pure functions)
  probes    what is measured on this machine, one function per fact
  report    the `Report` and its `Finding`s, with severities
  verdicts  turning a report's facts into findings
  checks    `run_checks()`: every probe into a report, then its verdicts

The names below are re-exported for callers. To replace a probe (in tests),
patch it in `probes`: `run_checks` and `training.runtime` look probes up there.
"""

from maskrcnn_plugin.doctor.checks import run_checks
from maskrcnn_plugin.doctor.matrix import (BFLOAT16_CPU_FLAGS, FAST_FLOAT16_COMPUTE_CAPABILITY,
                                           SUPPORTED_LINES, SUPPORTED_PYTHON, SupportedLine,
                                           kernel_source, line_for, line_for_driver)
from maskrcnn_plugin.doctor.probes import (IMPORTS, NEED_TENSORFLOW, PACKAGES,
                                           TENSORFLOW_DISTRIBUTIONS, cpu_flags, import_error,
                                           keras_facts, nvidia_driver, package_version,
                                           tensorflow_build_info, tensorflow_gpus)
from maskrcnn_plugin.doctor.report import ERROR, INFO, WARNING, Finding, Report
from maskrcnn_plugin.doctor.verdicts import diagnose

__all__ = [
    "BFLOAT16_CPU_FLAGS", "ERROR", "FAST_FLOAT16_COMPUTE_CAPABILITY", "IMPORTS", "INFO",
    "NEED_TENSORFLOW", "PACKAGES", "SUPPORTED_LINES", "SUPPORTED_PYTHON",
    "TENSORFLOW_DISTRIBUTIONS", "WARNING", "Finding", "Report", "SupportedLine", "cpu_flags",
    "diagnose", "import_error", "keras_facts", "kernel_source", "line_for", "line_for_driver",
    "nvidia_driver", "package_version", "run_checks", "tensorflow_build_info", "tensorflow_gpus",
]
