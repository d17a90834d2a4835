"""`maskrcnn doctor`: versions, TensorFlow build, GPUs and what to fix.

Exit status 0 when the set-up can train (warnings allowed), 1 otherwise.
"""

import json
from typing import Any, Dict, List

from maskrcnn_plugin import doctor

_NOT_INSTALLED = "not installed"


def add_commands(subparsers) -> None:
  parser = subparsers.add_parser(
      "doctor", help="check TensorFlow, Keras, Model Garden, CUDA and GPUs; say what to fix")
  parser.add_argument("--json", action="store_true", help="print the report as JSON")
  parser.set_defaults(run=run_doctor)


def run_doctor(args) -> int:
  report = doctor.run_checks()
  if args.json:
    print(json.dumps(report.to_dict(), indent=2))
  else:
    print("\n".join(format_report(report)))
  return 0 if report.can_train else 1


def format_report(report: doctor.Report) -> List[str]:
  """The human-readable report, one string per line."""
  lines = [f"Python {report.python['version']} ({report.python['executable']})", "", "Packages"]
  lines += [f"  {name:<20} {version or _NOT_INSTALLED}"
            for name, version in report.packages.items()]
  failing = {module: error for module, error in report.imports.items() if error}
  lines += ["", "Imports", *(f"  {module}: {error}" for module, error in failing.items())]
  if not failing:
    lines.append(f"  all {len(report.imports)} modules import")
  if report.keras:
    keras = report.keras
    lines += ["", "Keras",
              f"  Model Garden uses    {_keras_name(keras['model_garden'])}",
              f"  tf.keras is          {_keras_name(keras['tf_keras'])}"
              + (", the same" if keras["same"] else ", NOT the same"),
              f"  TF_USE_LEGACY_KERAS  {keras['legacy_keras_variable'] or '(not set)'}"]
  lines += ["", *_build_lines(report.tensorflow_build), "", *_gpu_lines(report)]
  cpu = report.cpu
  lines += ["", f"CPU                    {cpu['machine']}, bfloat16 instructions: "
            + (", ".join(cpu["bfloat16_flags"]) if cpu["bfloat16"] else "none")]
  if cpu.get("allocator"):
    variable = cpu["allocator"]["variable"]
    lines.append("CPU allocator          " + ("pooled" if cpu["allocator"]["pooled"]
                                              else "TensorFlow's default (not pooled)")
                 + f", TF_CPU_ALLOCATOR_USE_BFC={variable or '(not set)'}")
  if cpu.get("onednn"):
    state = {True: "on", False: "off (Eigen's kernels)", None: "unknown"}[cpu["onednn"]["on"]]
    lines.append(f"oneDNN                 {state}, "
                 f"TF_ENABLE_ONEDNN_OPTS={cpu['onednn']['variable'] or '(not set)'}")
  lines += ["", "Verdict"]
  for finding in report.findings:
    lines.append(f"  {finding.severity.upper()} [{finding.check}] {finding.message}")
    if finding.remedy:
      remedy = finding.remedy.splitlines()
      lines.append(f"    fix: {remedy[0]}")
      lines += [f"    {line}" for line in remedy[1:]]
  lines.append("  This set-up can train." if report.can_train else
               "  This set-up cannot train: fix the errors above, then run `maskrcnn doctor` again.")
  return lines


def _keras_name(keras: Dict[str, Any]) -> str:
  return f"{keras['package']} {keras['version'] or '?'} (Keras {keras['keras_major'] or '?'})"


def _build_lines(build: Dict[str, Any]) -> List[str]:
  if not build:
    return ["TensorFlow build       unknown (TensorFlow does not import)"]
  if not build.get("is_cuda_build"):
    return [f"TensorFlow build       {build['version']}, without CUDA"]
  return [f"TensorFlow build       {build['version']}, CUDA {build.get('cuda_version')}, "
          f"cuDNN {build.get('cudnn_version')}",
          f"  compute capability   {', '.join(build.get('cuda_compute_capabilities') or [])}"]


def _gpu_lines(report: doctor.Report) -> List[str]:
  driver = report.driver
  if driver.get("found"):
    lines = [f"NVIDIA driver          {driver.get('driver_version') or '?'}, supports CUDA "
             f"{driver.get('cuda_version') or '?'}"]
    lines += [f"  {gpu['name']}: compute capability {_capability(gpu)}, "
              f"{_memory(gpu.get('memory_mb'))}" for gpu in driver.get("gpus", [])]
  else:
    lines = ["NVIDIA driver          not found"]
  if not report.gpus:
    return lines + ["GPUs TensorFlow sees   none"]
  lines.append("GPUs TensorFlow sees")
  for gpu in report.gpus:
    usable = gpu.get("memory_limit_mb")
    lines.append(
        f"  {gpu['device']}  {gpu['name']}: compute capability {_capability(gpu)}, "
        + (f"{_memory(usable)} usable, " if usable else "")
        + f"memory growth {'on' if gpu['memory_growth'] else 'off'}"
        + (f", FAILS: {gpu['compute_error']}" if gpu.get("compute_error") else ""))
  return lines


def _capability(gpu: Dict[str, Any]) -> str:
  capability = gpu.get("compute_capability")
  return ".".join(map(str, capability)) if capability else "?"


def _memory(megabytes) -> str:
  return f"{megabytes / 1024:.1f} GiB" if megabytes else "memory unknown"
