"""Class names beside the data, in the run folder and in exported models.

One file format everywhere: COCO's `categories` list in JSON,
`[{"id": 1, "name": "balloon"}, ...]`. The converters write it as
`PREFIX_classes.json` beside `PREFIX-NNNNN-of-NNNNN.tfrecord`; training copies
the one of its training data into `MODEL_DIR/classes.json`; export puts that
file into the SavedModel's assets (`assets/classes.json`); `predict` and
`data check --render` label detections with it. The gin binding
`data.class_names.names = {1: 'balloon'}` (or a list for ids 1..K) overrides
the names from the data when training starts.
"""

import json
import os
import re
from typing import Dict, Mapping, Optional, Sequence, Union

import gin

FILE_NAME = "classes.json"
_SHARD = re.compile(r"^(?P<prefix>.*)-\d{5}-of-\d{5}\.tfrecord$")


def write(path: str, names: Mapping[int, str]) -> str:
  """Writes {id: name} as a COCO categories list; returns `path`."""
  categories = [{"id": int(i), "name": str(names[i])} for i in sorted(names)]
  with open(path, "w", encoding="utf-8") as file:
    json.dump(categories, file, indent=1)
  return path


def read(path: str) -> Dict[int, str]:
  """{id: name} from a classes file (a categories list or a COCO instances JSON)."""
  with open(path, encoding="utf-8") as file:
    data = json.load(file)
  if isinstance(data, dict):
    data = data.get("categories", [])
  return {int(c["id"]): str(c["name"]) for c in data}


def path_beside_records(record_file: str) -> Optional[str]:
  """`PREFIX_classes.json` for a shard `PREFIX-NNNNN-of-NNNNN.tfrecord`, None for other names."""
  match = _SHARD.match(record_file)
  return f"{match.group('prefix')}_classes.json" if match else None


def for_files(files: Sequence[str]) -> Dict[int, str]:
  """The class names found beside data files: TFRecord shards or a COCO JSON.

  Files without names beside them contribute nothing; {} when none has any.
  """
  names: Dict[int, str] = {}
  for path in files:
    candidate = path if path.endswith(".json") else path_beside_records(path)
    if candidate and os.path.isfile(candidate):
      try:
        names.update(read(candidate))
      except (OSError, ValueError, KeyError, TypeError):
        continue  # Not a classes file: the names are only labels, training goes on.
  return names


@gin.configurable("class_names", module="data")
def bound_names(names: Union[Mapping[int, str], Sequence[str], None] = None
                ) -> Optional[Dict[int, str]]:
  """The class names bound in gin, `data.class_names.names` ({id: name} or a list for 1..K)."""
  if names is None:
    return None
  if isinstance(names, Mapping):
    return {int(i): str(n) for i, n in names.items()}
  return {i + 1: str(n) for i, n in enumerate(names)}


def resolve(data_files: Sequence[str]) -> Dict[int, str]:
  """The gin binding `data.class_names.names` if set, else the names beside `data_files`."""
  bound = bound_names()
  return bound if bound is not None else for_files(data_files)


def write_for_run(model_dir: str, data_files: Sequence[str]) -> Optional[str]:
  """Writes MODEL_DIR/classes.json from `resolve(data_files)`; None when no names are known."""
  found = resolve(data_files)
  if not found:
    return None
  return write(os.path.join(model_dir, FILE_NAME), found)


def for_model(model_path: Optional[str]) -> Dict[int, str]:
  """The class names of a training folder (classes.json) or SavedModel (assets/classes.json)."""
  if not model_path:
    return {}
  for candidate in (os.path.join(model_path, FILE_NAME),
                    os.path.join(model_path, "assets", FILE_NAME)):
    if os.path.isfile(candidate):
      return read(candidate)
  return {}
