"""A registry of named factories, each also gin-configurable.

    BACKBONES = Registry("backbones", contract="Called as `factory(input_specs)`; "
                         "returns a Keras model whose output is a dict of feature maps.")

    @BACKBONES.register("resnet")       # or @BACKBONES.register() for __name__
    def resnet(input_specs, *, model_id=50): ...

    BACKBONES.get("resnet")             # the (gin-configurable) factory
    BACKBONES.names(); "resnet" in BACKBONES; BACKBONES.describe("resnet")
    BACKBONES.contract                  # how its factories are called, what they return

In gin the factory is `backbones.resnet`: `@backbones.resnet` refers to it and
`backbones.resnet.model_id = 101` binds its parameters. Ranges and choices
declared on its parameters (`registry.constraints`) are checked on every call
and shown by `describe`.
"""

import dataclasses
import inspect
import typing
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from registry import constraints, gin_bridge
from registry.errors import DuplicateNameError, RegistryError, UnknownNameError
from registry.suggest import did_you_mean

_REQUIRED = "<required>"


@dataclasses.dataclass(frozen=True)
class Parameter:
  """One parameter of a registered factory."""
  name: str
  default: str          # repr of the default, or "<required>"
  annotation: str       # "" when the parameter is not annotated
  keyword_only: bool
  valid: str = ""       # declared range or choices, e.g. "an int >= 0"; "" when none

  @property
  def required(self) -> bool:
    return self.default == _REQUIRED


@dataclasses.dataclass(frozen=True)
class Description:
  """What `Registry.describe` tells about one registered factory."""
  kind: str
  name: str
  gin_name: str         # e.g. "backbones.resnet"
  source: str           # e.g. "maskrcnn_plugin.modeling.backbones.resnet"
  summary: str          # first line of the docstring
  doc: str              # whole docstring
  parameters: Tuple[Parameter, ...]

  def __str__(self) -> str:
    lines = [f"{self.gin_name}  ({self.source})"]
    if self.summary:
      lines.append(f"  {self.summary}")
    lines.append("  parameters:")
    if not self.parameters:
      lines.append("    (none)")
    for p in self.parameters:
      annotation = f": {p.annotation}" if p.annotation else ""
      value = "required" if p.required else f"default {p.default}"
      valid = f"; valid: {p.valid}" if p.valid else ""
      lines.append(f"    {p.name}{annotation}  ({value}{valid})")
    return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class _Entry:
  original: Callable[..., Any]       # what the user decorated
  configurable: Callable[..., Any]   # gin-configurable version, returned by get()


def _describe_parameters(obj: Callable[..., Any]) -> Tuple[Parameter, ...]:
  try:
    signature = inspect.signature(obj)
  except (TypeError, ValueError):
    return ()
  specs = constraints.parameter_specs(obj)
  params = []
  for p in signature.parameters.values():
    if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name == "self":
      continue
    default = _REQUIRED if p.default is p.empty else repr(p.default)
    annotation = p.annotation
    if typing.get_origin(annotation) is typing.Annotated:
      annotation = typing.get_args(annotation)[0]
    if annotation is p.empty:
      annotation = ""
    elif not isinstance(annotation, str):
      annotation = inspect.formatannotation(annotation)
    valid = specs[p.name].describe() if p.name in specs else ""
    params.append(Parameter(p.name, default, annotation, p.kind == p.KEYWORD_ONLY, valid))
  return tuple(params)


