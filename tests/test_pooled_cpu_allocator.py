"""Importing the plugin selects TensorFlow's pooled CPU allocator unless the user chose."""

import pytest

from helpers.fresh_python import run_python
from maskrcnn_plugin import cpu_allocator

_VARIABLE = cpu_allocator.POOLED_ALLOCATOR_VARIABLE


def _run(code, variable=None):
  result = run_python(code, unset=[_VARIABLE],
                      variables=None if variable is None else {_VARIABLE: variable})
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
