"""Parsing gin files and bindings, with errors a person can act on.

Shipped configs are found by short name (`maskrcnn_r50_fpn_coco`) from any
current directory and from an installed wheel; `include` lines resolve
against the shipped folder, the including file's folder and the current
folder. Gin's own errors name the file and line but never suggest a fix:
`parse_gin` re-raises them as one GinConfigError with close matches.
"""

import importlib.util  # noqa: F401  gin 0.5.0 uses importlib.util without importing it.
import inspect
import io
import logging
import os
import re
import sys
import tokenize
from pathlib import Path
from typing import Iterable, List, Sequence

import gin
import gin.config
import gin.resource_reader

from maskrcnn_plugin import registries
from maskrcnn_plugin.errors import GinConfigError
from registry import did_you_mean
from registry.gin_bridge import configurable_selectors

def _system_path_file_exists(config_path: str) -> bool:
  """gin's package-resource lookup, minus its crash on namespace packages.

  gin 0.5.0 treats `include 'base/x.gin'` as also possibly a file inside a
  Python package named `base`; when a folder `base/` without __init__.py is on
  sys.path it finds a namespace package whose origin is None and raises
  TypeError instead of answering "no such file". It also logs an ERROR for
  every search path that does not hold an included file, which is normal.
  """
  previous = logging.root.manager.disable
  logging.disable(logging.ERROR)
  try:
    return gin.resource_reader.system_path_file_exists(config_path)
  except TypeError:
    return False
  finally:
    logging.disable(previous)


gin.config._FILE_READERS[:] = [  # pylint: disable=protected-access
    (reader, _system_path_file_exists
     if exists is gin.resource_reader.system_path_file_exists else exists)
    for reader, exists in gin.config._FILE_READERS]  # pylint: disable=protected-access


def gin_configs_dir() -> Path:
  """The folder of shipped gin files (installed package data or source tree)."""
  package_dir = Path(__file__).resolve().parent
  for candidate in (package_dir / "gin_configs", package_dir.parent / "gin_configs"):
    if candidate.is_dir():
      return candidate
  raise FileNotFoundError(f"The shipped gin_configs folder is missing next to {package_dir}; "
                          "reinstall maskrcnn-plugin.")


def shipped_configs() -> List[str]:
  """Names of the shipped gin files relative to gin_configs/, without '.gin'."""
  root = gin_configs_dir()
  return sorted(p.relative_to(root).with_suffix("").as_posix() for p in root.rglob("*.gin"))


def resolve_gin_file(name: str) -> str:
  """Returns the path of a gin file given as a path or a shipped short name.

  Args:
    name: A path ("configs/my.gin"), or the name of a shipped file with or
      without ".gin" ("maskrcnn_r50_fpn_coco", "base/model.gin").

  Raises:
    GinConfigError: naming close matches among shipped files, when neither
      exists.
  """
  path = Path(name).expanduser()
  if path.is_file():
    return str(path)
  shipped = gin_configs_dir()
  for candidate in (shipped / name, shipped / f"{name}.gin"):
    if candidate.is_file():
      return str(candidate)
  known = shipped_configs()
  stem = name[:-4] if name.endswith(".gin") else name
  raise GinConfigError(
      f"Gin file '{name}' not found: it is neither a file (from {os.getcwd()}) nor a shipped "
      f"config.{did_you_mean(stem, known)} Shipped configs: {', '.join(known)}.")


def _add_search_paths(folders: Iterable[Path]) -> None:
  for folder in folders:
    folder = str(folder)
    if folder not in gin.config._LOCATION_PREFIXES:  # pylint: disable=protected-access
      gin.add_config_file_search_path(folder)
    # Console scripts do not have the current folder on sys.path, yet a gin
    # file's `import my_module` should find a module beside it or in the cwd.
    if folder not in sys.path:
      sys.path.append(folder)


