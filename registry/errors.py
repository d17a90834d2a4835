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
