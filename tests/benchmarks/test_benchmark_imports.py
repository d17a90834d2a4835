"""Every benchmark script runs on TensorFlow's CPU runtime as `maskrcnn` sets it.

`import maskrcnn_plugin` sets TensorFlow's variables (Keras 2, the pooled CPU
allocator, oneDNN's kernels on x86-64), which TensorFlow reads when it is
imported. A script that imports TensorFlow, or a library importing it, at
module level before the plugin measures another runtime than the one users
get: on an AVX2 CPU, Eigen's kernels instead of oneDNN's.
"""

import ast
import glob
import os

import pytest

BENCHMARKS = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir,
                                          "benchmarks"))
# Top-level packages that import TensorFlow when imported.
TENSORFLOW_IMPORTERS = {"tensorflow", "official", "orbit", "tf_keras", "keras"}


def _module_level_imports(path: str):
  """[(line, top-level package)] of the imports at module level, in order."""
  with open(path, encoding="utf-8") as file:
    tree = ast.parse(file.read(), filename=path)
  imports = []
  for node in tree.body:
    if isinstance(node, ast.Import):
      imports += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
      imports.append((node.lineno, node.module.split(".")[0]))
  return imports


def first_tensorflow_import_before_the_plugin(path: str):
  """The (line, package) of a TensorFlow import at module level before the plugin's, or None."""
  for line, package in _module_level_imports(path):
    if package == "maskrcnn_plugin":
      return None
    if package in TENSORFLOW_IMPORTERS:
      return line, package
  return None


@pytest.mark.parametrize("script", sorted(glob.glob(os.path.join(BENCHMARKS, "*.py"))),
                         ids=os.path.basename)
def test_no_benchmark_imports_tensorflow_before_the_plugin(script):
  found = first_tensorflow_import_before_the_plugin(script)
  assert found is None, (f"{os.path.basename(script)}:{found[0]} imports {found[1]} before "
                         "maskrcnn_plugin: import maskrcnn_plugin first")


def test_the_check_finds_a_tensorflow_import_before_the_plugin(tmp_path):
  script = tmp_path / "script.py"
  script.write_text("import os\nimport numpy as np\nfrom official.vision import ops\n"
                    "import maskrcnn_plugin\n", encoding="utf-8")
  assert first_tensorflow_import_before_the_plugin(str(script)) == (3, "official")
  script.write_text("import maskrcnn_plugin\nimport tensorflow as tf\n", encoding="utf-8")
  assert first_tensorflow_import_before_the_plugin(str(script)) is None
  script.write_text("def worker():\n  import tensorflow as tf\n", encoding="utf-8")
  assert first_tensorflow_import_before_the_plugin(str(script)) is None
