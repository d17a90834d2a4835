"""ONNX export through tf2onnx, of a serving graph built for conversion.

`export_onnx` converts the `serving_padded` function of a serving module
(detection.py): inputs uint8 [B, H, W, 3] images padded at the bottom and
right and int32 [B, 2] image sizes; outputs as the SavedModel's, with full
image masks. Needs the optional extra (`pip install "maskrcnn-plugin[onnx]"`).

What changes for conversion: Model Garden's `MaskHead` picks each ROI's mask
of its class with `tf.gather(logits, classes, axis=-1, batch_dims=2)` on the
[batch, rois, height, width, classes] logits. tf2onnx 1.17 converts that
gather with a Transpose whose `perm` repeats axes ([0, 1, 2, 3, 0, 1, 2, 3,
4]), which ONNX Runtime refuses to load ("Attribute perm for Transpose has
repeated value: 0"). While converting, the mask head selects the class with a
one-hot product summed over classes instead: the same values (x * 1 plus
zeros), ops every converter knows. The ROI aligners read their crops with
Model Garden's gathers (`roi_align.model_garden_crops`), the ops this
conversion was tested with, instead of the CropAndResize kernel: the same
crops to float32 rounding.
"""

import contextlib
import time
from typing import Iterator

import numpy as np
import tensorflow as tf

from maskrcnn_plugin import errors
from maskrcnn_plugin.errors import UserError
from maskrcnn_plugin.modeling.roi_align import model_garden_crops
from maskrcnn_plugin.serving.detection import DetectionExportModule

# The lowest opset with every op of the graph tested with ONNX Runtime.
DEFAULT_OPSET = 17
INPUT_NAMES = ("inputs", "image_sizes")


class OnnxExtraMissingError(UserError):
  """tf2onnx or onnxruntime is not installed."""


def import_extra(module_name: str):
  """Imports a module of the `onnx` extra, or says how to install it."""
  try:
    return __import__(module_name)
  except ImportError as error:
    raise OnnxExtraMissingError(
        f"ONNX needs the optional packages tf2onnx and onnxruntime ({error}). Install them "
        "with: pip install \"maskrcnn-plugin[onnx]\" (pinned versions: pip install -c "
        "constraints/tf2.20-py311.txt \".[onnx]\" in a checkout).") from error


def check_output_file(path: str, *, overwrite: bool = False) -> None:
  """Raises UserError if the ONNX file exists (and overwrite is False) or is a folder."""
  if tf.io.gfile.isdir(path):
    raise UserError(f"--output {path} is a folder; with --format=onnx give a file, e.g. "
                    f"{path.rstrip('/')}.onnx.")
  if tf.io.gfile.exists(path) and not overwrite:
    raise UserError(f"--output {path} already exists; choose a new file or pass --overwrite.")


def _one_hot_mask_head_call(head):
  """`instance_heads.MaskHead.call` with the class picked by a one-hot product."""
  def call(inputs, training=None):
    roi_features, roi_classes = inputs
    _, num_rois, height, width, filters = roi_features.get_shape().as_list()
    x = tf.reshape(roi_features, [-1, height, width, filters])
    for conv, norm in zip(head._convs, head._conv_norms):  # pylint: disable=protected-access
      x = head._activation(norm(conv(x)))  # pylint: disable=protected-access
    x = head._activation(head._deconv_bn(head._deconv(x)))  # pylint: disable=protected-access
    logits = head._mask_regressor(x)  # pylint: disable=protected-access
    config = head.get_config()
    mask_height = height * config["upsample_factor"]
    mask_width = width * config["upsample_factor"]
    if config["class_agnostic"]:
      return tf.reshape(logits, [-1, num_rois, mask_height, mask_width])
    logits = tf.reshape(logits, [-1, num_rois, mask_height, mask_width, config["num_classes"]])
    one_hot = tf.one_hot(tf.cast(roi_classes, tf.int32), config["num_classes"],
                         dtype=logits.dtype)
    return tf.reduce_sum(logits * one_hot[:, :, tf.newaxis, tf.newaxis, :], axis=-1)
  return call


@contextlib.contextmanager
def conversion_friendly_model(model) -> Iterator[None]:
  """While active, `model.mask_head` selects class masks without a batched gather
  and the ROI aligners run Model Garden's gathers."""
  head = model.mask_head
  head.call = _one_hot_mask_head_call(head)
  try:
    with model_garden_crops(model):
      yield
  finally:
    del head.call  # back to the class's own method


def export_onnx(module: DetectionExportModule, output_path: str, *,
                opset: int = DEFAULT_OPSET) -> float:
  """Converts the module's `serving_padded` function to an ONNX file and runs it once.

  Args:
    module: A serving module whose `serving_padded` function was not traced
      yet (a fresh one), with image_tensor input.
    output_path: The .onnx file to write.
    opset: The ONNX opset.

  Returns:
    Seconds the conversion took.

  Raises:
    OnnxExtraMissingError: the extra is not installed.
    UserError: ONNX Runtime cannot load or run the converted model (the file
      is removed).
  """
  tf2onnx = import_extra("tf2onnx")
  onnxruntime = import_extra("onnxruntime")
  start = time.perf_counter()
  with conversion_friendly_model(module.model):
    tf2onnx.convert.from_function(module.inference_from_padded_images,
                                  input_signature=module.padded_input_signature(),
                                  opset=opset, output_path=output_path)
  seconds = time.perf_counter() - start
  height, width = module.image_size
  try:
    session = onnxruntime.InferenceSession(output_path, providers=["CPUExecutionProvider"])
    session.run(None, {"inputs": np.zeros((module.batch_size or 1, height, width, 3), np.uint8),
                       "image_sizes": np.array([[height, width]] * (module.batch_size or 1),
                                               np.int32)})
  except Exception as error:  # ONNX Runtime raises its own exception types.
    tf.io.gfile.remove(output_path)
    raise UserError(f"ONNX Runtime {onnxruntime.__version__} cannot run the model tf2onnx "
                    f"{tf2onnx.__version__} converted (opset {opset}): {error}") from error
  return seconds


def open_session(onnx_file: str):
  """An ONNX Runtime session of an exported file and its fixed batch size (or None).

  Uses the CUDA execution provider when onnxruntime-gpu provides it, else the CPU.

  Raises:
    UserError: the file is missing, is not a model exported here, or the
      extra is not installed.
  """
  if not tf.io.gfile.exists(onnx_file):
    raise UserError(f"--onnx {onnx_file} does not exist; write it with "
                    "`maskrcnn export --format=onnx`.")
  onnxruntime = import_extra("onnxruntime")
  providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider")
               if p in onnxruntime.get_available_providers()]
  try:
    session = onnxruntime.InferenceSession(onnx_file, providers=providers)
  except Exception as error:  # ONNX Runtime raises its own exception types.
    raise UserError(f"ONNX Runtime cannot load --onnx {onnx_file}: "
                    f"{errors.first_line(error)}") from error
  inputs = {i.name: i for i in session.get_inputs()}
  if set(inputs) != set(INPUT_NAMES):
    raise UserError(f"--onnx {onnx_file} takes inputs {', '.join(sorted(inputs))}, not "
                    f"{', '.join(INPUT_NAMES)}: it was not written by "
                    "`maskrcnn export --format=onnx`.")
  batch = inputs["inputs"].shape[0]
  return session, batch if isinstance(batch, int) else None
