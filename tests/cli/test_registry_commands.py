"""`maskrcnn list` and `maskrcnn describe` through the CLI entry point."""

import json
import subprocess
import sys

import pytest

from maskrcnn_plugin import registries
from maskrcnn_plugin.cli import builtin_names
from maskrcnn_plugin.cli.main import main


def test_list_shows_every_registry_with_its_builtin_names(capsys):
  assert main(["list"]) == 0
  lines = capsys.readouterr().out.splitlines()
  kinds = [line.split()[0] for line in lines]
  assert kinds == sorted(registries.ALL)
  backbones = next(line for line in lines if line.startswith("backbones "))
  for name in ("resnet", "mobilenet", "spinenet"):
    assert name in backbones


def test_names_read_from_source_are_the_registries_after_loading():
  """What `maskrcnn list` prints without importing TensorFlow is what the registries hold."""
  read = builtin_names.read_builtin_names()
  registries.load_components()
  builtin = {kind: [name for name in registry_.names()  # not what other tests register
                    if registry_.get_original(name).__module__.startswith("maskrcnn_plugin.")]
             for kind, registry_ in registries.ALL.items()}
  assert read == builtin


def test_list_in_a_fresh_process_does_not_import_tensorflow():
  script = ("import sys; from maskrcnn_plugin.cli.main import main; status = main(['list']); "
            "print('tensorflow' in sys.modules); sys.exit(status)")
  done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                        timeout=300, check=False)
  assert done.returncode == 0, done.stderr
  lines = done.stdout.splitlines()
  assert lines[-1] == "False"
  assert [line.split()[0] for line in lines[:-1]] == sorted(registries.ALL)


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


def test_describe_a_registry_prints_its_contract_and_names(capsys):
  assert main(["describe", "backbones"]) == 0
  lines = capsys.readouterr().out.splitlines()
  assert lines[0] == f"backbones: {len(registries.BACKBONES)} registered"
  contract = " ".join(line.strip() for line in lines[1:-2])
  assert contract == " ".join(registries.BACKBONES.contract.split())
  assert "`factory(input_specs=InputSpec([None, height, width, 3]), ...)`" in contract
  assert "`output_specs`" in contract
  assert lines[-2] == f"names: {', '.join(registries.BACKBONES.names())}"
  assert "resnet" in lines[-2]
  assert lines[-1] == "Each one: maskrcnn describe backbones.NAME"


def test_every_registry_states_how_its_factories_are_called_and_what_they_return():
  for kind, registry_ in registries.ALL.items():
    assert registry_.contract.startswith("Called "), kind
    assert "Returns " in registry_.contract, kind


def test_describe_a_registry_as_json(capsys):
  assert main(["describe", "data_decoders", "--json"]) == 0
  description = json.loads(capsys.readouterr().out)
  assert description["kind"] == "data_decoders"
  assert "registries.DataDecoder: `decode(record)`" in description["contract"]
  assert "\n" not in description["contract"]
  assert {"tf_example", "coco_json"} <= set(description["names"])


@pytest.mark.parametrize("argv, fragments", [
    (["describe", "backbones.resnt"], ["No backbone named 'resnt'", "Did you mean 'resnet'?"]),
    (["describe", "backbone.resnet"], ["No registry named 'backbone'", "Did you mean 'backbones'?"]),
    (["describe", "backbonez"], ["No registry named 'backbonez'", "Did you mean 'backbones'?"]),
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
