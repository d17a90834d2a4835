"""Packaging: every package is listed, every imported distribution is declared, gin files ship,
the console script exists."""

import ast
import importlib.metadata
import pathlib
import re
import sys
import tomllib
from typing import Dict, List, Set

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
  assert config["project"]["scripts"]["maskrcnn"] == "maskrcnn_plugin.cli.main:program"


def test_tf_keras_line_is_pinned_to_the_tensorflow_line():
  deps = {d.split(">")[0].split("<")[0].split("=")[0].strip(): d for d in _pyproject()["project"]["dependencies"]}
  upper = lambda spec: spec.split("<")[1]  # noqa: E731
  assert upper(deps["tensorflow"]) == upper(deps["tf-keras"]) == upper(deps["tf-models-official"])


def _distribution_key(name: str) -> str:
  """A distribution's normalized name (PEP 503): 'tf_keras' and 'TF-Keras' are 'tf-keras'."""
  return re.sub(r"[-_.]+", "-", name).lower()


def _optional_imports(tree: ast.AST) -> Set[int]:
  """ids of the import nodes inside `try:` blocks that handle ImportError (optional by design)."""
  optional = set()
  for node in ast.walk(tree):
    if isinstance(node, ast.Try) and any(
        isinstance(handler.type, ast.Name)
        and handler.type.id in ("ImportError", "ModuleNotFoundError")
        for handler in node.handlers):
      optional.update(id(child) for statement in node.body for child in ast.walk(statement))
  return optional


def _imported_top_level_modules() -> Dict[str, List[str]]:
  """Top-level module of every absolute import (also inside functions) -> importing files."""
  modules: Dict[str, List[str]] = {}
  for top in ("registry", "maskrcnn_plugin"):
    for path in sorted((ROOT / top).rglob("*.py")):
      tree = ast.parse(path.read_text(), str(path))
      optional = _optional_imports(tree)
      for node in ast.walk(tree):
        if id(node) in optional:
          continue
        if isinstance(node, ast.Import):
          names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
          names = [node.module]
        else:
          continue
        for name in names:
          modules.setdefault(name.split(".")[0], []).append(str(path.relative_to(ROOT)))
  return modules


def test_every_imported_distribution_is_declared():
  """An import that reaches the install only through another package breaks when that one
  changes its own dependencies: each import is the standard library, this project, or a
  distribution in pyproject's dependencies (orbit ships in tf-models-official)."""
  declared = {_distribution_key(re.match(r"[A-Za-z0-9_.-]+", requirement).group())
              for requirement in _pyproject()["project"]["dependencies"]}
  declared.add(_distribution_key(_pyproject()["project"]["name"]))
  distributions = importlib.metadata.packages_distributions()
  undeclared = {}
  for module, files in _imported_top_level_modules().items():
    if module in sys.stdlib_module_names:
      continue
    providers = {_distribution_key(name) for name in distributions.get(module, ())}
    if not providers & declared:
      undeclared[module] = (sorted(providers) or ["no installed distribution"], files[0])
  assert not undeclared, "imported but not declared in pyproject's dependencies: " + "; ".join(
      f"{module} (from {', '.join(providers)}; imported in {where})"
      for module, (providers, where) in sorted(undeclared.items()))
