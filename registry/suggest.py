"""Close-match suggestions for misspelled names ("did you mean ...?")."""

import difflib
from typing import Iterable, List


def close_matches(word: str, candidates: Iterable[str], limit: int = 3) -> List[str]:
  """Returns up to `limit` candidates that look like `word`, best first.

  Matching is case-insensitive and also compares the last dotted component,
  so `resnt` finds `backbones.resnet` and `Backbones.ResNet` finds `resnet`.
  """
  candidates = sorted(set(candidates))
  by_key = {}
  for candidate in candidates:
    by_key.setdefault(candidate.lower(), candidate)
    by_key.setdefault(candidate.rsplit(".", 1)[-1].lower(), candidate)
  found = []
  for key in difflib.get_close_matches(word.lower(), list(by_key), n=limit * 2, cutoff=0.6):
    if by_key[key] not in found:
      found.append(by_key[key])
  return found[:limit]


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
  """Returns " Did you mean 'x' or 'y'?" for close matches, else ""."""
  matches = close_matches(word, candidates)
  if not matches:
    return ""
  quoted = [repr(m) for m in matches]
  joined = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
  return f" Did you mean {joined}?"
