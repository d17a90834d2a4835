"""`maskrcnn list` and `maskrcnn describe`: what the registries hold.

    maskrcnn describe backbones          # the registry's contract and its names
    maskrcnn describe backbones.resnet   # one component: parameters, defaults, doc
"""

import json
import textwrap

from maskrcnn_plugin import registries
from maskrcnn_plugin.cli import builtin_names


def add_commands(subparsers) -> None:
  listing = subparsers.add_parser("list", help="list every registry and its names")
  listing.add_argument("kind", nargs="?", help="only this registry, e.g. backbones")
  listing.add_argument("--json", action="store_true", help="print JSON")
  listing.set_defaults(run=run_list)

  describe = subparsers.add_parser(
      "describe", help="a registry's contract and names, or one component's parameters, "
                       "defaults and documentation")
  describe.add_argument("name", help="registry (e.g. backbones) or registry.name (e.g. "
                                     "backbones.resnet)")
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
  if "." not in args.name:
    return _describe_registry(registries.get_registry(args.name), args.json)
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


def _describe_registry(registry_, as_json: bool) -> int:
  """Prints how the registry's factories are called, what they return, and its names."""
  names = registry_.names()
  paragraphs = [" ".join(p.split()) for p in registry_.contract.split("\n\n") if p.strip()]
  if as_json:
    print(json.dumps({"kind": registry_.kind, "contract": "\n\n".join(paragraphs),
                      "names": names}, indent=2))
    return 0
  print(f"{registry_.kind}: {len(names)} registered")
  for paragraph in paragraphs or ["(no contract stated)"]:
    print(textwrap.fill(paragraph, width=88, initial_indent="  ", subsequent_indent="  "))
  print(f"names: {', '.join(names) if names else '(none)'}")
  print(f"Each one: maskrcnn describe {registry_.kind}.NAME")
  return 0
