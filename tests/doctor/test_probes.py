"""doctor's probes parse what they read and never raise."""

import subprocess

import pytest

from maskrcnn_plugin.doctor import matrix, probes


def test_import_error_is_one_line_for_missing_and_raising_modules(tmp_path, monkeypatch):
  (tmp_path / "raises_on_import.py").write_text("raise RuntimeError('first\\nlast line')\n")
  (tmp_path / "exits_on_import.py").write_text("import sys\nsys.exit('bye')\n")
  monkeypatch.syspath_prepend(str(tmp_path))
  assert probes.import_error("json") is None
  assert probes.import_error("no_such_module_xyz") == (
      "ModuleNotFoundError: No module named 'no_such_module_xyz'")
  assert probes.import_error("raises_on_import") == "RuntimeError: last line"
  assert probes.import_error("exits_on_import") == "SystemExit: bye"


def test_package_version_of_a_missing_distribution_is_none():
  assert probes.package_version("pytest") == pytest.__version__
  assert probes.package_version("no-such-distribution-xyz") is None


def test_nvidia_smi_output_is_parsed(monkeypatch):
  calls = []

  def fake_run(command, **kwargs):
    calls.append(command)
    return subprocess.CompletedProcess(command, 0, stdout=(
        "NVIDIA A100-SXM4-40GB, 40960, 535.104.05, 8.0\nTesla T4, 15360, 535.104.05, 7.5\n"))
  monkeypatch.setattr(probes.shutil, "which", lambda name: "/usr/bin/nvidia-smi")
  monkeypatch.setattr(probes.subprocess, "run", fake_run)
  gpus, driver_version = probes._nvidia_smi_gpus()  # pylint: disable=protected-access
  assert driver_version == "535.104.05"
  assert gpus == [
      {"name": "NVIDIA A100-SXM4-40GB", "memory_mb": 40960, "compute_capability": [8, 0]},
      {"name": "Tesla T4", "memory_mb": 15360, "compute_capability": [7, 5]}]
  assert len(calls) == 1


def test_nvidia_smi_without_compute_cap_field_is_queried_again(monkeypatch):
  def fake_run(command, **kwargs):
    if "compute_cap" in command[1]:
      return subprocess.CompletedProcess(command, 2, stdout="", stderr="Field not valid")
    return subprocess.CompletedProcess(command, 0, stdout="Tesla K80, 11441, 470.82.01\n")
  monkeypatch.setattr(probes.shutil, "which", lambda name: "/usr/bin/nvidia-smi")
  monkeypatch.setattr(probes.subprocess, "run", fake_run)
  gpus, driver_version = probes._nvidia_smi_gpus()  # pylint: disable=protected-access
  assert driver_version == "470.82.01"
  assert gpus == [{"name": "Tesla K80", "memory_mb": 11441, "compute_capability": None}]


def test_no_nvidia_smi_means_no_gpus(monkeypatch):
  monkeypatch.setattr(probes.shutil, "which", lambda name: None)
  assert probes._nvidia_smi_gpus() == ([], None)  # pylint: disable=protected-access


def test_lowest_compute_capability_of_a_build():
  lowest = matrix.lowest_compute_capability
  assert lowest(["sm_60", "sm_70", "sm_89", "compute_90"]) == (6, 0)
  assert lowest(["sm_35", "compute_80"]) == (3, 5)
  assert lowest([]) is None


@pytest.mark.parametrize("text, version", [
    ("NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 01:15:15 UTC 2023\n",
     "535.104.05"),
    ("NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  550.54.14  Release Build\n",
     "550.54.14")])
def test_driver_version_from_the_kernel_module(tmp_path, monkeypatch, text, version):
  proc_file = tmp_path / "version"
  proc_file.write_text(text)
  monkeypatch.setattr(probes, "PROC_DRIVER_VERSION", str(proc_file))
  monkeypatch.setattr(probes, "_libcuda_driver_version", lambda: None)
  monkeypatch.setattr(probes.shutil, "which", lambda name: None)
  assert probes.nvidia_driver() == {"found": True, "driver_version": version,
                                    "cuda_version": None, "gpus": []}


def test_no_driver_at_all(tmp_path, monkeypatch):
  monkeypatch.setattr(probes, "PROC_DRIVER_VERSION", str(tmp_path / "missing"))
  monkeypatch.setattr(probes, "_libcuda_driver_version", lambda: None)
  monkeypatch.setattr(probes.shutil, "which", lambda name: None)
  assert probes.nvidia_driver()["found"] is False
