"""Pytest fixtures shared by several test folders (tests/conftest.py registers them).

Two shapes datasets, for two needs: `sharded_shapes_dir` has several shards
per split and the image files (pipeline sharding, COCO JSON reading, format
conversion); `one_shard_shapes_dir` is smaller, one shard per split and
records only (whole `maskrcnn train` runs and the records they read).
"""

import pytest

SHARDED_SHAPES_SIZES = {"image_size": 64, "num_train": 12, "num_val": 6}


@pytest.fixture(scope="session")
def sharded_shapes_sizes():
  """Sizes of the `sharded_shapes_dir` dataset."""
  return dict(SHARDED_SHAPES_SIZES)


@pytest.fixture(scope="session")
def sharded_shapes_dir(tmp_path_factory):
  """12 train images in 2 shards, 6 val images in 2 shards, 64 px, with PNG files and COCO JSON."""
  from maskrcnn_plugin.data import shapes  # pylint: disable=import-outside-toplevel
  directory = tmp_path_factory.mktemp("shapes")
  shapes.write_shapes_dataset(str(directory), num_train=SHARDED_SHAPES_SIZES["num_train"],
                              num_val=SHARDED_SHAPES_SIZES["num_val"],
                              image_size=SHARDED_SHAPES_SIZES["image_size"],
                              seed=3, train_shards=2, val_shards=2)
  return directory


@pytest.fixture(scope="session")
def one_shard_shapes_dir(tmp_path_factory):
  """8 train and 4 val shapes images of 64 px, one TFRecord shard each, no image files."""
  from maskrcnn_plugin.data import shapes  # pylint: disable=import-outside-toplevel
  directory = tmp_path_factory.mktemp("fault_shapes")
  shapes.write_shapes_dataset(str(directory), num_train=8, num_val=4, image_size=64, seed=5,
                              train_shards=1, val_shards=1, write_images=False, workers=1)
  return directory
