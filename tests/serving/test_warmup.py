"""`maskrcnn export --warmup`: TensorFlow Serving warm-up requests in the SavedModel.

The records are read back with a minimal protobuf wire-format reader (the
tensorflow-serving-api package is not a dependency; its PredictionLog parses
the same file, as docs/serving.md shows) and replayed on the loaded SavedModel,
as TensorFlow Serving does when it loads a model version.
"""

import os

import numpy as np
import pytest
import tensorflow as tf

from maskrcnn_plugin.cli.main import main as cli_main
from maskrcnn_plugin.serving.detection import DetectionExportModule
from maskrcnn_plugin.serving.warmup import WARMUP_DIR, WARMUP_FILE, write_warmup_requests

from helpers.run_folders import export


def fields(message: bytes):
  """[(field number, bytes)] of a message whose fields are all length-delimited."""
  out, index = [], 0
  while index < len(message):
    tag, index = _varint(message, index)
    assert tag & 7 == 2, f"field {tag >> 3} has wire type {tag & 7}"
    length, index = _varint(message, index)
    out.append((tag >> 3, message[index:index + length]))
    index += length
  return out


def _varint(data: bytes, index: int):
  value, shift = 0, 0
  while True:
    byte = data[index]
    index += 1
    value |= (byte & 0x7F) << shift
    shift += 7
    if not byte & 0x80:
      return value, index


def read_requests(saved_model: str):
  """{signature name: (model name, {input name: array})} of the warm-up file."""
  requests = {}
  for record in tf.data.TFRecordDataset(os.path.join(saved_model, WARMUP_DIR, WARMUP_FILE)):
    (number, predict_log), = fields(record.numpy())
    assert number == 6  # PredictionLog.predict_log
    (number, request), = fields(predict_log)
    assert number == 1  # PredictLog.request
    spec, inputs = {}, {}
    for number, payload in fields(request):
      if number == 1:  # PredictRequest.model_spec
        spec = {n: v.decode() for n, v in fields(payload)}
      else:
        assert number == 2  # PredictRequest.inputs map entry
        entry = dict(fields(payload))
        tensor = tf.make_ndarray(tf.make_tensor_proto(0).FromString(entry[2]))
        inputs[entry[1].decode()] = tensor
    requests[spec[3]] = (spec[1], inputs)
  return requests


def test_warmup_requests_replay_on_the_savedmodel(model_dir, tmp_path):
  saved = export(model_dir, str(tmp_path / "model"), "--warmup", "--batch_size=2")
  requests = read_requests(saved)
  loaded = tf.saved_model.load(saved)
  assert set(requests) == set(loaded.signatures) == {"serving_default", "serving_padded"}
  for name, (model_name, inputs) in requests.items():
    assert model_name == "maskrcnn"
    outputs = loaded.signatures[name](**{key: tf.constant(value) for key, value in inputs.items()})
    assert outputs["detection_boxes"].shape[0] == 2
  pixels = requests["serving_default"][1]["inputs"]
  assert pixels.dtype == np.uint8 and pixels.shape == (2, 128, 128, 3)
  np.testing.assert_array_equal(requests["serving_padded"][1]["image_sizes"], [[128, 128]] * 2)


def test_tf_example_warmup_request_is_a_decodable_example(restored, tmp_path):
  module = DetectionExportModule(restored.model, image_size=restored.image_size,
                                 input_type="tf_example")
  write_warmup_requests(str(tmp_path), module)
  (model_name, inputs), = read_requests(str(tmp_path)).values()
  assert set(inputs) == {"inputs"} and inputs["inputs"].shape == (1,)
  example = tf.train.Example.FromString(inputs["inputs"][0])
  pixels = tf.io.decode_png(example.features.feature["image/encoded"].bytes_list.value[0])
  assert pixels.shape == (128, 128, 3)
  outputs = module.serving_function()(inputs=tf.constant(inputs["inputs"]))
  assert int(outputs["num_detections"].shape[0]) == 1


def test_warmup_is_refused_for_onnx(model_dir, tmp_path, capsys):
  code = cli_main(["export", f"--model_dir={model_dir}", f"--output={tmp_path / 'm.onnx'}",
                   "--format=onnx", "--warmup"])
  err = capsys.readouterr().err
  assert code == 2 and "--warmup writes TensorFlow Serving warm-up requests" in err
