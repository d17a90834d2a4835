"""Shared data for the data tests: one tiny shapes dataset per test session."""

import pytest

import maskrcnn_plugin.dataloaders  # noqa: F401  (sets up Keras, then registers the decoders)
from maskrcnn_plugin.data import shapes

SHAPES = {"image_size": 64, "num_train": 12, "num_val": 6}


@pytest.fixture(scope="session")
def shapes_meta():
  """Sizes of the `shapes_dir` dataset."""
  return dict(SHAPES)


@pytest.fixture(scope="session")
def shapes_dir(tmp_path_factory):
  """A shapes dataset: 12 train images in 2 shards, 6 val images in 2 shards, 64 px."""
  directory = tmp_path_factory.mktemp("shapes")
  shapes.write_shapes_dataset(str(directory), num_train=SHAPES["num_train"],
                              num_val=SHAPES["num_val"], image_size=SHAPES["image_size"],
                              seed=3, train_shards=2, val_shards=2)
  return directory
