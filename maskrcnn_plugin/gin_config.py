"""Parsing gin files and bindings, with errors a person can act on.

Shipped configs are found by short name (`maskrcnn_r50_fpn_coco`) from any
current directory and from an installed wheel; `include` lines resolve
against the shipped folder, the including file's folder and the current
folder. Gin's own errors name the file and line but never suggest a fix:
`parse_gin` re-raises them as one GinConfigError with close matches, names
where an undefined macro is used, and refuses circular includes (on which gin
recurses until Python's stack overflows). `explain_call_error` does the same
for an error raised inside a configurable's call, naming where its
parameters are bound.

Values are checked as well as names, right after parsing: a binding under a
scope nothing enters (`trian/...`) is an error with close matches, and every
bound value (macros resolved) is checked against the range or choices
declared for its parameter (`registry.constraints`), even when the feature
that reads it is off in this run.
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
from typing import Any, Dict, Iterable, List, Optional, Sequence

import gin
import gin.config
import gin.config_parser
import gin.resource_reader

from maskrcnn_plugin import registries
from maskrcnn_plugin import errors
from maskrcnn_plugin.errors import GinConfigError, UserError
from registry import ConstraintError, did_you_mean, parameter_specs
from registry.constraints import check_value
from registry.gin_bridge import configurable_selectors

# The gin scopes the plugin enters (training/experiment.py builds the train and
# eval input pipelines under them). A binding under any other scope applies
# only where a reference enters it (`@my_scope/parsers.maskrcnn`); code that
# enters a scope of its own with `gin.config_scope` adds the name here.
ENTERED_SCOPES = {"train", "eval"}


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

# The gin files being parsed (outermost first), and the binding statements of
# the last `parse_gin` in the order gin applied them: gin recurses forever on a
# circular include, and keeps no file or line for a binding, which messages
# about a binding's value need.
_INCLUDE_STACK: List[str] = []
_STATEMENTS: List[gin.config_parser.BindingStatement] = []
_gin_parse_config_file = gin.config.parse_config_file
_gin_parse_statement = gin.config_parser.ConfigParser.parse_statement


def _recording_parse_statement(parser):
  statement = _gin_parse_statement(parser)
  if isinstance(statement, gin.config_parser.BindingStatement):
    _STATEMENTS.append(statement)
  return statement


def _parse_config_file_once(config_file, *args, **kwargs):
  """gin's parse_config_file, refusing a file that (indirectly) includes itself."""
  path = _find_config_file(config_file)
  if path in _INCLUDE_STACK:
    cycle = _INCLUDE_STACK[_INCLUDE_STACK.index(path):] + [path]
    raise GinConfigError(
        f"Circular gin include: {' includes '.join(cycle)}. Remove one of these include "
        "lines (a file may include a base only once along a chain).")
  _INCLUDE_STACK.append(path)
  try:
    return _gin_parse_config_file(config_file, *args, **kwargs)
  finally:
    _INCLUDE_STACK.pop()


def _find_config_file(config_file: str) -> str:
  """The real path gin will read `config_file` from (as gin searches), else the name."""
  prefixes = ([""] if os.path.isabs(config_file)
              else gin.config._LOCATION_PREFIXES)  # pylint: disable=protected-access
  for prefix in prefixes:
    candidate = os.path.join(prefix, config_file)
    if os.path.isfile(candidate):
      return os.path.realpath(candidate)
  return config_file


gin.config.parse_config_file = _parse_config_file_once
gin.config_parser.ConfigParser.parse_statement = _recording_parse_statement


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
  _INCLUDE_STACK.clear()
  _STATEMENTS.clear()
  try:
    gin.parse_config_files_and_bindings(paths, list(gin_params), finalize_config=finalize)
  except tokenize.TokenError as error:  # gin gives no location for these.
    gin.clear_config()
    raise GinConfigError(
        f"Gin syntax error: a bracket or quote is never closed in "
        f"{_unclosed_source(paths, gin_params)} ({error.args[0]}).") from error
  except Exception as error:  # Every gin parse error becomes one clear message.
    explained = explain_gin_error(error)  # before clearing: it lists the defined macros
    gin.clear_config()
    raise explained from error
  try:
    check_scopes()
    check_bound_values()
  except GinConfigError:
    gin.clear_config()
    raise
  return paths


def _references(value) -> Iterable[gin.config.ConfigurableReference]:
  """The configurable references (and macros) inside a parsed gin value."""
  if isinstance(value, gin.config.ConfigurableReference):
    yield value
  elif isinstance(value, (list, tuple)):
    for item in value:
      yield from _references(item)
  elif isinstance(value, dict):
    for item in value.values():
      yield from _references(item)


