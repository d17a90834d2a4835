"""Schedule, runtime, optimizer and learning-rate settings: values and errors."""

import gin
import pytest

from maskrcnn_plugin import training
from maskrcnn_plugin.errors import UserError
from maskrcnn_plugin.training import optimization, runtime
from registry import ConstraintError


def test_summary_interval_must_be_a_multiple_of_steps_per_loop():
  with pytest.raises(UserError, match=r"summary_interval \(150\) must be a positive multiple of "
                                      r"schedule.steps_per_loop \(100\).*= 100"):
    training.Schedule(steps_per_loop=100, summary_interval=150)
  assert training.Schedule(steps_per_loop=50).summary_interval == 50


@pytest.mark.parametrize("field", ["train_steps", "steps_per_loop", "checkpoint_interval"])
def test_schedule_rejects_non_positive_counts(field):
  with pytest.raises(ConstraintError, match=f"schedule.{field} = 0 is not valid: it must be an "
                                            f"int >= 1"):
    training.Schedule(**{field: 0})


def test_runtime_rejects_unknown_precision_and_float16_without_gpu():
  with pytest.raises(ConstraintError, match="runtime.mixed_precision = 'float16' is not valid"):
    runtime.Runtime(mixed_precision="float16")
  with pytest.raises(UserError, match="needs a GPU"):
    runtime.configure_devices(runtime.Runtime(mixed_precision="mixed_float16"))


@pytest.mark.parametrize("gpus, flags, expected", [
    ([], ["avx512f", "amx_bf16"], "mixed_bfloat16"),
    ([], ["avx512f", "avx512_bf16"], "mixed_bfloat16"),
    ([], ["avx2"], "float32"),
    ([(8, 0), (7, 0)], ["amx_bf16"], "mixed_float16"),
    ([(8, 0), (6, 1)], [], "float32"),
], ids=["amx", "avx512_bf16", "no_bf16_cpu", "tensor_core_gpus", "a_pascal_gpu"])
def test_auto_precision_picks_the_machines_fast_type(monkeypatch, gpus, flags, expected):
  devices = [f"GPU:{index}" for index in range(len(gpus))]
  monkeypatch.setattr(runtime.tf.config, "list_physical_devices",
                      lambda kind=None: devices if kind == "GPU" else [])
  monkeypatch.setattr(runtime.tf.config.experimental, "get_device_details",
                      lambda device: {"compute_capability": gpus[devices.index(device)]})
  monkeypatch.setattr(runtime.probes, "cpu_flags", lambda: flags)
  policy, reason = runtime.auto_precision()
  assert policy == expected and reason
  setting = runtime.Runtime(mixed_precision="auto")
  assert setting.policy == expected
  assert setting.uses_loss_scaling == (expected == "mixed_float16")


def test_strategy_is_chosen_by_one_binding():
  gin.parse_config("runtime.strategy = @strategies.one_device")
  strategy = runtime.make_strategy(runtime.Runtime())
  assert strategy.num_replicas_in_sync == 1
  assert "CPU" in strategy.extended.worker_devices[0].upper()


def test_multi_worker_needs_tf_config(monkeypatch):
  monkeypatch.delenv("TF_CONFIG", raising=False)
  with pytest.raises(UserError, match="needs the TF_CONFIG environment variable"):
    runtime.multi_worker_mirrored()


def test_linear_warmup_then_stepwise_values():
  schedule = optimization.linear_warmup(
      optimization.stepwise(boundaries=[10, 20], values=[0.1, 0.01, 0.001]),
      warmup_steps=5, warmup_learning_rate=0.0)
  assert [round(float(schedule(step)), 6) for step in (0, 5, 15, 25)] == [0.0, 0.1, 0.01, 0.001]


def test_cosine_decays_to_alpha():
  schedule = optimization.cosine(initial_learning_rate=0.1, decay_steps=100, alpha=0.1)
  assert float(schedule(0)) == pytest.approx(0.1)
  assert float(schedule(100)) == pytest.approx(0.01)


def test_stepwise_needs_one_more_value_than_boundaries():
  with pytest.raises(UserError, match="one more value than boundaries"):
    optimization.stepwise(boundaries=[10, 20], values=[0.1, 0.01])


def test_optimizers_from_gin_with_clipping():
  gin.parse_config("""
      optimization.build_optimizer.optimizer = @optimizers.adamw
      optimization.build_optimizer.learning_rate = @lr_schedules.constant()
      optimization.build_optimizer.global_clipnorm = 5.0
      optimizers.adamw.weight_decay = 0.05
  """)
  optimizer = optimization.build_optimizer()
  assert type(optimizer).__name__ == "AdamW"
  assert optimizer.global_clipnorm == 5.0 and optimizer.weight_decay == 0.05
  assert optimization.learning_rate_at(optimizer, 0) == pytest.approx(0.01)
  sgd = optimization.sgd(0.1, momentum=0.8)
  assert type(sgd).__name__ == "SGD" and sgd.momentum == 0.8


def test_build_optimizer_needs_a_factory_not_an_instance():
  with pytest.raises(UserError, match=r"without '\(\)'"):
    optimization.build_optimizer(optimizer=0.1, learning_rate=0.1)
