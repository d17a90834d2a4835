"""A simulated environment for doctor: every probe replaced by editable data."""

import copy

import pytest

from maskrcnn_plugin import doctor
from maskrcnn_plugin.doctor import probes

# A consistent TF 2.20 set-up on a CPU-only machine with the CUDA build of TensorFlow.
HEALTHY = {
    "versions": {"tensorflow": "2.20.0", "tf-models-official": "2.20.0", "tf-keras": "2.20.1",
                 "keras": "3.15.1", "gin-config": "0.5.0", "pycocotools": "2.0.11",
                 "numpy": "2.4.6", "protobuf": "7.36.2", "maskrcnn-plugin": "0.1.0"},
    "build": {"version": "2.20.0", "is_cuda_build": True, "cuda_version": "12.5.1",
              "cudnn_version": "9", "cuda_compute_capabilities": ["sm_60", "sm_70", "sm_80",
                                                                  "sm_89", "compute_90"]},
    "driver": {"found": False, "driver_version": None, "cuda_version": None, "gpus": []},
    "keras": {"legacy_keras_variable": "1",
              "model_garden": {"package": "tf_keras", "version": "2.20.1", "keras_major": 2},
              "tf_keras": {"package": "tf_keras", "version": "2.20.1", "keras_major": 2},
              "same": True},
}


class FakeEnvironment:
  """Holds what each probe in `doctor.probes` returns; edit the attributes, then `check()`."""

  def __init__(self, monkeypatch):
    self.versions = copy.deepcopy(HEALTHY["versions"])
    self.import_errors = {}
    self.build = copy.deepcopy(HEALTHY["build"])
    self.gpus = []
    self.driver = copy.deepcopy(HEALTHY["driver"])
    self.cpu_flags = ["fpu", "avx2", "avx512f"]
    self.keras = copy.deepcopy(HEALTHY["keras"])
    self.allocator = {"variable": "1", "pooled": True}
    self.onednn = {"variable": "1", "on": True}
    self.probed_tensorflow = False
    monkeypatch.setattr(probes, "package_version", self.versions.get)
    monkeypatch.setattr(probes, "import_error", self.import_errors.get)
    monkeypatch.setattr(probes, "tensorflow_build_info", lambda: self._tf_probe(self.build))
    monkeypatch.setattr(probes, "tensorflow_gpus",
                        lambda run_on_gpu=True: self._tf_probe(self.gpus))
    monkeypatch.setattr(probes, "keras_facts", lambda: self._tf_probe(self.keras))
    monkeypatch.setattr(probes, "cpu_allocator_facts", lambda: self._tf_probe(self.allocator))
    monkeypatch.setattr(probes, "onednn_facts", lambda: self._tf_probe(self.onednn))
    monkeypatch.setattr(probes, "nvidia_driver", lambda: self.driver)
    monkeypatch.setattr(probes, "cpu_flags", lambda: self.cpu_flags)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)

  def _tf_probe(self, value):
    self.probed_tensorflow = True
    return value

  def use_tensorflow_2_14(self):
    self.versions.update({"tensorflow": "2.14.1", "tf-models-official": "2.14.2",
                          "tf-keras": "2.14.1", "keras": "2.14.0", "numpy": "1.26.4"})
    self.build.update(version="2.14.1", cuda_version="11.8", cudnn_version="8",
                      cuda_compute_capabilities=["sm_35", "sm_50", "sm_60", "sm_70", "sm_75",
                                                 "compute_80"])
    keras = {"package": "keras", "version": "2.14.0", "keras_major": 2}
    self.keras.update(model_garden=keras, tf_keras=dict(keras))

  def add_gpu(self, name="NVIDIA A100-SXM4-40GB", capability=(8, 0), compute_error=None):
    self.gpus.append({"device": f"/physical_device:GPU:{len(self.gpus)}", "name": name,
                      "compute_capability": list(capability), "memory_growth": False,
                      "memory_limit_mb": 38000, "compute_error": compute_error})

  def check(self) -> doctor.Report:
    return doctor.run_checks()


@pytest.fixture
def env(monkeypatch):
  return FakeEnvironment(monkeypatch)