def parse_gin(gin_files: Sequence[str], gin_params: Sequence[str] = (),
              *, finalize: bool = True) -> List[str]:
  """Clears gin, then parses `gin_files` and then `gin_params` (which win).

  The built-in components and installed plugins (entry points of the group
  `maskrcnn_plugin`) are registered first, so gin files can name them
  without an `import` line.

  Returns:
    The resolved paths of the gin files.

  Raises:
    GinConfigError: one message naming file and line (or binding) and, where
      there are any, close matches.
  """
  registries.load_components()
  paths = [resolve_gin_file(f) for f in gin_files]
  folders = [gin_configs_dir()] + [Path(p).resolve().parent for p in paths] + [Path.cwd()]
  _add_search_paths(dict.fromkeys(folders))
  gin.clear_config()
  try:
    gin.parse_config_files_and_bindings(paths, list(gin_params), finalize_config=finalize)
  except tokenize.TokenError as error:  # gin gives no location for these.
    gin.clear_config()
    raise GinConfigError(
        f"Gin syntax error: a bracket or quote is never closed in "
        f"{_unclosed_source(paths, gin_params)} ({error.args[0]}).") from error
  except Exception as error:  # Every gin parse error becomes one clear message.
    gin.clear_config()
    raise explain_gin_error(error) from error
  return paths


def _unclosed_source(paths: Sequence[str], gin_params: Sequence[str]) -> str:
  """Names the first file or binding that Python's tokenizer cannot finish."""
  sources = [(f"gin file {p}", Path(p).read_text()) for p in paths]
  sources += [(f"binding {b!r}", b) for b in gin_params]
  for name, text in sources:
    try:
      list(tokenize.generate_tokens(io.StringIO(text).readline))
    except tokenize.TokenError:
      return name
  return "an included gin file"


_NO_CONFIGURABLE = re.compile(r"No configurable matching (?:reference )?'@?([\w./]+?)(?:\(\))?'")
_NO_PARAMETER = re.compile(r"Configurable '([\w.]+)' doesn't have a parameter named '(\w+)'")
_NO_FILE = re.compile(r"Unable to open file: (\S+?)\. Searched config paths: (.*?)\.(?:\n|$)")


def explain_gin_error(error: BaseException) -> GinConfigError:
  """Turns an exception from gin parsing or calling into a GinConfigError."""
  if isinstance(error, GinConfigError):
    return error
  message = str(error)
  headline, _, location = message.partition("\n")
  location = ("\n" + location) if location else ""

  match = _NO_CONFIGURABLE.search(message)
  if match:
    return GinConfigError(f"{headline}{_suggest_configurable(match.group(1))}{location}")
  match = _NO_PARAMETER.search(message)
  if match:
    return GinConfigError(f"{headline}{_suggest_parameter(*match.groups())}{location}")
  match = _NO_FILE.search(message)
  if match:
    included = match.group(1)
    stem = included[:-4] if included.endswith(".gin") else included
    return GinConfigError(
        f"Gin include '{included}' not found in {match.group(2)}."
        f"{did_you_mean(stem, shipped_configs())}{_rest_after_first(message)}")
  if isinstance(error, SyntaxError):
    where = f"{error.filename}, line {error.lineno}" if error.filename else "a binding"
    text = f"\n    {error.text.rstrip()}" if error.text else ""
    return GinConfigError(f"Gin syntax error in {where}: {error.msg}{text}")
  if isinstance(error, ModuleNotFoundError):
    return GinConfigError(
        f"{headline} (an `import` line of a gin file). Install the module, or put it beside the "
        f"gin file or in the current folder.{location}")
  return GinConfigError(f"{type(error).__name__}: {message}")


def _rest_after_first(message: str) -> str:
  lines = message.split("\n")
  rest = [line for line in lines[1:] if line.strip()]
  return ("\n" + "\n".join(rest)) if rest else ""


def _suggest_configurable(selector: str) -> str:
  selector = selector.split("/")[-1]  # drop a gin scope
  known = configurable_selectors()
  hint = did_you_mean(selector, known)
  kind, _, name = selector.rpartition(".")
  if kind in registries.ALL:
    names = registries.ALL[kind].names()
    hint = did_you_mean(name, [f"{kind}.{n}" for n in names]) or hint
    hint += f" Registered {kind}: {', '.join(names) or '(none)'}."
  elif not hint and kind:
    hint = did_you_mean(kind, registries.ALL)
  return hint


def _suggest_parameter(selector: str, parameter: str) -> str:
  configurable = gin.config._REGISTRY.get_match(selector)  # pylint: disable=protected-access
  if configurable is None:
    return ""
  try:
    names = [p for p in inspect.signature(configurable.wrapped).parameters if p != "self"]
  except (TypeError, ValueError):
    return ""
  return f"{did_you_mean(parameter, names)} Parameters of {selector}: {', '.join(names)}."