def check_scopes() -> None:
  """Raises GinConfigError for a binding under a scope nothing ever enters.

  Entered are ENTERED_SCOPES and every scope a reference names
  (`@my_scope/parsers.maskrcnn`); gin itself accepts any scope and silently
  ignores the bindings of one that is never entered.
  """
  entered = set(ENTERED_SCOPES)
  for statement in _STATEMENTS:
    for reference in _references(statement.value):
      if reference.selector != "gin.macro":  # a macro's "scope" is its name
        entered.update(reference.scopes)
  for statement in _STATEMENTS:
    if statement.selector == "gin.macro":  # `NAME/gin.macro.value = ...` defines a macro
      continue
    for scope in (statement.scope or "").split("/"):
      if scope and scope not in entered:
        raise GinConfigError(
            f"Gin scope '{scope}' is never entered, so this binding would be silently "
            f"ignored: {_where(statement)}.{did_you_mean(scope, entered)} Scopes that are "
            f"entered: {', '.join(sorted(entered))} (a scope of your own is entered where a "
            f"reference names it, e.g. `@{scope}/{statement.selector}`).")


_UNRESOLVED = object()


def _resolve(value, depth: int = 0):
  """A bound value with macros replaced by their values; _UNRESOLVED if it holds a reference."""
  if isinstance(value, gin.config.ConfigurableReference):
    if value.selector != "gin.macro" or depth > 20:
      return _UNRESOLVED
    try:
      return _resolve(gin.query_parameter(f"{'/'.join(value.scopes)}/gin.macro.value"),
                      depth + 1)
    except ValueError:
      return _UNRESOLVED
  if isinstance(value, (list, tuple)):
    items = [_resolve(item, depth) for item in value]
    return _UNRESOLVED if any(item is _UNRESOLVED for item in items) else type(value)(items)
  if isinstance(value, dict) and any(True for _ in _references(value)):
    return _UNRESOLVED
  return value


def bound_value(binding_key: str, *, inherit_scopes: bool = False) -> Any:
  """The value gin binds to `binding_key` ('scope/module.name.param'), macros resolved.

  With `inherit_scopes`, a parameter that the key's scope leaves unbound takes
  the value of the nearest outer scope, as a call in that scope would:
  'eval/data.input_pipeline.data_dir' falls back to 'data.input_pipeline.data_dir'.

  Returns:
    None when nothing is bound there, or when the value holds a reference.
  """
  *scopes, name = binding_key.split("/")
  depths = range(len(scopes), -1, -1) if inherit_scopes else [len(scopes)]
  for depth in depths:
    try:
      value = _resolve(gin.query_parameter("/".join([*scopes[:depth], name])))
    except ValueError:
      continue
    return None if value is _UNRESOLVED else value
  return None


def bindings(selector: str) -> Dict[str, Any]:
  """Gin's bindings of configurable `selector` ('module.name'), {} when it has none.

  They are those a call in the current gin scope gets; references and macros
  are left as gin's ConfigurableReference objects, unevaluated.
  """
  try:
    return gin.get_bindings(selector, resolve_references=False)
  except (ValueError, KeyError):
    return {}


def check_bound_values() -> None:
  """Checks every value bound in gin against its parameter's declared range or choices.

  Only the binding that takes effect (the last one of each scope, configurable
  and parameter) is checked; a value that holds a call (`@x()`) is checked
  when the configurable is called.

  Raises:
    GinConfigError: naming the binding, its value, what is valid and the file
      and line (or --gin_param binding) it comes from.
  """
  effective = {}
  for statement in _STATEMENTS:
    if statement.arg_name:
      effective[(statement.scope, statement.selector, statement.arg_name)] = statement
  for (scope, selector, arg_name), statement in effective.items():
    configurable = gin.config._REGISTRY.get_match(selector)  # pylint: disable=protected-access
    if configurable is None:
      continue
    spec = parameter_specs(configurable.wrapped).get(arg_name)
    value = _resolve(statement.value)
    if spec is None or value is _UNRESOLVED:
      continue
    module = configurable.module  # a dotted Python module when gin was given none
    name = f"{module}.{configurable.name}" if module and "." not in module else configurable.name
    try:
      check_value(f"{scope}/{name}.{arg_name}" if scope else f"{name}.{arg_name}", spec, value)
    except ConstraintError as error:
      raise GinConfigError(f"{error} It is bound at {_where(statement)}.") from error


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
_NO_MACRO = re.compile(r"No bindings specified for '(?:[\w./]+/)?([\w.]+)/gin\.macro'")
_IN_CALL = re.compile(r"\n  In call to configurable '([\w.]+)' \((.*?)\)(?: in scope '([\w/]+)')?")


def explain_gin_error(error: BaseException) -> GinConfigError:
  """Turns an exception from gin parsing or calling into a GinConfigError."""
  if isinstance(error, GinConfigError):
    return error
  if isinstance(error, ConstraintError):
    return GinConfigError(constraint_message(error))
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
  match = _NO_MACRO.search(message)
  if match:
    return _undefined_macro(match.group(1))
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


