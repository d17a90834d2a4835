"""Fine-tuning: warm start with another class count, and frozen backbone parts."""

import os
import types
from pathlib import Path

import gin
import numpy as np
import pytest
import tensorflow as tf

from maskrcnn_plugin import training
from maskrcnn_plugin.errors import UserError
from maskrcnn_plugin.training import freezing, run_dir, warm_start
from registry import ConstraintError

from helpers import model_garden_training as fixtures

CLASS_SPECIFIC = {"detection-scores/kernel", "detection-scores/bias", "detection-boxes/kernel",
                  "detection-boxes/bias", "mask-logits/kernel", "mask-logits/bias"}


def build(**overrides):
  """The tiny test model, without weight decay, with another class count or head settings."""
  return fixtures.build_model(l2_weight_decay=0, **overrides)


def short_name(variable):
  """'mask_rcnn_model/mask_head/mask-logits/kernel:0' -> 'mask-logits/kernel'."""
  return "/".join(variable.name.split(":")[0].split("/")[-2:])


def by_key(model):
  """{checkpoint key: variable} of a model saved as tf.train.Checkpoint(model=model)."""
  keys = warm_start._checkpoint_keys(model=model)  # pylint: disable=protected-access
  return {keys[id(v)]: v for v in model.variables}


@pytest.fixture(scope="module")
def source(tmp_path_factory):
  """(path, {key: value}) of a 3-class model saved as a training checkpoint (model/...)."""
  model = build()
  path = tf.train.Checkpoint(model=model, global_step=tf.Variable(7, dtype=tf.int64)).write(
      str(tmp_path_factory.mktemp("source") / "ckpt-7"))
  return path, {key: v.numpy() for key, v in by_key(model).items()}


@pytest.fixture(scope="module")
def five_classes():
  return build(num_classes=5)


def test_other_class_count_reinitialises_exactly_the_class_specific_layers(source, five_classes):
  path, values = source
  model = five_classes
  before = {key: v.numpy() for key, v in by_key(model).items()}
  report = warm_start.warm_start(model, path, modules=["all"])

  reinitialised = {"/".join(key.split("/")[-2:]) for key, _, _ in report.reinitialized}
  assert reinitialised == {"_classifier/kernel", "_classifier/bias", "_box_regressor/kernel",
                           "_box_regressor/bias", "_mask_regressor/kernel",
                           "_mask_regressor/bias"}
  for key, variable in by_key(model).items():
    expected = before[key] if short_name(variable) in CLASS_SPECIFIC else values[key]
    np.testing.assert_array_equal(variable.numpy(), expected, err_msg=key)
  restored = sum(len(names) for names in report.restored.values())
  assert restored + len(report.reinitialized) == len(model.variables)
  assert "global_step" in report.skipped
  summary = report.summary()
  assert "Re-initialised 6 class-specific variables" in summary
  assert "detection_head/_classifier/kernel [64, 3] -> [64, 5]" in summary
  report = warm_start.warm_start(model, path)  # Default: the backbone only.
  assert list(report.restored) == ["backbone"] and not report.reinitialized


def test_shape_mismatch_outside_the_class_layers_names_the_variables(source):
  model = build(mask_head={"num_convs": 2, "num_filters": 16})
  with pytest.raises(UserError) as error:
    warm_start.warm_start(model, source[0], modules=["mask_head"])
  message = str(error.value)
  assert "mask_head/_convs/0/kernel (checkpoint [3, 3, 32, 32], model [3, 3, 32, 16])" in message
  assert "are not in the checkpoint: model/mask_head/_convs/1/kernel" in message
  assert "warm start fewer parts" in message
  with pytest.raises(ConstraintError, match="Item 'heads' is not valid"):
    warm_start.warm_start(model, source[0], modules=["heads"])


def test_frozen_stages_stay_unchanged_while_the_rest_trains(records, source, tmp_path):
  path, values = source
  lines = []
  gin.clear_config()
  gin.parse_config(f"""
schedule.train_steps = 2
schedule.steps_per_loop = 2
schedule.checkpoint_interval = 2
optimization.build_optimizer.optimizer = @optimizers.sgd
optimization.build_optimizer.learning_rate = 0.05
checkpoints.warm_start.checkpoint = '{path}'
checkpoints.warm_start.modules = ['all']
freezing.freeze.backbone_stages = 3
freezing.freeze.frozen_batch_norm = True
""")
  try:
    result = training.run(str(tmp_path / "run"), "train", inputs=fixtures.tiny_inputs(records),
                          printer=lines.append)
  finally:
    gin.clear_config()
  model = result.model
  text = "\n".join(lines)
  assert "Warm start from" in text and "Frozen: the backbone stem and stages up to level 3" in text
  assert os.path.exists(tmp_path / "run" / run_dir.WARM_START_FILE)

  # ResNet-18 at 64 px: layers whose outputs are at stride <= 8 are frozen, and
  # every batch norm of the backbone keeps its statistics, gamma and beta.
  keys = {id(v): key for key, v in by_key(model).items()}
  changed = lambda variables: [not np.array_equal(v.numpy(), values[keys[id(v)]])
                               for v in variables]
  backbone = model.backbone
  strides = {id(v): fixtures.IMAGE_SIZE // layer.output.shape[1]
             for layer in backbone.layers for v in layer.variables}
  frozen = [v for v in backbone.variables if strides[id(v)] <= 8]
  norms = [v for v in backbone.variables if any(s in v.name for s in ("moving_", "gamma", "beta"))]
  norm_ids = {id(v) for v in norms}
  trained = backbone.trainable_variables
  assert frozen and norms and trained
  assert not any(changed(frozen)) and not any(changed(norms))
  assert all(strides[id(v)] >= 16 and id(v) not in norm_ids for v in trained)
  assert all(changed(trained))
  decoder = model.decoder.trainable_variables
  assert sum(changed(decoder)) > len(decoder) // 2


def test_freezing_the_whole_backbone_and_bad_settings(five_classes):
  model = five_classes
  with pytest.raises(ConstraintError, match="freezing.freeze.backbone_stages = -1 is not valid"):
    freezing.freeze(model, backbone_stages=-1)
  assert freezing.freeze(model).summary() is None
  report = freezing.freeze(model, backbone=True)
  assert not model.backbone.trainable_variables and model.decoder.trainable_variables
  assert report.variables == len(model.backbone.variables)
  assert "Frozen: the backbone" in report.summary()


def test_warm_start_from_a_damaged_checkpoint_says_it_cannot_be_read(tmp_path):
  saved = tf.Module()
  saved.kernel = tf.Variable(tf.ones([3, 4]))
  path = tf.train.Checkpoint(backbone=saved).write(str(tmp_path / "backbone"))
  data = Path(tf.io.gfile.glob(f"{path}.data-*")[0])
  data.write_bytes(data.read_bytes()[:8])
  backbone = tf.Module()
  backbone.kernel = tf.Variable(tf.zeros([3, 4]))
  with pytest.raises(UserError) as error:
    warm_start.warm_start(types.SimpleNamespace(backbone=backbone), path)
  assert str(error.value).startswith(f"Checkpoint {path} cannot be read (")
  assert backbone.kernel.numpy().sum() == 0
