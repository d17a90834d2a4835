"""doctor's verdicts on simulated set-ups, consistent and broken."""

import platform

import pytest

from maskrcnn_plugin import doctor
from maskrcnn_plugin.doctor import probes


def _checks(report, severity=None):
  return [f.check for f in report.findings if severity is None or f.severity == severity]


def _finding(report, check):
  matches = [f for f in report.findings if f.check == check]
  assert matches, f"no {check!r} finding in {_checks(report)}"
  return matches[0]


def test_consistent_cpu_setup_can_train_with_only_the_no_gpu_warning(env):
  report = env.check()
  assert report.can_train
  assert _checks(report, doctor.ERROR) == []
  assert _checks(report, doctor.WARNING) == ["no_gpu"]
  assert "cpu_float32" in _checks(report, doctor.INFO)


def test_consistent_tensorflow_2_14_setup_can_train(env):
  env.use_tensorflow_2_14()
  report = env.check()
  assert report.can_train, report.findings
  assert _checks(report, doctor.WARNING) == ["no_gpu"]


def test_tf_keras_of_another_tensorflow_version_is_an_error_from_2_16(env):
  env.versions["tf-keras"] = "2.21.0"
  report = env.check()
  assert not report.can_train
  finding = _finding(report, "tf_keras_version")
  assert finding.severity == doctor.ERROR
  assert "tf-keras 2.21.0 does not match TensorFlow 2.20.0" in finding.message
  assert finding.remedy == 'pip install "tf-keras==2.20.*"'


def test_tf_keras_mismatch_under_2_14_is_only_a_warning(env):
  # Model Garden 2.14 uses tf.keras; pip picks tf-keras 2.15.0 there without constraints.
  env.use_tensorflow_2_14()
  env.versions["tf-keras"] = "2.15.0"
  report = env.check()
  assert report.can_train
  finding = _finding(report, "tf_keras_version")
  assert finding.severity == doctor.WARNING
  assert finding.remedy == 'pip install "tf-keras==2.14.*"'


def test_missing_tf_keras_is_an_error_only_where_model_garden_needs_it(env):
  del env.versions["tf-keras"]
  assert _finding(env.check(), "tf_keras_missing").severity == doctor.ERROR
  env.use_tensorflow_2_14()
  del env.versions["tf-keras"]
  assert "tf_keras_missing" not in _checks(env.check())


def test_model_garden_of_another_line_is_an_error(env):
  env.versions["tf-models-official"] = "2.14.2"
  report = env.check()
  assert not report.can_train
  finding = _finding(report, "model_garden_version")
  assert "tf-models-official 2.14.2 does not match TensorFlow 2.20.0" in finding.message
  assert 'pip install "tf-models-official==2.20.*"' in finding.remedy
  assert "constraints/tf2.20-py311.txt" in finding.remedy


def test_numpy_2_with_tensorflow_2_14_is_an_error(env):
  env.use_tensorflow_2_14()
  env.versions["numpy"] = "2.1.0"
  finding = _finding(env.check(), "numpy_version")
  assert finding.severity == doctor.ERROR
  assert 'pip install "numpy<2"' in finding.remedy


def test_tensorflow_not_installed_names_both_lines(env):
  del env.versions["tensorflow"]
  env.import_errors["tensorflow"] = "ModuleNotFoundError: No module named 'tensorflow'"
  report = env.check()
  assert not report.can_train
  assert _checks(report, doctor.ERROR) == ["tensorflow_missing"]
  remedy = _finding(report, "tensorflow_missing").remedy
  assert "constraints/tf2.20-py311.txt" in remedy and "constraints/tf2.14-py311.txt" in remedy


def test_failing_tensorflow_import_is_reported_and_tensorflow_is_not_probed(env):
  error = "ImportError: libcudart.so.11.0: cannot open shared object"
  for module in ("tensorflow", *doctor.NEED_TENSORFLOW):
    env.import_errors[module] = error
  report = env.check()
  assert not report.can_train
  assert _checks(report, doctor.ERROR) == ["import_tensorflow"]  # not its consequences
  finding = _finding(report, "import_tensorflow")
  assert "libcudart.so.11.0" in finding.message
  assert "constraints/tf2.20-py311.txt" in finding.remedy
  assert not env.probed_tensorflow
  assert report.tensorflow_build == {} and report.gpus == [] and report.keras == {}


def test_failing_model_garden_import_is_an_error(env):
  env.import_errors["official.vision.modeling.maskrcnn_model"] = "ImportError: cannot import x"
  finding = _finding(env.check(), "import_official")
  assert finding.severity == doctor.ERROR
  assert "tf-models-official" in finding.message and "cannot import x" in finding.message


def test_tf_keras_import_failure_is_ignored_before_2_16(env):
  env.use_tensorflow_2_14()
  env.import_errors["tf_keras"] = "ImportError: something"
  assert env.check().can_train


