"""Shared pieces of the fault tests: the CLI in-process."""

import pytest

from maskrcnn_plugin.cli.main import main


@pytest.fixture
def cli(capsys):
  """`cli(*argv)` runs `maskrcnn ARGV` in this process; returns (exit status, stderr)."""

  def run(*argv):
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.err
  return run
