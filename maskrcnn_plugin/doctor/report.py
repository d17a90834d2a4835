"""What doctor hands back: the facts it gathered and its findings, with severities."""

import dataclasses
from typing import Any, Dict, List, Optional

ERROR = "error"  # The set-up cannot train: the exit status is non-zero.
WARNING = "warning"  # Training works, but something will bite (slow, wrong Keras for user code).
INFO = "info"


@dataclasses.dataclass
class Finding:
  """One verdict: what is wrong (or notable) and what to do about it."""
  severity: str  # ERROR, WARNING or INFO
  check: str  # stable identifier, e.g. "tf_keras_version"
  message: str
  remedy: str = ""


@dataclasses.dataclass
class Report:
  """Everything doctor found. `to_dict()` is the `--json` output."""
  python: Dict[str, str]
  packages: Dict[str, Optional[str]]  # distribution -> version, None when not installed
  imports: Dict[str, Optional[str]]  # module -> None when it imports, else the error
  keras: Dict[str, Any]
  tensorflow_build: Dict[str, Any]
  driver: Dict[str, Any]
  gpus: List[Dict[str, Any]]
  cpu: Dict[str, Any]
  probe_errors: Dict[str, str] = dataclasses.field(default_factory=dict)  # probe -> error
  findings: List[Finding] = dataclasses.field(default_factory=list)

  @property
  def can_train(self) -> bool:
    return not any(f.severity == ERROR for f in self.findings)

  def to_dict(self) -> Dict[str, Any]:
    result = dataclasses.asdict(self)
    result["can_train"] = self.can_train
    return result