def test_a_probe_that_raises_becomes_a_warning_not_a_crash(env, monkeypatch):
  def broken():
    raise RuntimeError("driver query exploded")
  monkeypatch.setattr(probes, "nvidia_driver", broken)
  report = env.check()
  assert report.can_train
  assert "driver query exploded" in _finding(report, "probe_failed").message
  assert report.driver == {"found": False}


def test_keras3_tf_keras_after_late_legacy_setting_is_a_warning(env):
  env.keras.update(same=False, tf_keras={"package": "keras", "version": "3.15.1",
                                         "keras_major": 3})
  report = env.check()
  assert report.can_train
  finding = _finding(report, "tf_keras_is_keras3")
  assert finding.severity == doctor.WARNING
  assert "`tf.keras` is keras 3.15.1 (Keras 3)" in finding.message
  assert "was used before TF_USE_LEGACY_KERAS=1 took effect" in finding.message
  assert "Import maskrcnn_plugin before using tf.keras" in finding.remedy


def test_keras3_tf_keras_chosen_by_the_environment_says_to_unset_it(env):
  env.keras.update(same=False, legacy_keras_variable="0",
                   tf_keras={"package": "keras", "version": "3.15.1", "keras_major": 3})
  finding = _finding(env.check(), "tf_keras_is_keras3")
  assert "TF_USE_LEGACY_KERAS='0'" in finding.message
  assert finding.remedy == "Unset TF_USE_LEGACY_KERAS or set it to 1."


def test_cuda12_build_on_a_cuda11_driver_points_to_the_2_14_line(env):
  env.driver.update(found=True, driver_version="470.82.01", cuda_version="11.4",
                    gpus=[{"name": "Tesla T4", "memory_mb": 15360, "compute_capability": [7, 5]}])
  report = env.check()
  assert not report.can_train
  finding = _finding(report, "cuda_build_without_gpu")
  assert "built for CUDA 12.5.1" in finding.message
  assert "driver 470.82.01" in finding.message and "CUDA up to 11.4" in finding.message
  assert "upgrade the driver to >= 525.60.13" in finding.remedy
  assert "TensorFlow 2.14, built for CUDA 11.8" in finding.remedy
  assert "constraints/tf2.14-cuda11.8-gpu.txt" in finding.remedy


def test_cuda_build_on_a_matching_driver_without_gpu_blames_the_libraries(env):
  env.use_tensorflow_2_14()
  env.driver.update(found=True, driver_version="535.104.05", cuda_version="12.2")
  finding = _finding(env.check(), "cuda_build_without_gpu")
  assert finding.severity == doctor.ERROR
  assert "CUDA 11.8 / cuDNN 8.7 libraries are probably missing" in finding.remedy
  assert ('pip install -c constraints/tf2.14-py311.txt "tensorflow==2.14.*" '
          "-r constraints/tf2.14-cuda11.8-gpu.txt -e .") in finding.remedy


def test_driver_too_old_for_every_line(env):
  env.driver.update(found=True, driver_version="418.67", cuda_version="10.1")
  remedy = _finding(env.check(), "cuda_build_without_gpu").remedy
  assert "too old for every tested line" in remedy
  assert ">= 450.80.02 (CUDA 11.x, TensorFlow 2.14)" in remedy


def test_gpu_below_the_builds_compute_capability(env):
  env.driver.update(found=True, driver_version="535.104.05", cuda_version="12.2",
                    gpus=[{"name": "Tesla K80", "memory_mb": 11441, "compute_capability": [3, 7]}])
  remedy = _finding(env.check(), "cuda_build_without_gpu").remedy
  assert "Tesla K80 has compute capability 3.7, below the 6.0 this build supports" in remedy


def test_hidden_gpus_are_a_warning(env, monkeypatch):
  monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
  env.driver.update(found=True, driver_version="535.104.05", cuda_version="12.2")
  report = env.check()
  assert report.can_train
  assert _checks(report, doctor.WARNING) == ["gpus_hidden"]


def test_cpu_only_build_with_a_driver_is_a_warning(env):
  env.build.update(is_cuda_build=False)
  env.driver.update(found=True, driver_version="535.104.05", cuda_version="12.2")
  finding = _finding(env.check(), "cpu_only_build")
  assert finding.severity == doctor.WARNING
  assert '"tensorflow[and-cuda]==2.20.*"' in finding.remedy


def test_visible_gpu_that_cannot_compute_is_an_error(env):
  env.add_gpu(compute_error="InternalError: cuDNN launch failure")
  env.driver.update(found=True, driver_version="535.104.05", cuda_version="12.2")
  report = env.check()
  assert not report.can_train
  finding = _finding(report, "gpu_unusable")
  assert "cuDNN launch failure" in finding.message
  assert '"tensorflow[and-cuda]==2.20.*"' in finding.remedy


def test_volta_and_newer_gpus_make_float16_fast(env):
  env.add_gpu(capability=(7, 0))
  env.add_gpu(capability=(8, 6))
  report = env.check()
  assert report.can_train
  assert _checks(report) == ["float16_fast"]


def test_pascal_gpu_makes_float16_slow(env):
  env.add_gpu(name="Tesla P100", capability=(6, 0))
  finding = _finding(env.check(), "float16_slow")
  assert finding.severity == doctor.WARNING and "Tesla P100 (6.0)" in finding.message


