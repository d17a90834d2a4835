"""`maskrcnn doctor`: exit status, text and JSON output."""

import argparse
import json
import os
import platform
import subprocess
import sys

import pytest
import tensorflow as tf

from maskrcnn_plugin import cpu_runtime, doctor
from maskrcnn_plugin.cli import doctor as doctor_command
from maskrcnn_plugin.cli.main import main


def _run(json_output):
  return doctor_command.run_doctor(argparse.Namespace(json=json_output))


def test_exit_status_is_zero_with_warnings_only(env, capsys):
  assert _run(False) == 0
  out = capsys.readouterr().out
  assert "WARNING [no_gpu]" in out
  assert "This set-up can train." in out


def test_exit_status_is_one_with_an_error(env, capsys):
  env.versions["tf-keras"] = "2.21.0"
  assert _run(False) == 1
  out = capsys.readouterr().out
  assert "ERROR [tf_keras_version] tf-keras 2.21.0 does not match TensorFlow 2.20.0" in out
  assert '    fix: pip install "tf-keras==2.20.*"' in out
  assert "This set-up cannot train" in out


def test_text_lists_gpus_and_failing_imports(env, capsys):
  env.add_gpu(name="Tesla T4", capability=(7, 5), compute_error="InternalError: no cuDNN")
  env.import_errors["orbit"] = "ModuleNotFoundError: No module named 'orbit'"
  assert _run(False) == 1
  out = capsys.readouterr().out
  assert ("/physical_device:GPU:0  Tesla T4: compute capability 7.5, 37.1 GiB usable, "
          "memory growth off, FAILS: InternalError: no cuDNN") in out
  assert "  orbit: ModuleNotFoundError: No module named 'orbit'" in out


def test_json_output_parses_and_matches_the_exit_status(env, capsys):
  env.versions["tf-models-official"] = "2.14.2"
  assert _run(True) == 1
  report = json.loads(capsys.readouterr().out)
  assert report["can_train"] is False
  assert report["packages"]["tf-models-official"] == "2.14.2"
  assert {"severity": "error", "check": "model_garden_version"}.items() <= (
      report["findings"][0].items())


@pytest.mark.smoke
def test_real_run_through_main(capsys):
  """No simulation: this environment (the CI's) must be able to train."""
  assert main(["doctor", "--json"]) == 0
  report = json.loads(capsys.readouterr().out)
  assert report["packages"]["tensorflow"] == tf.__version__
  assert report["imports"] == {module: None for module in doctor.IMPORTS}
  assert report["keras"]["same"] is True
  assert report["cpu"]["allocator"]["pooled"] is True  # The suite imports the plugin first.
  if cpu_runtime.plugin_chooses_onednn(platform.machine()):
    assert report["cpu"]["onednn"] == {"variable": "1", "on": True}
  assert report["tensorflow_build"]["version"] == tf.__version__
  assert main(["doctor"]) == 0
  out = capsys.readouterr().out
  assert "This set-up can train." in out
  assert "CPU allocator          pooled, TF_CPU_ALLOCATOR_USE_BFC=1" in out
  if cpu_runtime.plugin_chooses_onednn(platform.machine()):
    assert "oneDNN                 on, TF_ENABLE_ONEDNN_OPTS=1" in out


@pytest.mark.smoke
def test_broken_tensorflow_is_reported_not_a_crash(tmp_path):
  """`maskrcnn doctor` in a process where `import tensorflow` raises."""
  fake = tmp_path / "tensorflow"
  fake.mkdir()
  (fake / "__init__.py").write_text("raise ImportError('libcudart.so.11.0: cannot open shared')\n")
  env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), *sys.path]))
  result = subprocess.run(
      [sys.executable, "-c", "import sys; from maskrcnn_plugin.cli.main import main; "
       "sys.exit(main(['doctor', '--json']))"],
      env=env, capture_output=True, text=True, timeout=300, check=False)
  assert result.returncode == 1, result.stderr[-3000:]
  report = json.loads(result.stdout)
  assert report["can_train"] is False
  assert report["imports"]["tensorflow"] == (
      "ImportError: libcudart.so.11.0: cannot open shared")
  assert [f["check"] for f in report["findings"] if f["severity"] == "error"] == [
      "import_tensorflow"]
