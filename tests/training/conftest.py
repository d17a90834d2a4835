"""Shared records and runs for the training tests."""

import gin
import pytest

from helpers import model_garden_training as fixtures


@pytest.fixture(scope="session")
def records(tmp_path_factory):
  """Paths of 8 train and 4 val 64 px records."""
  return fixtures.write_records(str(tmp_path_factory.mktemp("records")))
