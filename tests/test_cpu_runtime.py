"""Importing the plugin selects TensorFlow's pooled CPU allocator and, on x86-64, oneDNN,
unless the user chose."""

import platform

import pytest

from helpers.fresh_python import run_python
from maskrcnn_plugin import cpu_runtime

_VARIABLES = (cpu_runtime.POOLED_ALLOCATOR_VARIABLE, cpu_runtime.ONEDNN_VARIABLE)
_X86 = cpu_runtime.plugin_chooses_onednn(platform.machine())


def _run(code, **variables):
  result = run_python(code, unset=_VARIABLES, variables=variables)
  assert result.returncode == 0, result.stderr[-2000:]
  return result.stdout.split()


_REPORT = """
    import os
    import maskrcnn_plugin
    from maskrcnn_plugin import cpu_runtime
    print(os.environ.get(cpu_runtime.POOLED_ALLOCATOR_VARIABLE), cpu_runtime.pooled_allocator_in_use(),
          os.environ.get(cpu_runtime.ONEDNN_VARIABLE), cpu_runtime.onednn_in_use())
"""


@pytest.mark.smoke
def test_importing_the_plugin_selects_the_pooled_allocator_and_on_x86_onednn():
  allocator_variable, pooled, onednn_variable, onednn = _run(_REPORT)
  assert (allocator_variable, pooled) == ("1", "True")
  if _X86:
    assert (onednn_variable, onednn) == ("1", "True")


@pytest.mark.skipif(not _X86, reason="the plugin chooses oneDNN on x86-64 only")
def test_the_users_choices_are_kept():
  assert _run(_REPORT, TF_CPU_ALLOCATOR_USE_BFC="0", TF_ENABLE_ONEDNN_OPTS="0") == [
      "0", "False", "0", "False"]


def test_a_tensor_before_the_plugin_keeps_tensorflows_default_allocator():
  assert _run("""
      import tensorflow as tf
      tf.constant(1.0)
      import maskrcnn_plugin
      from maskrcnn_plugin import cpu_runtime
      print(cpu_runtime.pooled_allocator_in_use())
  """, TF_ENABLE_ONEDNN_OPTS="0") == ["False"]  # With oneDNN on, its own allocator pools.


def test_tensorflow_imported_before_the_plugin_keeps_its_own_onednn_default():
  tensorflows_default = _run("""
      import tensorflow
      from tensorflow.python.util import _pywrap_util_port
      print(_pywrap_util_port.IsMklEnabled())
  """)
  assert _run("""
      import tensorflow
      import maskrcnn_plugin
      from maskrcnn_plugin import cpu_runtime
      print(cpu_runtime.onednn_in_use())
  """) == tensorflows_default


def test_onednn_is_chosen_on_x86_64_only():
  assert [cpu_runtime.plugin_chooses_onednn(machine)
          for machine in ("x86_64", "AMD64", "aarch64", "arm64")] == [True, True, False, False]
