"""Entry-point discovery: installed packages register components on import.

A third-party package declares, in its pyproject.toml::

    [project.entry-points."maskrcnn_plugin"]
    my_backbones = "my_package.backbones"          # a module to import
    more = "my_package.plugin:register_all"        # or a function to call

Loading a group imports each module (its decorators register) or calls each
function with no arguments. Every entry point is loaded once per process.
"""

import importlib.metadata
import threading
import warnings
from typing import Dict, List

from registry.errors import PluginLoadError

_LOCK = threading.RLock()
_LOADED_GROUPS: Dict[str, List[str]] = {}


def _entry_points(group: str):
  return importlib.metadata.entry_points(group=group)


def load_entry_points(group: str, *, strict: bool = False) -> List[str]:
  """Loads every entry point of `group` once; returns the names loaded.

  Args:
    group: The entry-point group, e.g. "maskrcnn_plugin".
    strict: If True, a failing entry point raises PluginLoadError; otherwise it
      is reported with a warning naming the entry point and the package that
      declared it, and the others still load.
  """
  with _LOCK:
    if group in _LOADED_GROUPS:
      return list(_LOADED_GROUPS[group])
    loaded = _LOADED_GROUPS[group] = []
    for entry_point in _entry_points(group):
      try:
        target = entry_point.load()
        if callable(target):
          target()
      except Exception as error:  # A broken plugin must not hide which one it is.
        dist = getattr(entry_point, "dist", None)
        source = f" (package {dist.name} {dist.version})" if dist else ""
        message = (f"Plugin entry point '{entry_point.name} = {entry_point.value}' of group "
                   f"'{group}'{source} failed to load: {type(error).__name__}: {error}")
        if strict:
          raise PluginLoadError(message) from error
        warnings.warn(message, RuntimeWarning, stacklevel=2)
        continue
      loaded.append(entry_point.name)
    return list(loaded)


def reset_loaded_groups() -> None:
  """Forgets which groups were loaded, so the next lookup loads them again."""
  with _LOCK:
    _LOADED_GROUPS.clear()
