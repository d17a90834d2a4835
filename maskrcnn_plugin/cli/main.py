"""The `maskrcnn` command: one sub-command module per area.

Each module in COMMAND_MODULES has `add_commands(subparsers)`, which adds its
sub-commands with `parser.set_defaults(run=function)`; `run(args)` returns the
exit status. A UserError (bad config, data or path) is printed as one message
without a traceback unless --verbose is given.
"""

import argparse
import atexit
import importlib
import logging
import os
import sys
from typing import List, Optional

from maskrcnn_plugin.cli import stderr_filter

COMMAND_MODULES = (
    "maskrcnn_plugin.cli.registry_commands",
    "maskrcnn_plugin.cli.validate",
    "maskrcnn_plugin.cli.data",
    "maskrcnn_plugin.cli.train",
    "maskrcnn_plugin.cli.doctor",
    "maskrcnn_plugin.cli.serving_commands",
)


def build_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
      prog="maskrcnn",
      description="Build, train, evaluate and export Mask R-CNN models from gin files.")
  parser.add_argument("--verbose", action="store_true",
                      help="show TensorFlow logs and full tracebacks of errors")
  subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
  for module_name in COMMAND_MODULES:
    importlib.import_module(module_name).add_commands(subparsers)
  return parser


def add_gin_arguments(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
  """Adds the repeatable --gin_file and --gin_param options to `parser`."""
  parser.add_argument("--gin_file", "--gin-file", action="append", default=[],
                      required=required, metavar="FILE",
                      help="gin file path or shipped config name (repeatable, in order)")
  parser.add_argument("--gin_param", "--gin-param", action="append", default=[],
                      metavar="BINDING",
                      help="gin binding applied after the files, e.g. "
                           "'backbones.resnet.model_id = 101' (repeatable)")


def main(argv: Optional[List[str]] = None) -> int:
  """Runs the command in `argv` (default: this process's arguments); returns the exit status.

  Without --verbose, TensorFlow's log noise is hidden; with `argv` None (the
  `maskrcnn` program itself) that includes grappler's cost-estimator lines,
  which only a filter on the process's stderr can drop (`stderr_filter`).
  """
  own_process = argv is None
  argv = sys.argv[1:] if argv is None else argv
  if "--verbose" not in argv:
    # Before TensorFlow loads: its C++ info/warning/error lines (CUDA probing,
    # oneDNN notes) and Python deprecation warnings are noise to a CLI user;
    # --verbose shows them, and `maskrcnn doctor` reports set-up problems.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    if own_process:
      stderr_filter.install()
  import maskrcnn_plugin  # pylint: disable=import-outside-toplevel,unused-import
  from maskrcnn_plugin.errors import UserError  # pylint: disable=import-outside-toplevel
  from registry import RegistryError  # pylint: disable=import-outside-toplevel

  args = build_parser().parse_args(argv)
  try:
    return int(args.run(args) or 0)
  except (UserError, RegistryError) as error:
    if args.verbose:
      raise
    print(f"maskrcnn {args.command}: error: {_user_message(error) or error}", file=sys.stderr)
    return 2
  except Exception as error:  # A user mistake that surfaced as a library error.
    message = None if args.verbose else _user_message(error)
    if message is None:
      raise
    print(f"maskrcnn {args.command}: error: {message}", file=sys.stderr)
    return 2
  except KeyboardInterrupt:
    print(f"maskrcnn {args.command}: interrupted", file=sys.stderr)
    return 130


def _user_message(error: BaseException) -> Optional[str]:
  """The one-message form of an error caused by the user's config or data, else None.

  Covers errors raised inside a gin configurable's call (a wrong value type or
  a missing value: named with where it is bound) and a bad record met by the
  input pipeline inside TensorFlow ("Bad record FILE #INDEX: REASON").
  """
  # pylint: disable=import-outside-toplevel
  from maskrcnn_plugin.gin_config import explain_call_error
  if "Bad record " in str(error):
    from maskrcnn_plugin.dataloaders.record_checks import bad_record_error
    explained = bad_record_error(error)
    if explained is not None:
      return str(explained)
  explained = explain_call_error(error)
  return None if explained is None else str(explained)


def program() -> None:
  """The `maskrcnn` program: `main()`, then an exit without Python's finalization.

  A command returns with everything it writes closed or flushed (checkpoints,
  TensorBoard summaries, JSON and image files). What would be left is Python's
  finalization, whose garbage collection of TensorFlow's traced graphs took
  6-11 s after a tiny training run on 2 cores. The atexit handlers (the stderr
  filter's among them) still run; an exception escaping `main` exits the usual
  way, with its traceback.
  """
  status = main()
  sys.stdout.flush()
  sys.stderr.flush()
  atexit._run_exitfuncs()  # pylint: disable=protected-access
  os._exit(status)  # pylint: disable=protected-access


if __name__ == "__main__":
  program()
