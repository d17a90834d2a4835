"""`maskrcnn validate`: build the model from gin files and run one inference pass."""

from maskrcnn_plugin.cli.main import add_gin_arguments


def add_commands(subparsers) -> None:
  parser = subparsers.add_parser(
      "validate",
      help="build the model from gin files, run one dummy inference pass, print its parameter "
           "count and feature/output shapes")
  add_gin_arguments(parser)
  parser.set_defaults(run=run)


def run(args) -> int:
  from maskrcnn_plugin.modeling import validation  # pylint: disable=import-outside-toplevel
  _, summary = validation.validate(args.gin_file, args.gin_param)
  print(summary)
  return 0
