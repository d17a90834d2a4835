"""Train, evaluate, resume and guard against non-finite losses on tiny data."""

import glob
import json
import os
import re
import shutil

import gin
import numpy as np
import pytest
import tensorflow as tf

from helpers import model_garden_training as fixtures
from maskrcnn_plugin import training
from maskrcnn_plugin.errors import UserError
from maskrcnn_plugin.gin_config import bound_value, parse_gin
from maskrcnn_plugin.keras_setup import model_garden_keras

BASE_BINDINGS = """
schedule.train_steps = 4
schedule.steps_per_loop = 2
schedule.checkpoint_interval = 2
optimization.build_optimizer.optimizer = @optimizers.sgd
optimization.build_optimizer.learning_rate = @lr_schedules.linear_warmup()
lr_schedules.linear_warmup.schedule = @lr_schedules.constant()
lr_schedules.linear_warmup.warmup_steps = 2
lr_schedules.linear_warmup.warmup_learning_rate = 0.001
lr_schedules.constant.learning_rate = 0.01
"""


def run_tiny(records, model_dir, mode, bindings="", printer=None):
  """Parses BASE_BINDINGS + `bindings` and runs; returns (result, printed lines)."""
  lines = []
  gin.clear_config()
  gin.parse_config(BASE_BINDINGS + bindings)
  try:
    result = training.run(str(model_dir), mode, inputs=fixtures.tiny_inputs(records),
                          printer=printer or lines.append)
  finally:
    gin.clear_config()
  return result, lines


@pytest.fixture(scope="module")
def trained(records, tmp_path_factory):
  """A train_and_eval run of 4 steps; the test that needs the folder copies it."""
  model_dir = tmp_path_factory.mktemp("trained") / "run"
  result, lines = run_tiny(records, model_dir, "train_and_eval")
  return result, lines


def event_tags(folder):
  tags = set()
  for path in glob.glob(os.path.join(folder, "events.out.tfevents.*")):
    for record in tf.data.TFRecordDataset(path):
      event = tf.compat.v1.Event.FromString(record.numpy())
      tags.update(value.tag for value in event.summary.value)
  return tags


@pytest.mark.smoke
def test_train_and_eval_writes_checkpoints_configs_metrics_and_summaries(trained):
  result, lines = trained
  model_dir = result.model_dir
  assert result.step == 4
  assert result.checkpoint.endswith("ckpt-4")
  assert os.path.exists(os.path.join(model_dir, "ckpt-2.index"))
  with open(os.path.join(model_dir, "config.gin")) as f:
    assert "schedule.train_steps = 4" in f.read()
  with open(os.path.join(model_dir, "operative_config.gin")) as f:
    operative = f.read()
  # Defaults are recorded once used (gin shortens names that are unambiguous).
  assert re.search(r"^(optimizers\.)?sgd\.momentum = 0\.9$", operative, re.M)
  assert re.search(r"^(losses\.)?maskrcnn\.mask_weight = 1\.0$", operative, re.M)
  with open(os.path.join(model_dir, "eval", "metrics_4.json")) as f:
    saved = json.load(f)
  for name in ("box/AP", "box/AP50", "box/AP75", "box/APs", "box/APm", "box/APl", "box/AR100",
               "mask/AP", "mask/AP50", "mask/AR100"):
    assert saved[name] == pytest.approx(result.metrics[name])
  progress = [line for line in lines if line.startswith("step ")]
  assert len(progress) == 2 and progress[-1].startswith("step 4/4 | loss ")
  for part in ("rpn_score", "mask", "lr ", "steps/s", "img/s", "ETA"):
    assert part in progress[-1]
  assert any(line.startswith("eval at step 4 | box AP") for line in lines)
  train_tags = event_tags(os.path.join(model_dir, "train"))
  assert {"total_loss", "mask_loss", "learning_rate", "images_per_second",
          "steps_per_second", "num_fg_samples", "num_fg_masks"} <= train_tags
  assert {"box/AP", "mask/AP"} <= event_tags(os.path.join(model_dir, "eval"))


def test_warmup_learning_rate_reaches_the_schedule(trained):
  result, lines = trained
  assert "lr 0.01 " in [line for line in lines if line.startswith("step 4/4")][0]


@pytest.mark.smoke
def test_eval_only_reproduces_the_final_training_eval(trained, records):
  result, _ = trained
  again, lines = run_tiny(records, result.model_dir, "eval")
  assert again.step == 4
  assert lines[0].startswith("Evaluating") and "ckpt-4" in lines[0]
  for name, value in result.metrics.items():
    assert again.metrics[name] == pytest.approx(value, abs=1e-6), name


def test_continuous_eval_scores_the_final_checkpoint_and_stops(trained, records, tmp_path):
  model_dir = tmp_path / "run"
  shutil.copytree(trained[0].model_dir, model_dir)
  result, lines = run_tiny(records, model_dir, "continuous_eval",
                           "schedule.eval_timeout = 5")
  assert result.step == 4
  assert result.metrics["mask/AP"] == pytest.approx(trained[0].metrics["mask/AP"], abs=1e-6)
  assert sum(line.startswith("eval at step 4") for line in lines) == 1


