"""Which Keras Model Garden uses, and making `tf.keras` the same one.

Model Garden >= 2.16 is built on `tf_keras` (Keras 2). Under TensorFlow >= 2.16
plain `tf.keras` is Keras 3 unless TF_USE_LEGACY_KERAS=1 is set before
TensorFlow is first imported. `configure_environment()` runs when
`maskrcnn_plugin` is imported, so a user's backbone written with `tf.keras`
gets the Keras that Model Garden's layers accept. This module must not import
TensorFlow at import time.
"""

import os
import sys
import warnings

LEGACY_KERAS_VARIABLE = "TF_USE_LEGACY_KERAS"


class WrongKerasError(TypeError):
  """A Keras object from a different Keras than Model Garden's reached it."""


def configure_environment() -> None:
  """Sets TF_USE_LEGACY_KERAS=1 unless the user chose otherwise.

  TensorFlow resolves `tf.keras` on first use, so this works even after
  `import tensorflow`, but not after `tf.keras` was used: then it warns.
  """
  os.environ.setdefault(LEGACY_KERAS_VARIABLE, "1")
  if "tensorflow" in sys.modules and not tf_keras_is_model_garden_keras():
    warnings.warn(
        "`tf.keras` was used before maskrcnn_plugin was imported, so it is Keras 3 while "
        "Model Garden uses tf_keras (Keras 2). Backbones written with `tf.keras` will be "
        "rejected. Import maskrcnn_plugin before tensorflow/keras, or set "
        f"{LEGACY_KERAS_VARIABLE}=1 in the environment.", RuntimeWarning, stacklevel=3)


def model_garden_keras():
  """The Keras module Model Garden's layers are built on (tf_keras or tf.keras)."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  if _version_tuple(tf.__version__) >= (2, 16):
    import tf_keras  # pylint: disable=import-outside-toplevel
    return tf_keras
  return tf.keras


def tf_keras_is_model_garden_keras() -> bool:
  """Whether `tf.keras` in this process is the Keras Model Garden uses."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  return tf.keras.layers.Layer is model_garden_keras().layers.Layer


def _is_keras3() -> bool:
  try:
    import keras  # pylint: disable=import-outside-toplevel
  except ImportError:
    return False
  return _version_tuple(getattr(keras, "__version__", "0")) >= (3,)


def keras_name_of(obj) -> str:
  """Human name of the Keras that `obj` (a layer or model) comes from."""
  for klass in type(obj).__mro__:
    module = klass.__module__
    if module.startswith("tf_keras"):
      return "tf_keras (Keras 2)"
    if module.startswith("keras.src") or module.startswith("keras."):
      return "Keras 3" if _is_keras3() else "Keras 2"
  return f"not Keras ({type(obj).__module__}.{type(obj).__qualname__})"


def check_model_garden_keras(obj, what: str) -> None:
  """Raises WrongKerasError unless `obj` is a layer of Model Garden's Keras.

  Args:
    obj: The object to check (usually a backbone or decoder model).
    what: Names the object in the message, e.g. "backbone 'my_net'".
  """
  keras = model_garden_keras()
  if isinstance(obj, keras.layers.Layer):
    return
  found = keras_name_of(obj)
  hint = ""
  if found == "Keras 3":
    hint = (f" This happens when `tf.keras` is used before maskrcnn_plugin is imported: "
            f"import maskrcnn_plugin first, set {LEGACY_KERAS_VARIABLE}=1, or build the model "
            "with `maskrcnn_plugin.keras` instead of `keras`/`tf.keras`.")
  raise WrongKerasError(
      f"{what} is a {type(obj).__name__} from {found}, but Model Garden's layers need "
      f"a {keras.__name__.split('.')[0]} (Keras 2) model.{hint}")


def _version_tuple(version: str):
  parts = []
  for piece in version.split(".")[:2]:
    digits = "".join(ch for ch in piece if ch.isdigit())
    parts.append(int(digits) if digits else 0)
  return tuple(parts)
