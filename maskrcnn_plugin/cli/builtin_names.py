"""The names the built-in components register, read from their source without importing it.

The built-in components register when their modules load, and those import
TensorFlow and Model Garden (about 5 s). `maskrcnn list` needs only the names,
so it reads them from the `@REGISTRY.register("name")` decorators in the
source of `registries.BUILTIN_MODULES`, each time it runs: there is no stored
list to go stale. tests/cli/test_registry_commands.py checks that the names
read equal the registries' after loading, so a registration written another
way fails CI instead of going missing from the list.
"""

import ast
import importlib.metadata
import importlib.util
import pathlib
import sys
from typing import Dict, List, Optional

from maskrcnn_plugin import registries
from registry import Registry


def names_without_loading() -> Optional[Dict[str, List[str]]]:
  """{kind: sorted names} of every registry, read from the built-in modules' source.

  None when the registries themselves must be asked: the built-in modules are
  loaded already (they may hold names registered since), an installed package
  declares plugins (entry-point group `maskrcnn_plugin`, known only by
  importing it), or a module's source cannot be read.
  """
  if any(module in sys.modules for module in registries.BUILTIN_MODULES):
    return None
  if importlib.metadata.entry_points(group=registries.PLUGIN_GROUP):
    return None
  return read_builtin_names()


def read_builtin_names() -> Optional[Dict[str, List[str]]]:
  """{kind: sorted names} registered by decorators in the built-in modules' source (None when
  a module's source cannot be read)."""
  names: Dict[str, set] = {kind: set() for kind in registries.ALL}
  for module in registries.BUILTIN_MODULES:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
      return None
    folder = pathlib.Path(spec.origin).parent
    for path in sorted(folder.rglob("*.py")):
      for kind, name in _registrations(path):
        names[kind].add(name)
  return {kind: sorted(found) for kind, found in names.items()}


def _registrations(path: pathlib.Path):
  """(kind, name) of each `@REGISTRY.register("name")` / `.register()` decorator in `path`."""
  source = path.read_text(encoding="utf-8")
  if ".register" not in source:  # most modules: no need to parse them
    return
  for node in ast.walk(ast.parse(source, str(path))):
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
      continue
    for decorator in node.decorator_list:
      call = decorator if isinstance(decorator, ast.Call) else None
      target = call.func if call else decorator
      if not (isinstance(target, ast.Attribute) and target.attr == "register"
              and isinstance(target.value, ast.Name)):
        continue
      registry_ = getattr(registries, target.value.id, None)
      if not isinstance(registry_, Registry):
        continue
      name = node.name
      if call and call.args and isinstance(call.args[0], ast.Constant):
        name = call.args[0].value
      yield registry_.kind, name