def test_bfloat16_run_trains_in_bfloat16_and_leaves_the_global_policy_as_it_was(
    records, tmp_path):
  keras = model_garden_keras()
  result, lines = run_tiny(records, tmp_path / "run", "train",
                           "runtime.mixed_precision = 'mixed_bfloat16'")
  assert keras.mixed_precision.global_policy().name == "float32"
  policies = {layer.dtype_policy.name for layer in result.model.backbone.layers}
  assert "mixed_bfloat16" in policies
  loss = float(re.search(r"loss ([0-9.]+)", lines[-1]).group(1))
  assert result.step == 4 and np.isfinite(loss)


def test_shipped_demo_trains_in_the_machines_fast_precision():
  parse_gin(["maskrcnn_shapes_r18_cpu"])
  assert bound_value("runtime.mixed_precision") == "auto"


def test_eval_without_checkpoint_is_a_clear_error(records, tmp_path):
  with pytest.raises(UserError, match="needs a checkpoint in .*Train first"):
    run_tiny(records, tmp_path / "empty", "eval")


class Interrupt(Exception):
  pass


def interrupt_at(step):
  def printer(line):
    if line.startswith(f"step {step}/"):
      raise Interrupt()
  return printer


def test_interrupted_run_resumes_to_the_exact_step_then_stops_on_nonfinite_loss(
    records, tmp_path):
  model_dir = tmp_path / "run"
  # Killed after step 4's loop, before its checkpoint: ckpt-2 is the last one.
  with pytest.raises(Interrupt):
    run_tiny(records, model_dir, "train", "schedule.train_steps = 6", printer=interrupt_at(4))
  assert tf.train.latest_checkpoint(str(model_dir)).endswith("ckpt-2")

  result, lines = run_tiny(records, model_dir, "train", "schedule.train_steps = 8")
  assert lines[0].startswith("This run resumes from a checkpoint made with a different gin")
  assert "-schedule.train_steps = 6" in lines[0] and "+schedule.train_steps = 8" in lines[0]
  assert any(line.startswith("Resuming from") and "(step 2)" in line for line in lines)
  assert [line.split(" |")[0] for line in lines if line.startswith("step ")] == [
      "step 4/8", "step 6/8", "step 8/8"]
  assert result.step == 8 and result.checkpoint.endswith("ckpt-8")
  saved = dict(tf.train.list_variables(result.checkpoint))
  reader = tf.train.load_checkpoint(result.checkpoint)
  assert reader.get_tensor("global_step/.ATTRIBUTES/VARIABLE_VALUE") == 8
  # The optimizer's own step count continued from the checkpoint: 2 + 6 steps.
  assert reader.get_tensor("optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE") == 8
  assert "optimizer/_variables/1/.ATTRIBUTES/VARIABLE_VALUE" in saved  # momentum slots

  # An infinite loss weight makes step 9 non-finite: training stops naming the
  # step and terms, and no checkpoint is written after ckpt-8.
  with pytest.raises(training.NonFiniteLossError) as error:
    run_tiny(records, model_dir, "train",
             "schedule.train_steps = 10\nlosses.maskrcnn.mask_weight = 1e999")
  message = str(error.value)
  assert message.startswith("Non-finite loss at step 9: total_loss=inf")
  assert "mask_loss=" in message and "rpn_score_loss=" in message
  assert tf.train.latest_checkpoint(str(model_dir)).endswith("ckpt-8")
  reader = tf.train.load_checkpoint(str(model_dir))
  for name, _ in tf.train.list_variables(str(model_dir)):
    value = reader.get_tensor(name)
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
      assert np.all(np.isfinite(value)), name


def test_warm_start_loads_the_backbone_only(trained, tmp_path):
  trained_model = trained[0].model
  # Model Garden's pretrained backbones are saved with the backbone at the root.
  backbone_only = tf.train.Checkpoint(backbone=trained_model.backbone).write(
      str(tmp_path / "backbone"))
  for source in (trained[0].model_dir, backbone_only):
    model = fixtures.build_model()
    decoder_before = [w.numpy() for w in model.decoder.weights]
    assert training.warm_start.warm_start(model, source)
    for loaded, expected in zip(model.backbone.weights, trained_model.backbone.weights):
      np.testing.assert_array_equal(loaded.numpy(), expected.numpy())
    for after, before in zip(model.decoder.weights, decoder_before):
      np.testing.assert_array_equal(after.numpy(), before)


def test_warm_start_from_a_missing_checkpoint_is_a_clear_error(tmp_path):
  with pytest.raises(UserError, match="is not a checkpoint"):
    training.warm_start.warm_start(object(), str(tmp_path / "nothing"))