def test_cpu_bfloat16_flags_are_reported(env):
  env.cpu_flags.append("amx_bf16")
  report = env.check()
  assert report.cpu["bfloat16"] and report.cpu["bfloat16_flags"] == ["amx_bf16"]
  assert "cpu_bfloat16" in _checks(report, doctor.INFO)


@pytest.mark.parametrize("variable, remedy", [
    ("0", "Unset TF_CPU_ALLOCATOR_USE_BFC or set it to 1."),
    ("1", "Import maskrcnn_plugin before running TensorFlow, or export TF_CPU_ALLOCATOR_USE_BFC=1."),
])
def test_unpooled_cpu_allocator_is_a_warning_naming_its_cause(env, variable, remedy):
  env.allocator.update(variable=variable, pooled=False)
  report = env.check()
  finding = _finding(report, "cpu_allocator_not_pooled")
  assert report.can_train and finding.severity == doctor.WARNING
  assert finding.remedy == remedy
  assert ("TF_CPU_ALLOCATOR_USE_BFC=0 is set" in finding.message) == (variable == "0")


def test_pooled_cpu_allocator_is_no_finding(env):
  report = env.check()
  assert report.cpu["allocator"] == {"variable": "1", "pooled": True}
  assert "cpu_allocator_not_pooled" not in _checks(report)


@pytest.mark.parametrize("variable, remedy", [
    ("0", "Unset TF_ENABLE_ONEDNN_OPTS or set it to 1."),
    ("False", "Unset TF_ENABLE_ONEDNN_OPTS or set it to 1."),
    (None, "Import maskrcnn_plugin before tensorflow, or export TF_ENABLE_ONEDNN_OPTS=1."),
])
def test_onednn_off_on_x86_is_a_warning_naming_its_cause(env, monkeypatch, variable, remedy):
  monkeypatch.setattr(platform, "machine", lambda: "x86_64")
  env.onednn.update(variable=variable, on=False)
  report = env.check()
  finding = _finding(report, "onednn_off")
  assert report.can_train and finding.severity == doctor.WARNING
  assert finding.remedy == remedy
  assert (f"TF_ENABLE_ONEDNN_OPTS={variable} is set" in finding.message) == (variable is not None)


@pytest.mark.parametrize("machine, on", [("x86_64", True), ("x86_64", None), ("aarch64", False)])
def test_onednn_on_unknown_or_not_chosen_is_no_finding(env, monkeypatch, machine, on):
  monkeypatch.setattr(platform, "machine", lambda: machine)
  env.onednn.update(on=on)
  report = env.check()
  assert report.cpu["onednn"]["on"] is on
  assert "onednn_off" not in _checks(report)


def test_untested_python_is_a_warning(env, monkeypatch):
  monkeypatch.setattr(platform, "python_version", lambda: "3.13.1")
  report = env.check()
  assert report.can_train and "python_version" in _checks(report, doctor.WARNING)


@pytest.mark.parametrize("driver_cuda, expected", [
    ("13.0", "2.20"), ("12.2", "2.20"), ("11.4", "2.14"), ("10.2", None), (None, None)])
def test_line_for_driver(driver_cuda, expected):
  line = doctor.line_for_driver(driver_cuda)
  assert (line.tensorflow if line else None) == expected


def test_install_commands_name_existing_constraints_files():
  from pathlib import Path  # pylint: disable=import-outside-toplevel
  root = Path(__file__).resolve().parents[2]
  for line in doctor.SUPPORTED_LINES:
    for command in (line.install_command(gpu=False), line.install_command(gpu=True)):
      for word in command.split():
        if word.startswith("constraints/"):
          assert (root / word).is_file(), word


@pytest.mark.parametrize("capability, expected", [
    ((7, 0), "native"), ((7, 5), "native"), ((8, 0), "ptx"), ((8, 6), "ptx"), ((9, 0), "ptx"),
    ((3, 5), "native"), ((3, 0), None), (None, None)])
def test_kernel_source_of_the_tensorflow_2_14_build(capability, expected):
  build = ["sm_35", "sm_50", "sm_60", "sm_70", "sm_75", "compute_80"]
  assert doctor.kernel_source(capability, build) == expected


def test_gpu_without_machine_code_in_the_build_warns_about_ptx_jit(env):
  env.use_tensorflow_2_14()
  env.add_gpu(name="NVIDIA A100-SXM4-40GB", capability=(8, 0))
  report = env.check()
  assert report.can_train
  finding = _finding(report, "gpu_ptx_jit")
  assert "no machine code for NVIDIA A100-SXM4-40GB (compute capability 8.0" in finding.message
  assert "needs a driver >= 520.61.05" in finding.message
  assert "CUDA_CACHE_MAXSIZE" in finding.remedy


def test_gpu_with_machine_code_in_the_build_has_no_ptx_warning(env):
  env.add_gpu(name="NVIDIA L4", capability=(8, 9))
  assert "gpu_ptx_jit" not in _checks(env.check())
