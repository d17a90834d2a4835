"""User-facing errors: the CLI prints their message alone, without traceback."""


class UserError(Exception):
  """A mistake in the user's input (config, data, paths) with a complete message."""


class GinConfigError(UserError):
  """A gin file or binding is wrong; the message names the file and line."""


class ContractError(UserError):
  """A component (e.g. a user's backbone) breaks its contract."""
