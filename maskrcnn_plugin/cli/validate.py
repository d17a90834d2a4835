"""`maskrcnn validate`: check gin values, build the model, one inference and one training pass."""

from maskrcnn_plugin.cli.main import add_gin_arguments


def add_commands(subparsers) -> None:
  parser = subparsers.add_parser(
      "validate",
      help="check gin values and scopes, build the model, run one dummy inference pass and one "
           "training pass on a synthetic batch, print its parameter count, feature/output "
           "shapes and both times")
  add_gin_arguments(parser)
  parser.set_defaults(run=run)


def run(args) -> int:
  from maskrcnn_plugin.modeling import dry_run  # pylint: disable=import-outside-toplevel
  _, summary = dry_run.validate(args.gin_file, args.gin_param)
  print(summary)
  return 0
