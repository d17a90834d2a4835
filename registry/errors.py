"""Errors raised by registries. Each message is complete on its own."""


class RegistryError(Exception):
  """Base class of registry errors."""


class UnknownNameError(RegistryError, KeyError):
  """A name that is not registered was looked up."""

  def __str__(self):  # KeyError would quote the message.
    return str(self.args[0])


class DuplicateNameError(RegistryError, ValueError):
  """A different object was registered under a name that is taken."""


class PluginLoadError(RegistryError, ImportError):
  """A plugin entry point could not be loaded."""


class ConstraintError(RegistryError, ValueError):
  """A value outside the range or choices declared for its parameter.

  Attributes:
    binding: The gin binding, e.g. 'detection_heads.detection_head.num_fcs'.
    value: The value it got.
    expected: What is valid, e.g. 'an int >= 0'.
  """

  def __init__(self, binding, value=None, expected: str = "", hint: str = ""):
    if not expected:  # Re-created from its message alone (gin's error proxies do that).
      super().__init__(binding)
      self.binding, self.value, self.expected = None, None, ""
      return
    super().__init__(f"{binding} = {value!r} is not valid: it must be {expected}.{hint}")
    self.binding, self.value, self.expected = binding, value, expected
