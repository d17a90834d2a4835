"""Makes registered factories gin-configurable under the registry's module.

`backbones.resnet` in a gin file is the factory registered as "resnet" in the
registry whose gin module is "backbones".
"""

from typing import Any, Callable

import gin
import gin.config


def make_configurable(obj: Callable[..., Any], name: str, module: str) -> Callable[..., Any]:
  """Returns a gin-configurable version of `obj`, named `module.name`.

  `obj` itself is left unchanged (classes are subclassed, functions wrapped),
  so registering a class that someone else also uses has no side effect.
  """
  return gin.external_configurable(obj, name=name, module=module)


def forget_configurable(name: str, module: str) -> None:
  """Removes `module.name` from gin, so that the name can be registered again.

  Gin has no public API to unregister a configurable; its registry is a
  SelectorMap keyed by the full selector. Only `Registry.register(...,
  override=True)` and `Registry.unregister` use this.
  """
  selector = f"{module}.{name}"
  if selector in gin.config._REGISTRY:  # pylint: disable=protected-access
    gin.config._REGISTRY.pop(selector)  # pylint: disable=protected-access


def configurable_selectors() -> list:
  """Every configurable gin knows, as fully qualified selectors."""
  return [selector for selector, _ in gin.config._REGISTRY.items()]  # pylint: disable=protected-access
