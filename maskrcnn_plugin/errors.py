"""User-facing errors (the CLI prints their message alone, without traceback) and the
helpers that quote other errors in them."""

from typing import Optional


class UserError(Exception):
  """A mistake in the user's input (config, data, paths) with a complete message."""


class GinConfigError(UserError):
  """A gin file or binding is wrong; the message names the file and line."""


class ContractError(UserError):
  """A component (e.g. a user's backbone) breaks its contract."""


_GIN_CALL_NOTE = "\n  In call to configurable"


def first_line(error: BaseException, limit: Optional[int] = None) -> str:
  """The first line of an error's message (at most `limit` characters when given).

  TensorFlow's OpErrors keep their text in `.message`; gin appends its call
  location on the lines below. An error without text gives its class name.
  """
  text = (getattr(error, "message", None) or str(error)).strip()
  return text.splitlines()[0][:limit] if text else type(error).__name__


def reason(error: BaseException, limit: Optional[int] = None) -> str:
  """'ErrorClass: first line', for messages that quote what went wrong."""
  return f"{type(error).__name__}: {first_line(error, limit)}"


def without_gin_call_notes(error: UserError) -> UserError:
  """The same UserError, of its own class, without gin's "In call to configurable" notes.

  Gin re-raises an exception from a configurable as a proxy subclass of the
  same name (one per nested call) whose message ends with where the call
  was; the plugin's own messages are already complete.
  """
  error_class = type(error)
  while error_class.__mro__[1].__name__ == error_class.__name__:  # one proxy per call
    error_class = error_class.__mro__[1]
  return error_class(str(error).split(_GIN_CALL_NOTE, 1)[0].strip())
