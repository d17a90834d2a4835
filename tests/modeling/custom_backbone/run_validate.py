"""Runs `maskrcnn validate` on each gin file given, in one clean interpreter.

Usage: run_validate.py plugin_first|keras3_first FILE.gin...
The first argument says what the program does first: import maskrcnn_plugin
(the supported order), or import tensorflow and use `tf.keras`, which makes
`tf.keras` Keras 3 for the whole process under TF >= 2.16.
"""
import sys

if sys.argv[1] == "keras3_first":
  import tensorflow as tf
  print(f"tf.keras is {tf.keras.__name__}")
import maskrcnn_plugin  # noqa: E402,F401  pylint: disable=unused-import
from maskrcnn_plugin.cli.main import main  # noqa: E402

sys.exit(max(main(["validate", f"--gin_file={path}"]) for path in sys.argv[2:]))
