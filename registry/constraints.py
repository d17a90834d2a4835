"""Ranges and choices of factory parameters, declared once in the signature.

A constraint rides on the parameter's annotation with `typing.Annotated`:

    from typing import Annotated
    from registry.constraints import Range, OneOf, Each

    def detection_head(num_classes: Annotated[int, Range(min=2)], *,
                       num_fcs: Annotated[int, Range(min=0)] = 1,
                       dropout: Annotated[float, Range(0, 1, max_open=True)] = 0.0,
                       nms_kernel: Annotated[str, OneOf("native", "model_garden")] = "native",
                       modules: Annotated[Sequence[str], Each(OneOf("a", "b"))] = ("a",)): ...

The annotation's type is checked too: `int` takes ints (not bools), `float`
takes ints and floats, `Optional[...]` also takes None. A shared constraint is
an alias declared once (`Fraction = Annotated[float, Range(0, 1)]`).

`Registry.register` checks the constraints of a factory every time it is
called (whatever gave the value: gin, the builder, Python), and
`checked(fn, gin_name)` does the same for a plain gin configurable. A bad
value raises ConstraintError naming the binding, the value and what is valid:

    detection_heads.detection_head.num_fcs = -1 is not valid: it must be an int >= 0.

`parameter_specs(fn)` lists the declared constraints (for `describe` and for
checking bound values right after parsing, before anything is built).
"""

import dataclasses
import functools
import inspect
import numbers
import typing
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import gin

from registry.errors import ConstraintError
from registry.suggest import did_you_mean


class Constraint:
  """A condition on one value; `describe()` says what is valid."""

  def problem(self, value: Any) -> Optional[str]:
    """None when `value` is valid, else a hint to append ('' or " Did you mean 'x'?")."""
    raise NotImplementedError

  def describe(self) -> str:
    raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class Range(Constraint):
  """A number in [min, max]; either end may be open or absent; `note` says what it counts."""
  min: Optional[float] = None
  max: Optional[float] = None
  min_open: bool = False
  max_open: bool = False
  note: str = ""

  def problem(self, value):
    if not _is_number(value):
      return ""
    low_ok = self.min is None or (value > self.min if self.min_open else value >= self.min)
    high_ok = self.max is None or (value < self.max if self.max_open else value <= self.max)
    return None if low_ok and high_ok else ""

  def describe(self) -> str:
    note = f" ({self.note})" if self.note else ""
    if self.min is not None and self.max is not None:
      return (f"in {'(' if self.min_open else '['}{self.min:g}, {self.max:g}"
              f"{')' if self.max_open else ']'}{note}")
    if self.min is not None:
      return f"{'>' if self.min_open else '>='} {self.min:g}{note}"
    if self.max is not None:
      return f"{'<' if self.max_open else '<='} {self.max:g}{note}"
    return f"any number{note}"


@dataclasses.dataclass(frozen=True, init=False)
class OneOf(Constraint):
  """One of the given values; strings get close-match suggestions."""
  choices: Tuple[Any, ...]

  def __init__(self, *choices):
    object.__setattr__(self, "choices", tuple(choices))

  def problem(self, value):
    if any(value == choice and type(value) is type(choice) for choice in self.choices):
      return None
    if isinstance(value, str):
      return did_you_mean(value, [c for c in self.choices if isinstance(c, str)])
    return ""

  def describe(self) -> str:
    return "one of " + ", ".join(repr(c) for c in self.choices)


@dataclasses.dataclass(frozen=True)
class Each(Constraint):
  """A list or tuple whose every item meets `item`, of min_length..max_length items."""
  item: Constraint
  min_length: int = 0
  max_length: Optional[int] = None

  def problem(self, value):
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
      return ""
    if len(value) < self.min_length or (self.max_length is not None and
                                        len(value) > self.max_length):
      return ""
    for element in value:
      found = self.item.problem(element)
      if found is not None:
        return f" Item {element!r} is not valid.{found}"
    return None

  def describe(self) -> str:
    if self.max_length is not None:
      length = (f"{self.max_length} " if self.max_length == self.min_length else
                f"{self.min_length} to {self.max_length} ")
    else:
      return (f"a {'non-empty ' if self.min_length == 1 else ''}list of "
              f"{'' if self.min_length < 2 else f'at least {self.min_length} '}values each "
              f"{self.item.describe()}")
    return f"a list of {length}values each {self.item.describe()}"


