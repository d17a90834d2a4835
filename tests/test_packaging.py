"""Packaging: every package is listed, gin files ship, the console script exists."""

import pathlib
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _pyproject():
  return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_python_package_is_listed_in_pyproject():
  listed = set(_pyproject()["tool"]["setuptools"]["packages"])
  found = set()
  for top in ("registry", "maskrcnn_plugin"):
    for init in (ROOT / top).rglob("__init__.py"):
      found.add(".".join(init.parent.relative_to(ROOT).parts))
  for folder in [ROOT / "gin_configs", *(p for p in (ROOT / "gin_configs").rglob("*") if p.is_dir())]:
    found.add(".".join(("maskrcnn_plugin", *folder.relative_to(ROOT).parts)))
  assert found == listed, f"missing from pyproject: {found - listed}; stale: {listed - found}"


def test_gin_files_are_package_data_and_cli_is_a_console_script():
  config = _pyproject()
  assert config["tool"]["setuptools"]["package-dir"] == {"maskrcnn_plugin.gin_configs": "gin_configs"}
  assert "**/*.gin" in config["tool"]["setuptools"]["package-data"]["maskrcnn_plugin.gin_configs"]
  assert config["project"]["scripts"]["maskrcnn"] == "maskrcnn_plugin.cli.main:main"


def test_tf_keras_line_is_pinned_to_the_tensorflow_line():
  deps = {d.split(">")[0].split("<")[0].split("=")[0].strip(): d for d in _pyproject()["project"]["dependencies"]}
  upper = lambda spec: spec.split("<")[1]  # noqa: E731
  assert upper(deps["tensorflow"]) == upper(deps["tf-keras"]) == upper(deps["tf-models-official"])
