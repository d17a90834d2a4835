"""TensorFlow Serving warm-up requests written into an exported SavedModel.

TensorFlow Serving replays the records of `SAVED_MODEL/assets.extra/
tf_serving_warmup_requests` when it loads a model version, before the version
takes traffic, so the first client request does not pay for graph
optimisation and kernel set-up (seconds for Mask R-CNN on a CPU). Each record
is a serialized `tensorflow.serving.PredictionLog` holding a `PredictLog`
whose `PredictRequest` names the model, the signature and its input tensors.

The messages are encoded here on the protobuf wire format, with the field
numbers of tensorflow_serving/apis (prediction_log.proto, predict.proto,
model.proto), so exporting needs no tensorflow-serving-api package:
  PredictionLog.predict_log = 6; PredictLog.request = 1;
  PredictRequest.model_spec = 1, .inputs = 2 (map<string, TensorProto>);
  ModelSpec.name = 1, .signature_name = 3.
The input tensors are TensorFlow's own TensorProtos.
"""

import os
from typing import Dict, Mapping

import numpy as np
import tensorflow as tf

from maskrcnn_plugin.serving.detection import DetectionExportModule
from maskrcnn_plugin.serving.predictor import image_example

WARMUP_DIR = "assets.extra"
WARMUP_FILE = "tf_serving_warmup_requests"
# The gray level of the warm-up images: a plain image that runs every op of the graph.
_GRAY = 128


def write_warmup_requests(saved_model_dir: str, module: DetectionExportModule,
                          model_name: str = "maskrcnn") -> str:
  """Writes one warm-up request per signature of `module` into saved_model_dir.

  Each request holds a batch of gray images of the module's image size (the
  export's batch size, or 1 for a dynamic batch) in the signature's input
  type: uint8 pixels, PNG bytes or tf.Examples.

  Args:
    saved_model_dir: A SavedModel folder written from `module`.
    module: The serving module the SavedModel was exported from.
    model_name: The model name TensorFlow Serving serves it under (its
      `--model_name`); TensorFlow Serving ignores it in warm-up requests.

  Returns:
    The path of the warm-up file.
  """
  folder = os.path.join(saved_model_dir, WARMUP_DIR)
  tf.io.gfile.makedirs(folder)
  path = os.path.join(folder, WARMUP_FILE)
  with tf.io.TFRecordWriter(path) as writer:
    for signature_name, inputs in warmup_inputs(module).items():
      writer.write(prediction_log(model_name, signature_name, inputs))
  return path


def warmup_inputs(module: DetectionExportModule) -> Dict[str, Dict[str, np.ndarray]]:
  """{signature name: {input name: array}} of one warm-up call of each signature."""
  batch = module.batch_size or 1
  height, width = module.image_size
  pixels = np.full([batch, height, width, 3], _GRAY, np.uint8)
  requests = {}
  for name, function in module.signatures().items():
    inputs = {}  # the signature's inputs are named by their TensorSpecs
    for spec in tf.nest.flatten(function.structured_input_signature):
      key = spec.name
      if key == "image_sizes":
        inputs[key] = np.tile(np.array([[height, width]], np.int32), [batch, 1])
      elif spec.dtype == tf.uint8:
        inputs[key] = pixels
      else:  # encoded images or tf.Examples, one string each
        encoded = tf.io.encode_png(pixels[0]).numpy()
        one = encoded if module.input_type == "encoded_image" else image_example(encoded)
        inputs[key] = np.array([one] * batch, object)
    requests[name] = inputs
  return requests


def prediction_log(model_name: str, signature_name: str,
                   inputs: Mapping[str, np.ndarray]) -> bytes:
  """A serialized PredictionLog{predict_log{request}} for these inputs."""
  model_spec = _field(1, model_name.encode()) + _field(3, signature_name.encode())
  request = _field(1, model_spec)
  for key, array in inputs.items():  # map entries: key = 1, value = 2
    tensor = tf.make_tensor_proto(array).SerializeToString()
    request += _field(2, _field(1, key.encode()) + _field(2, tensor))
  return _field(6, _field(1, request))


def _field(number: int, payload: bytes) -> bytes:
  """A length-delimited protobuf field (wire type 2): tag, length, bytes."""
  return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _varint(value: int) -> bytes:
  out = bytearray()
  while True:
    byte, value = value & 0x7F, value >> 7
    out.append(byte | (0x80 if value else 0))
    if not value:
      return bytes(out)
