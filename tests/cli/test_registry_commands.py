"""`maskrcnn list` and `maskrcnn describe` through the CLI entry point."""

import json

import pytest

from maskrcnn_plugin import registries
from maskrcnn_plugin.cli.main import main


def test_list_shows_every_registry_with_its_builtin_names(capsys):
  assert main(["list"]) == 0
  lines = capsys.readouterr().out.splitlines()
  kinds = [line.split()[0] for line in lines]
  assert kinds == sorted(registries.ALL)
  backbones = next(line for line in lines if line.startswith("backbones "))
  for name in ("resnet", "mobilenet", "spinenet"):
    assert name in backbones


def test_list_one_registry_as_json(capsys):
  assert main(["list", "decoders", "--json"]) == 0
  table = json.loads(capsys.readouterr().out)
  assert list(table) == ["decoders"]
  assert {"fpn", "identity"} <= set(table["decoders"])


def test_describe_prints_parameters_defaults_and_doc(capsys):
  assert main(["describe", "backbones.resnet"]) == 0
  out = capsys.readouterr().out
  assert out.startswith("backbones.resnet  (")
  assert "model_id" in out and "default" in out


def test_describe_json(capsys):
  assert main(["describe", "backbones.resnet", "--json"]) == 0
  description = json.loads(capsys.readouterr().out)
  assert description["name"] == "backbones.resnet"
  assert any(p["name"] == "model_id" for p in description["parameters"])


@pytest.mark.parametrize("argv, fragments", [
    (["describe", "backbones.resnt"], ["No backbone named 'resnt'", "Did you mean 'resnet'?"]),
    (["describe", "backbone.resnet"], ["No registry named 'backbone'", "Did you mean 'backbones'?"]),
    (["describe", "backbones"], ["names a registry, not a component", "resnet"]),
    (["list", "decoder"], ["No registry named 'decoder'", "Did you mean 'decoders' or 'data_decoders'?"]),
])
def test_unknown_names_are_one_line_errors_with_suggestions(capsys, argv, fragments):
  assert main(argv) == 2
  captured = capsys.readouterr()
  assert captured.out == ""
  assert captured.err.startswith(f"maskrcnn {argv[0]}: error: ")
  assert "Traceback" not in captured.err
  for fragment in fragments:
    assert fragment in captured.err
