"""`maskrcnn list` and `maskrcnn describe`: what the registries hold."""

import json

from maskrcnn_plugin import registries
from maskrcnn_plugin.cli import builtin_names


def add_commands(subparsers) -> None:
  listing = subparsers.add_parser("list", help="list every registry and its names")
  listing.add_argument("kind", nargs="?", help="only this registry, e.g. backbones")
  listing.add_argument("--json", action="store_true", help="print JSON")
  listing.set_defaults(run=run_list)

  describe = subparsers.add_parser(
      "describe", help="parameters, defaults and documentation of one component")
  describe.add_argument("name", help="registry.name, e.g. backbones.resnet")
  describe.add_argument("--json", action="store_true", help="print JSON")
  describe.set_defaults(run=run_describe)


def run_list(args) -> int:
  kinds = [registries.get_registry(args.kind).kind] if args.kind else sorted(registries.ALL)
  # The names read from source spare the TensorFlow import when they are all there is.
  names = builtin_names.names_without_loading() or {
      kind: registries.ALL[kind].names() for kind in kinds}
  table = {kind: names[kind] for kind in kinds}
  if args.json:
    print(json.dumps(table, indent=2))
    return 0
  width = max(len(k) for k in table)
  for kind, names in table.items():
    print(f"{kind:<{width}}  {', '.join(names) if names else '(none)'}")
  return 0


def run_describe(args) -> int:
  registry_, name = registries.lookup(args.name)
  description = registry_.describe(name)
  if args.json:
    print(json.dumps({
        "name": description.gin_name, "source": description.source,
        "summary": description.summary, "doc": description.doc,
        "parameters": [{"name": p.name, "default": None if p.required else p.default,
                        "required": p.required, "annotation": p.annotation,
                        "valid": p.valid or None}
                       for p in description.parameters],
    }, indent=2))
    return 0
  print(description)
  if description.doc.strip() != description.summary:
    print()
    print(description.doc)
  return 0
