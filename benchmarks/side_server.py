"""One benchmark side in a process of its own, driven window by window over pipes.

`compare_torchvision.py` runs the plugin and torchvision in separate Python
processes (torch lives in a virtual environment of its own) and still
alternates their timing windows: each side process serves commands, one JSON
line each on its stdin, and answers one JSON line each on its stdout:

    {"cmd": "train", "steps": 2}    -> {"images_per_s": 0.41}
    {"cmd": "infer", "batches": 3}  -> {"images_per_s": 1.2, "detections": [100, 97, ...]}
    {"cmd": "peak_rss"}             -> {"peak_rss_mib": 4021.5}

Before serving, a side writes one line of facts about itself (versions, the
data it exported, ...), and one `{"ready": true}` line once it is built and
warmed up. Only the standard library is used here: the torch side imports it.
"""

import json
import os
import resource
import subprocess
import sys
from typing import Callable, Dict, List, Optional, Sequence, Tuple


def protocol_stdout():
  """The process's stdout for protocol lines; everything else printed goes to stderr.

  Libraries print to stdout (TensorFlow, tqdm-like progress); the answers
  must be the only lines on the pipe.
  """
  answers = os.fdopen(os.dup(1), "w", buffering=1)
  os.dup2(2, 1)
  sys.stdout = sys.stderr
  return answers


def peak_rss_mib() -> float:
  """Peak resident memory of this process so far (ru_maxrss, Linux KiB) in MiB."""
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def serve(answers, train: Callable[[int], float],
          infer: Callable[[int], Tuple[float, List[int]]]) -> None:
  """Answers commands from stdin until it closes.

  Args:
    answers: The file `protocol_stdout()` returned (the ready line already written).
    train: Runs `steps` training steps, returns images/s.
    infer: Runs `batches` inference batches, returns (images/s, detections
      kept per image).
  """
  for line in sys.stdin:
    command = json.loads(line)
    if command["cmd"] == "train":
      answer = {"images_per_s": train(int(command["steps"]))}
    elif command["cmd"] == "infer":
      rate, detections = infer(int(command["batches"]))
      answer = {"images_per_s": rate, "detections": detections}
    elif command["cmd"] == "peak_rss":
      answer = {"peak_rss_mib": peak_rss_mib()}
    else:
      raise ValueError(f"unknown command {command!r}")
    answers.write(json.dumps(answer) + "\n")


class SideProcess:
  """The driving end: starts a side's process and exchanges its JSON lines."""

  def __init__(self, name: str, command: Sequence[str], log_path: Optional[str],
               env: Optional[Dict[str, str]] = None):
    """Starts `command`; its stderr goes to `log_path` (None: this process's stderr)."""
    self.name = name
    self.log_path = log_path
    self._log = open(log_path, "w", encoding="utf-8") if log_path else None  # noqa: SIM115
    self._process = subprocess.Popen(list(command), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._log, text=True,
                                     bufsize=1, env=env)

  def read(self) -> Dict:
    """The side's next JSON line; SystemExit with its log's end if it died."""
    line = self._process.stdout.readline()
    if not line:
      self._process.wait()
      tail = ""
      if self.log_path:
        self._log.flush()
        with open(self.log_path, encoding="utf-8", errors="replace") as log:
          tail = "".join(log.readlines()[-30:])
      raise SystemExit(f"{tail}\nThe {self.name} side's process ended (exit "
                       f"{self._process.returncode}) before answering"
                       + (f"; its log: {self.log_path}" if self.log_path else "") + ".")
    return json.loads(line)

  def call(self, cmd: str, **fields) -> Dict:
    """Sends one command, returns its answer."""
    self._process.stdin.write(json.dumps({"cmd": cmd, **fields}) + "\n")
    self._process.stdin.flush()
    return self.read()

  def close(self) -> None:
    """Closes the side's stdin (it exits) and waits for it."""
    if self._process.stdin:
      self._process.stdin.close()
    self._process.wait()
    if self._log:
      self._log.close()
