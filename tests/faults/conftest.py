"""Shared pieces of the fault tests: a tiny shapes dataset and the CLI in-process."""

import pytest

from maskrcnn_plugin.cli.main import main
from maskrcnn_plugin.data import shapes


@pytest.fixture(scope="session")
def shapes_dir(tmp_path_factory):
  """8 train and 4 val shapes images of 64 px, one TFRecord shard each."""
  directory = tmp_path_factory.mktemp("fault_shapes")
  shapes.write_shapes_dataset(str(directory), num_train=8, num_val=4, image_size=64, seed=5,
                              train_shards=1, val_shards=1, write_images=False, workers=1)
  return directory


@pytest.fixture
def cli(capsys):
  """`cli(*argv)` runs `maskrcnn ARGV` in this process; returns (exit status, stderr)."""

  def run(*argv):
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.err
  return run