def _undefined_macro(name: str) -> GinConfigError:
  """A `%NAME` that no file or binding defines: where it is used, and close names."""
  config = gin.config._CONFIG  # pylint: disable=protected-access
  defined = sorted({key[0].split("/")[-1] for key in config if key[1] == "gin.macro"})
  used = _locations(re.compile(rf"%{re.escape(name)}\b"))
  where = f" It is used at {'; '.join(used)}." if used else ""
  return GinConfigError(
      f"Gin macro %{name} is not defined.{where}{did_you_mean(name, defined)} Define it "
      f"(`{name} = ...`) or use a defined macro: {', '.join(defined) or '(none)'}.")


def _where(statement: gin.config_parser.BindingStatement) -> str:
  """'FILE:LINE: text', or "binding 'text'" for a --gin_param binding."""
  location = statement.location
  text = location.line_content.strip()
  return f"{location.filename}:{location.line_num}: {text}" if location.filename else \
      f"binding {text!r}"


def _locations(pattern: "re.Pattern", limit: int = 3) -> List[str]:
  """Where the parsed binding lines matching `pattern` are (the last `limit`)."""
  found = [_where(s) for s in _STATEMENTS if pattern.search(s.location.line_content)]
  return found[-limit:]


def _effective_bindings(name: str, scope: Optional[str]) -> List[str]:
  """Where each parameter of configurable `name` got its value (last binding wins)."""
  last = {}
  for statement in _STATEMENTS:
    if not statement.arg_name or statement.selector.rpartition(".")[2] != name:
      continue
    if statement.scope and statement.scope != scope:
      continue
    key = statement.arg_name
    if key not in last or statement.scope or not last[key].scope:  # scoped wins
      last[key] = statement
  found = [_where(s) for s in last.values()]
  for macro in dict.fromkeys(re.findall(r"%(\w+)", " ".join(
      s.location.line_content for s in last.values()))):
    definitions = [s for s in _STATEMENTS if not s.arg_name and s.selector == macro]
    if definitions:
      found.append(_where(definitions[-1]))
  return found


def explain_call_error(error: BaseException) -> Optional[UserError]:
  """One message for an error raised inside a gin configurable's call, else None.

  Gin appends "In call to configurable 'NAME' (...)" to an exception raised
  while it calls a configurable (a wrong value type, a missing required
  value, a value the library rejects). The message keeps the library's
  reason, names the configurable and where its parameters are bound (file and
  line, or the --gin_param binding), and says how to see the traceback.
  """
  message = str(error)
  match = _IN_CALL.search(message)
  if match is None:
    return None
  reason = message[:match.start()].strip()
  if isinstance(error, ConstraintError):
    return GinConfigError(constraint_message(error))
  if isinstance(error, UserError):  # Already one complete message: drop gin's call notes.
    return errors.without_gin_call_notes(error)
  name, scope = match.group(1), match.group(3)
  selector = _full_selector(name)
  scoped = f"{scope}/{selector}" if scope else selector
  bound = _effective_bindings(name, scope)[:8]
  callers = _locations(re.compile(rf"@(\w+/)?{re.escape(selector)}\b"), limit=2)
  called = f" It is referenced at: {'; '.join(callers)}." if callers else ""
  where = (" Its parameters are bound at: " + "; ".join(bound) + "." if bound
           else f" None of its parameters is bound in gin: bind them as `{selector}.NAME = ...`.")
  missing = re.search(r"No values supplied by Gin or caller for arguments: \[(.*?)\]", reason)
  fix = ""
  if missing:
    first = missing.group(1).split(",")[0].strip(" '")
    fix = f" Bind the missing value, e.g. `{selector}.{first} = ...`."
  headline = reason.splitlines()[0] if reason else type(error).__name__
  return GinConfigError(
      f"Calling gin configurable {scoped} failed: {type(error).__name__}: {headline}.{fix}"
      f"{called}{where} Check the value's type and range (run with --verbose for the traceback).")


def constraint_message(error: ConstraintError) -> str:
  """The ConstraintError's message without gin's call notes, with where the value is bound."""
  message = str(error).split("\n  In call to configurable", 1)[0].strip()
  binding = re.match(r"([\w./]+) = ", message)
  if binding:
    scope, _, key = binding.group(1).rpartition("/")
    selector, _, arg_name = key.rpartition(".")
    for statement in reversed(_STATEMENTS):
      if (statement.arg_name == arg_name and statement.scope == scope and
          (statement.selector == selector or selector.endswith("." + statement.selector))):
        return f"{message} It is bound at {_where(statement)}."
  return message


def _full_selector(name: str) -> str:
  """'optimizers.sgd' for gin's 'sgd', when one registered configurable has that name."""
  try:
    configurable = gin.config._REGISTRY.get_match(name)  # pylint: disable=protected-access
  except (KeyError, ValueError):
    return name
  if configurable is None:
    return name
  return f"{configurable.module}.{configurable.name}" if configurable.module else name