class Registry:
  """Named factories of one kind of component.

  Args:
    kind: The registry's name; it is also the gin module of its factories, so
      it must be a valid Python identifier and unique among registries.
    contract: How the registered factories are called and what the call must
      return (arguments, shapes, types), as Detectron2 writes it on each of
      its registries. Stored, indentation removed, as `contract` and as the
      registry's `__doc__`.
    loader: Called with no arguments before every lookup (get, names, `in`,
      describe...) so that built-in modules and plugins can register lazily;
      it must be cheap after its first call. For example
      `lambda: registry.load_entry_points("my_group")`.
  """

  def __init__(self, kind: str, *, contract: str = "",
               loader: Optional[Callable[[], Any]] = None):
    if not kind.isidentifier():
      raise ValueError(f"Registry kind must be a Python identifier, got {kind!r}.")
    if not isinstance(contract, str):
      raise TypeError(f"Registry '{kind}': contract must be a text, got "
                      f"{type(contract).__name__}.")
    self.kind = kind
    self.contract = inspect.cleandoc(contract)
    if self.contract:
      self.__doc__ = self.contract  # help(registry) shows it
    self._loader = loader
    self._entries: Dict[str, _Entry] = {}

  # Registration ---------------------------------------------------------------

  def register(self, name: Any = None, *, override: bool = False):
    """Decorator that registers a factory (function or class) under `name`.

    Usable as `@reg.register("name")`, `@reg.register()` and `@reg.register`
    (the last two use the object's `__name__`). Returns the gin-configurable
    version of the object, which is also what `get` returns.

    Registering the same object twice is a no-op; registering a different one
    under a taken name raises DuplicateNameError unless `override=True`.
    """
    if callable(name) and not isinstance(name, str):
      return self._add(name.__name__, name, override)
    if name is not None and not isinstance(name, str):
      raise TypeError(f"{self.kind}.register takes a name string, got {name!r}.")
    return lambda obj: self._add(name or obj.__name__, obj, override)

  def _add(self, name: str, obj: Callable[..., Any], override: bool) -> Callable[..., Any]:
    if not callable(obj):
      raise TypeError(f"Only functions and classes can be registered in '{self.kind}', "
                      f"got {type(obj).__name__} for '{name}'.")
    if not name.isidentifier():
      raise ValueError(f"'{name}' cannot be registered in '{self.kind}': gin names must be "
                       "Python identifiers (letters, digits, underscores).")
    existing = self._entries.get(name)
    if existing is not None:
      if existing.original is obj or existing.configurable is obj:
        return existing.configurable
      if not override:
        raise DuplicateNameError(
            f"'{name}' is already registered in '{self.kind}' by {_source(existing.original)}; "
            f"{_source(obj)} cannot take it. Choose another name, or pass "
            f"override=True to replace it.")
      gin_bridge.forget_configurable(name, self.kind)
    configurable = gin_bridge.make_configurable(
        constraints.checked(obj, f"{self.kind}.{name}"), name=name, module=self.kind)
    self._entries[name] = _Entry(obj, configurable)
    return configurable

  def unregister(self, name: str) -> None:
    """Removes `name` (and its gin configurable); mainly for tests."""
    self._entry(name)
    del self._entries[name]
    gin_bridge.forget_configurable(name, self.kind)

  # Lookup ---------------------------------------------------------------------

  def _load_plugins(self) -> None:
    if self._loader is not None:
      self._loader()

  def _entry(self, name: str) -> _Entry:
    self._load_plugins()
    if name not in self._entries:
      known = sorted(self._entries)
      available = ", ".join(known) if known else "(none registered)"
      raise UnknownNameError(
          f"No {self._singular()} named '{name}' in registry '{self.kind}'."
          f"{did_you_mean(name, known)} Available: {available}.")
    return self._entries[name]

  def _singular(self) -> str:
    return self.kind[:-1] if self.kind.endswith("s") else self.kind

  def get(self, name: str) -> Callable[..., Any]:
    """Returns the gin-configurable factory registered as `name`."""
    return self._entry(name).configurable

  def get_original(self, name: str) -> Callable[..., Any]:
    """Returns the object as it was registered (without gin bindings)."""
    return self._entry(name).original

  def names(self) -> List[str]:
    """Registered names, sorted."""
    self._load_plugins()
    return sorted(self._entries)

  def gin_name(self, name: str) -> str:
    """The fully qualified gin selector of `name`, e.g. 'backbones.resnet'."""
    self._entry(name)
    return f"{self.kind}.{name}"

  def name_of(self, obj: Any) -> Optional[str]:
    """The registered name of `obj` (original or configurable), or None."""
    for name, entry in self._entries.items():
      if obj is entry.original or obj is entry.configurable:
        return name
    return None

  def describe(self, name: str) -> Description:
    """Signature, defaults, docstring and source of the factory `name`."""
    original = self._entry(name).original
    doc = inspect.getdoc(original) or ""
    return Description(
        kind=self.kind,
        name=name,
        gin_name=f"{self.kind}.{name}",
        source=_source(original),
        summary=doc.strip().splitlines()[0] if doc.strip() else "",
        doc=doc,
        parameters=_describe_parameters(original))

  def __contains__(self, name: object) -> bool:
    self._load_plugins()
    return name in self._entries

  def __iter__(self) -> Iterator[str]:
    return iter(self.names())

  def __len__(self) -> int:
    self._load_plugins()
    return len(self._entries)

  def __repr__(self) -> str:
    return f"Registry({self.kind!r}, names={sorted(self._entries)})"


def _source(obj: Any) -> str:
  module = getattr(obj, "__module__", None) or "?"
  return f"{module}.{getattr(obj, '__qualname__', getattr(obj, '__name__', repr(obj)))}"


__all__ = ["Description", "Parameter", "Registry", "RegistryError"]
