"""The README's examples work as written."""

import os
import pathlib
import re
import subprocess
import sys

import pytest

from maskrcnn_plugin.cli.main import build_parser

README = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()


def _code_block(first_line):
  """The fenced code block of README.md whose first line is `first_line`."""
  for block in re.findall(r"```\w*\n(.*?)```", README, flags=re.S):
    if block.startswith(first_line + "\n"):
      return block
  raise AssertionError(f"README.md has no code block starting with {first_line!r}")


def test_custom_backbone_example_validates(tmp_path):
  (tmp_path / "my_backbone.py").write_text(_code_block("# my_backbone.py, next to your gin file"))
  (tmp_path / "my_net.gin").write_text(_code_block("# my_net.gin"))
  env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
  result = subprocess.run(
      [sys.executable, "-m", "maskrcnn_plugin.cli.main", "validate", "--gin_file=my_net.gin"],
      cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  assert "parameters" in result.stdout


def test_every_command_in_the_cli_table_exists():
  table = README.split("## The command line", 1)[1].split("\n## ", 1)[0]
  commands = re.findall(r"^\| `maskrcnn ((?:data )?[a-z-]+)", table, flags=re.M)
  assert len(commands) >= 10
  for command in commands:
    with pytest.raises(SystemExit) as info:
      build_parser().parse_args(command.split() + ["--help"])
    assert info.value.code == 0, command
