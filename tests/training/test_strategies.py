"""Mirrored (two logical CPUs) and multi-worker (two local processes) training.

Each runs in subprocesses: logical devices must be configured before
TensorFlow initializes, and every worker is its own process with TF_CONFIG.
"""

import glob
import json
import os
import socket
import subprocess
import sys

import pytest

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "distributed_worker.py")
TIMEOUT = 600


def _env(**extra):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TF_USE_LEGACY_KERAS="1", **extra)
  env.pop("TF_CONFIG", None)
  env.update(extra)
  return env


def _report(stdout: str) -> dict:
  return json.loads(stdout.strip().splitlines()[-1])


def _free_ports(count):
  sockets = [socket.socket() for _ in range(count)]
  for s in sockets:
    s.bind(("127.0.0.1", 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


def test_mirrored_on_two_logical_cpus_keeps_replicas_in_sync(records, tmp_path):
  records_dir = os.path.dirname(records["train"])
  done = subprocess.run(
      [sys.executable, WORKER, records_dir, str(tmp_path / "run"), "mirrored", "2"],
      capture_output=True, text=True, env=_env(), timeout=TIMEOUT, check=False)
  assert done.returncode == 0, done.stderr[-3000:]
  report = _report(done.stdout)
  assert report["replicas"] == 2
  assert report["step"] == 2 and report["checkpoint"].endswith("ckpt-2")
  assert report["replica_gap"] == 0.0


def test_multi_worker_mirrored_two_local_workers_agree(records, tmp_path):
  records_dir = os.path.dirname(records["train"])
  cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
  workers = []
  for index in range(2):
    tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
    workers.append(subprocess.Popen(
        [sys.executable, WORKER, records_dir, str(tmp_path / "run"), "multi_worker_mirrored"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=_env(TF_CONFIG=tf_config)))
  outputs = []
  try:
    for worker in workers:
      stdout, stderr = worker.communicate(timeout=TIMEOUT)
      assert worker.returncode == 0, stderr[-3000:]
      outputs.append(_report(stdout))
  finally:
    for worker in workers:
      if worker.poll() is None:
        worker.kill()
  chief, other = outputs
  assert chief["replicas"] == other["replicas"] == 2
  assert chief["step"] == other["step"] == 2
  assert chief["checksum"] == pytest.approx(other["checksum"], rel=1e-6)
  assert chief["checkpoint"].endswith("ckpt-2")  # only the chief writes to model_dir
  assert glob.glob(os.path.join(str(tmp_path / "run"), "ckpt-*.index"))
