"""Models built once per test session, shared by the modeling tests."""

import pytest

from maskrcnn_plugin.modeling import dry_run


@pytest.fixture(scope="session")
def validated():
  """validated(gin_file, *gin_params) -> (model, ModelSummary), cached per arguments."""
  cache = {}

  def validate(gin_file, *gin_params):
    key = (gin_file, gin_params)
    if key not in cache:
      cache[key] = dry_run.validate([gin_file], gin_params)
    return cache[key]

  return validate
