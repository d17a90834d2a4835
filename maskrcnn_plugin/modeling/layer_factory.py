"""`passes_arguments`: a factory that passes its parameters on to the layer it builds.

Most built-in factories wrap one Model Garden class: they declare parameters
(gin binds them, their ranges ride on the annotations, `maskrcnn describe`
shows them) and pass every one, by the same name, to the class. Written once
here instead of once per factory:

    @RPN_HEADS.register("rpn_head")
    @passes_arguments()
    def rpn_head(min_level: Level, max_level: Level, num_anchors_per_location: PositiveInt,
                 *, num_convs: NonNegativeInt = 1, ...):
      \"\"\"Model Garden's region proposal head (`dense_prediction_heads.RPNHead`).\"\"\"
      return dense_prediction_heads.RPNHead

The function's body runs first, with the call's arguments: it may check them
(raise) and returns the class (or any callable) to build, which can depend
on an argument (e.g. `nms_kernel`).
"""

import functools
import inspect
from typing import Any, Callable, Mapping, Optional, Sequence


def passes_arguments(*, renamed: Optional[Mapping[str, str]] = None,
                     none_means_default: Sequence[str] = (),
                     not_passed: Sequence[str] = ()) -> Callable[[Callable], Callable]:
  """Decorator: the factory calls what its body returns with all its arguments.

  Args:
    renamed: {parameter: the class's argument name} where they differ.
    none_means_default: Parameters left out when None, so that the class's
      own default applies.
    not_passed: Parameters only the body reads (e.g. the choice of class).

  Returns:
    A decorator keeping the function's name, docstring and signature (which
    gin, the declared constraints and `describe` read).
  """
  renamed = dict(renamed or {})

  def decorate(choose: Callable[..., Callable]) -> Callable:
    signature = inspect.signature(choose)

    @functools.wraps(choose)
    def factory(*args, **kwargs):
      build = choose(*args, **kwargs)  # Python's own message for a wrong call
      bound = signature.bind(*args, **kwargs)
      bound.apply_defaults()
      return build(**{renamed.get(name, name): value for name, value in bound.arguments.items()
                      if name not in not_passed
                      and not (value is None and name in none_means_default)})

    factory.__signature__ = signature  # gin's getfullargspec does not unwrap
    return factory

  return decorate
