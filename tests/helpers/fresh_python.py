"""Running a snippet in a fresh Python process, with chosen TensorFlow variables unset or set.

What importing maskrcnn_plugin sets (TF_USE_LEGACY_KERAS, TF_CPU_ALLOCATOR_USE_BFC,
TF_ENABLE_ONEDNN_OPTS) takes effect only before TensorFlow runs, so those tests need a
process of their own.
"""

import os
import subprocess
import sys
import textwrap
from typing import Dict, Optional, Sequence


def run_python(code: str, *, unset: Sequence[str] = (), variables: Optional[Dict[str, str]] = None,
               python_args: Sequence[str] = ()) -> subprocess.CompletedProcess:
  """Runs the dedented `code` with `python -c`; returns the finished process (text output).

  The environment is this one without `unset`, plus `variables`, with
  TensorFlow's C++ logging silenced.
  """
  env = {key: value for key, value in os.environ.items() if key not in unset}
  env.update(variables or {})
  env["TF_CPP_MIN_LOG_LEVEL"] = "3"
  return subprocess.run([sys.executable, *python_args, "-c", textwrap.dedent(code)], env=env,
                        capture_output=True, text=True, check=False)
