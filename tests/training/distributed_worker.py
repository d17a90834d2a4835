"""Runs a few tiny training steps under a strategy; prints a JSON report.

    python distributed_worker.py RECORDS_DIR MODEL_DIR STRATEGY [NUM_LOGICAL_CPUS]

Used by test_strategies.py in subprocesses: logical CPU devices must be set
before TensorFlow initializes its devices, and each multi-worker worker is its
own process (TF_CONFIG in its environment).
"""

import json
import os
import sys

import maskrcnn_plugin  # noqa: F401  (sets up Keras before TensorFlow loads)
import gin
import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/
from helpers import model_garden_training as fixtures  # noqa: E402
from maskrcnn_plugin import training  # noqa: E402


def main(records_dir: str, model_dir: str, strategy: str, num_cpus: int = 1) -> None:
  if num_cpus > 1:
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * num_cpus)
  gin.parse_config(f"""
      runtime.strategy = @strategies.{strategy}
      schedule.train_steps = 2
      schedule.steps_per_loop = 1
      schedule.checkpoint_interval = 2
      optimization.build_optimizer.optimizer = @optimizers.sgd
      optimization.build_optimizer.learning_rate = @lr_schedules.constant()
  """)
  records = {split: os.path.join(records_dir, f"{split}.tfrecord") for split in ("train", "val")}
  result = training.run(model_dir, "train", inputs=fixtures.tiny_inputs(records, batch_size=2),
                        printer=lambda line: None)
  replica_gap = 0.0
  checksum = 0.0
  for variable in result.model.variables:
    if variable.synchronization == tf.VariableSynchronization.ON_READ:
      continue  # Batch-norm statistics: per-replica by design, averaged when read.
    copies = [np.asarray(v.numpy(), np.float64)
              for v in result.strategy.experimental_local_results(variable)]
    replica_gap = max([replica_gap] + [float(np.max(np.abs(c - copies[0]))) for c in copies])
    checksum += float(np.sum(np.abs(copies[0])))
  print(json.dumps({"step": result.step, "replicas": result.strategy.num_replicas_in_sync,
                    "replica_gap": replica_gap, "checksum": checksum,
                    "checkpoint": result.checkpoint}))


if __name__ == "__main__":
  main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 1)
