"""Importing the plugin selects TensorFlow's pooled CPU allocator unless the user chose."""

import os
import subprocess
import sys
import textwrap

import pytest

from maskrcnn_plugin import cpu_allocator

_VARIABLE = cpu_allocator.POOLED_ALLOCATOR_VARIABLE


def _run(code, variable=None):
  env = {k: v for k, v in os.environ.items() if k != _VARIABLE}
  if variable is not None:
    env[_VARIABLE] = variable
  env["TF_CPP_MIN_LOG_LEVEL"] = "3"
  result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                          capture_output=True, text=True, check=False)
  assert result.returncode == 0, result.stderr[-2000:]
  return result.stdout.split()


_REPORT = """
    import os
    import maskrcnn_plugin
    from maskrcnn_plugin import cpu_allocator
    print(os.environ.get(cpu_allocator.POOLED_ALLOCATOR_VARIABLE), cpu_allocator.pooled_allocator_in_use())
"""


@pytest.mark.smoke
def test_importing_the_plugin_selects_the_pooled_allocator():
  assert _run(_REPORT) == ["1", "True"]


def test_the_users_choice_is_kept():
  assert _run(_REPORT, variable="0") == ["0", "False"]


def test_a_tensor_before_the_plugin_keeps_tensorflows_default_allocator():
  assert _run("""
      import tensorflow as tf
      tf.constant(1.0)
      import maskrcnn_plugin
      from maskrcnn_plugin import cpu_allocator
      print(cpu_allocator.pooled_allocator_in_use())
  """) == ["False"]