@dataclasses.dataclass(frozen=True)
class Spec:
  """What one parameter accepts: its type (None: any) and its constraints."""
  type_: Optional[type]
  optional: bool
  constraints: Tuple[Constraint, ...]

  def problem(self, value: Any) -> Optional[str]:
    if value is None:
      return None if self.optional else ""
    if self.type_ is not None and not _has_type(value, self.type_):
      return ""
    for constraint in self.constraints:
      found = constraint.problem(value)
      if found is not None:
        return found
    return None

  def describe(self) -> str:
    kind = {int: "an int", float: "a number", str: "a string", bool: "True or False"}.get(
        self.type_, "")
    if any(isinstance(c, OneOf) for c in self.constraints):
      kind = ""  # the choices say it
    parts = [p for p in [kind] + [c.describe() for c in self.constraints] if p]
    text = " ".join(parts) if len(parts) < 3 else parts[0] + " " + ", ".join(parts[1:])
    takes_none = any(isinstance(c, OneOf) and None in c.choices for c in self.constraints)
    return f"{text} or None" if self.optional and not takes_none else text


def _is_number(value) -> bool:
  return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _has_type(value, type_) -> bool:
  if type_ is bool:
    return isinstance(value, bool)
  if type_ is int:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
  if type_ is float:
    return _is_number(value)
  return isinstance(value, type_)


def _spec(annotation: Any) -> Optional[Spec]:
  """The Spec of an `Annotated[...]` annotation (possibly inside Optional), else None."""
  optional = False
  if typing.get_origin(annotation) is typing.Union:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    optional = len(args) < len(typing.get_args(annotation))
    if len(args) != 1:
      return None
    annotation = args[0]
  if typing.get_origin(annotation) is not typing.Annotated:
    return None
  base, *extras = typing.get_args(annotation)
  if typing.get_origin(base) is typing.Union:  # Annotated[Optional[int], ...]
    args = [a for a in typing.get_args(base) if a is not type(None)]
    optional = optional or len(args) < len(typing.get_args(base))
    base = args[0] if len(args) == 1 else None
  constraints = tuple(e for e in extras if isinstance(e, Constraint))
  if not constraints:
    return None
  type_ = base if base in (int, float, str, bool) else None
  return Spec(type_, optional, constraints)


def parameter_specs(fn: Callable[..., Any]) -> Dict[str, Spec]:
  """{parameter: Spec} for the parameters of `fn` (or of a class's __init__) with constraints."""
  target = fn.__init__ if inspect.isclass(fn) else fn
  try:
    parameters = inspect.signature(target).parameters
  except (TypeError, ValueError):
    return {}
  specs = {}
  for name, parameter in parameters.items():
    spec = _spec(parameter.annotation)
    if spec is not None:
      specs[name] = spec
  return specs


def check_value(binding: str, spec: Spec, value: Any) -> None:
  """Raises ConstraintError when `value` (bound to `binding`) does not meet `spec`."""
  found = spec.problem(value)
  if found is not None:
    raise ConstraintError(binding, value, spec.describe(), found)


def check_arguments(gin_name: str, fn: Callable[..., Any], specs: Dict[str, Spec],
                    args: Sequence[Any], kwargs: Dict[str, Any]) -> None:
  """Checks the arguments of one call of `fn` against `specs`.

  The binding named in an error carries gin's active scope, e.g.
  'train/data.input_pipeline.shuffle_buffer_size'.
  """
  try:
    bound = inspect.signature(fn).bind_partial(*args, **kwargs)
  except TypeError:
    return  # Python reports the wrong call itself.
  bound.apply_defaults()
  scope = gin.current_scope_str()
  prefix = f"{scope}/{gin_name}" if scope else gin_name
  for name, spec in specs.items():
    if name in bound.arguments:
      check_value(f"{prefix}.{name}", spec, bound.arguments[name])


def checked(fn: Callable[..., Any], gin_name: str) -> Callable[..., Any]:
  """`fn` checking its declared constraints on every call; `fn` itself if it has none.

  Functions are wrapped (with their signature kept, as gin reads it); classes
  are subclassed with a checking `__init__`.
  """
  specs = parameter_specs(fn)
  if not specs:
    return fn
  if inspect.isclass(fn):
    original_init = fn.__init__

    @functools.wraps(original_init)
    def __init__(self, *args, **kwargs):
      check_arguments(gin_name, original_init, specs, (self,) + args, kwargs)
      original_init(self, *args, **kwargs)
    __init__.__signature__ = inspect.signature(original_init)
    return type(fn.__name__, (fn,), {"__init__": __init__, "__module__": fn.__module__,
                                     "__qualname__": fn.__qualname__, "__doc__": fn.__doc__})

  @functools.wraps(fn)
  def wrapper(*args, **kwargs):
    check_arguments(gin_name, fn, specs, args, kwargs)
    return fn(*args, **kwargs)
  wrapper.__signature__ = inspect.signature(fn)  # gin's getfullargspec does not unwrap
  return wrapper


def constraint(gin_name: str):
  """Decorator form of `checked` for gin configurables outside a registry.

      @gin.configurable(module="data")
      @constraint("data.input_pipeline")
      def input_pipeline(*, shuffle_buffer_size: Annotated[int, Range(min=1)] = 1000): ...
  """
  return lambda fn: checked(fn, gin_name)
