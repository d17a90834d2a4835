"""A filter on the process's stderr (fd 2) that drops TensorFlow's known-harmless noise lines.

TensorFlow's C++ code writes its logs straight to fd 2, not through Python's
logging. TF_CPP_MIN_LOG_LEVEL hides whole severities, and under TensorFlow
2.20 it does not reach grappler's cost estimator, whose warning
`op_level_cost_estimator.cc:...] Error in PredictCost() for the op: op:
"CropAndResize" ...` (about 1.5 KB on one line) is printed whenever a graph
with ROI align is optimised: the estimator has no cost model for that op and
the optimisation goes on without one. `install()` drops just those lines (and
the one-time absl notice that comes with the first of them); every other byte
written to fd 2, by Python, C++ or child processes, passes through unchanged
and in order.

The filter runs in a forked process that reads a pipe standing in for fd 2,
so a crash of the main process (a C++ check failure that aborts) loses none of
what it wrote: the filter drains the pipe to its end, then exits.
"""

import atexit
import os
import re
import select
import signal
import sys
import time
from typing import Optional

DROPPED_LINES = (
    # Grappler's cost estimator for an op without a cost model (CropAndResize).
    re.compile(rb"op_level_cost_estimator\.cc:\d+\] Error in PredictCost\(\) for the op: "),
    # absl's notice before its first log line; alone, it would announce nothing.
    re.compile(rb"^WARNING: All log messages before absl::InitializeLog\(\) is called are "
               rb"written to STDERR\s*$"),
)

# A line still unfinished after this long is passed on as it is (a progress bar, a prompt).
_IDLE_SECONDS = 0.05
_EXIT_WAIT_SECONDS = 5.0


class LineFilter:
  """Splits a byte stream into lines and drops those matching `patterns`.

  `feed(data)` returns the bytes to pass on now: every complete line (ended
  by b"\\n" or b"\\r", so progress bars still move) that matches no pattern.
  An unfinished line is held until its end arrives or `flush()` is called.
  """

  def __init__(self, patterns=DROPPED_LINES):
    self._patterns = tuple(patterns)
    self._pending = b""

  def feed(self, data: bytes) -> bytes:
    segments = re.split(rb"(?<=[\r\n])", self._pending + data)
    self._pending = segments.pop()  # b"" when the data ended a line
    return b"".join(s for s in segments if not self._dropped(s))

  def flush(self) -> bytes:
    pending, self._pending = self._pending, b""
    return b"" if self._dropped(pending) else pending

  def _dropped(self, line: bytes) -> bool:
    return any(pattern.search(line) for pattern in self._patterns)


_filter_pid: Optional[int] = None
_saved_stderr: Optional[int] = None
_owner_pid: Optional[int] = None  # the process that installed the filter


def install() -> bool:
  """Routes fd 2 through a LineFilter process until the interpreter exits.

  Call it before TensorFlow is imported (forking a process that runs
  TensorFlow's threads is unsafe): it does nothing, and returns False, when
  TensorFlow is already imported, when the platform cannot fork, or when it is
  installed already. `uninstall()` runs at exit.
  """
  global _filter_pid, _saved_stderr, _owner_pid  # pylint: disable=global-statement
  if _filter_pid is not None or "tensorflow" in sys.modules or not hasattr(os, "fork"):
    return False
  sys.stderr.flush()
  read_end, write_end = os.pipe()
  pid = os.fork()
  if pid == 0:  # the filter process: its fd 2 is still the real stderr
    os.close(write_end)
    _run_filter(read_end, 2)
  os.close(read_end)
  _saved_stderr = os.dup(2)
  os.dup2(write_end, 2)
  os.close(write_end)
  _filter_pid, _owner_pid = pid, os.getpid()
  atexit.register(uninstall)
  return True


def uninstall() -> None:
  """Gives fd 2 back to the real stderr and waits (a few seconds at most) for the filter to
  pass on what it still holds."""
  global _filter_pid, _saved_stderr  # pylint: disable=global-statement
  if _filter_pid is None or os.getpid() != _owner_pid:  # not installed, or a forked child
    return
  sys.stderr.flush()
  os.dup2(_saved_stderr, 2)  # closes this process's end of the pipe: the filter sees its end
  os.close(_saved_stderr)
  deadline = time.monotonic() + _EXIT_WAIT_SECONDS
  while time.monotonic() < deadline and os.waitpid(_filter_pid, os.WNOHANG) == (0, 0):
    time.sleep(0.01)
  _filter_pid = _saved_stderr = None


def _run_filter(read_end: int, output: int) -> None:
  """The filter process's loop: read_end to `output` through a LineFilter, until end of file."""
  # Ctrl-C reaches the whole process group; the filter must outlive the main process's
  # "interrupted" message, and it ends by itself when the pipe closes.
  signal.signal(signal.SIGINT, signal.SIG_IGN)
  line_filter = LineFilter()
  status = 0
  try:
    while True:
      ready, _, _ = select.select([read_end], [], [], _IDLE_SECONDS)
      data = os.read(read_end, 65536) if ready else None
      if data == b"":
        _write_all(output, line_filter.flush())
        break
      _write_all(output, line_filter.feed(data) if data else line_filter.flush())
  except OSError:  # the real stderr went away: nothing left to write to
    status = 1
  os._exit(status)  # pylint: disable=protected-access  (no atexit handlers of the parent)


def _write_all(fd: int, data: bytes) -> None:
  while data:
    data = data[os.write(fd, data):]
