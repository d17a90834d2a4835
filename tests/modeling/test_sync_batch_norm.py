"""use_sync_bn: synchronized batch norm with several replicas, fused batch norm with one."""

import os
import subprocess
import sys
import textwrap

import gin
import pytest
import tensorflow as tf

from maskrcnn_plugin.modeling import build_from_gin
from helpers.tiny_models import parse_tiny_shapes

TEST_FOLDER = os.path.dirname(os.path.abspath(__file__))
SYNC_BN = ("mask_heads.mask_head.num_convs = 1", "maskrcnn.build_maskrcnn.use_sync_bn = True")


def batch_norm_kinds(model):
  """{'synchronized', 'local'}: the kinds of the model's batch normalization layers."""
  return {"synchronized" if getattr(module, "synchronized", False)
          or type(module).__name__ == "SyncBatchNormalization" else "local"
          for module in model.submodules if type(module).__name__.endswith("BatchNormalization")}


def _build(strategy, *bindings):
  parse_tiny_shapes(*SYNC_BN, *bindings)
  with strategy.scope():
    model = build_from_gin()
  gin.clear_config()
  return model


@pytest.mark.smoke
def test_one_replica_gets_fused_batch_norm():
  model = _build(tf.distribute.OneDeviceStrategy("/cpu:0"))
  assert batch_norm_kinds(model) == {"local"}


def test_sync_bn_on_one_replica_keeps_model_gardens_layers():
  model = _build(tf.distribute.get_strategy(),
                 "maskrcnn.build_maskrcnn.sync_bn_on_one_replica = True")
  assert batch_norm_kinds(model) == {"synchronized"}


def test_two_replicas_get_synchronized_batch_norm():
  script = textwrap.dedent(f"""
      import maskrcnn_plugin
      import tensorflow as tf
      cpu = tf.config.list_physical_devices("CPU")[0]
      tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
      import sys; sys.path[:0] = {[TEST_FOLDER, os.path.dirname(TEST_FOLDER)]!r}
      from test_sync_batch_norm import _build, batch_norm_kinds
      model = _build(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
      print(sorted(batch_norm_kinds(model)))
      """)
  done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"), timeout=600, check=False)
  assert done.returncode == 0, done.stderr[-3000:]
  assert done.stdout.strip().splitlines()[-1] == "['synchronized']"
