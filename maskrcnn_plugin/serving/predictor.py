"""Running a serving signature on batches of images of any sizes.

A `Predictor` wraps a SavedModel written by `maskrcnn export`, a serving
module built in-process from a training folder, or an ONNX file run by ONNX
Runtime (`maskrcnn export --format=onnx`), and feeds it what its input
type takes: decoded pixels padded to one size with each image's size
(`serving_padded`), or the files' encoded bytes, or tf.Examples holding them
(`serving_default`, which pads decoded images itself). A model with a fixed
batch size gets full batches: a short last batch is filled with copies of its
last image, whose detections are dropped.
"""

import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from maskrcnn_plugin.errors import UserError
from maskrcnn_plugin.serving.detection import PADDED_SIGNATURE_KEY, DetectionExportModule
from maskrcnn_plugin.serving.export import read_export_info
from maskrcnn_plugin.serving.restore import restore_run

# (uint8 [height, width, 3] pixels, the file's bytes) of one image.
ImageInput = Tuple[np.ndarray, bytes]
Detections = Dict[str, np.ndarray]


class Predictor:
  """Detections of batches of images; see DetectionExportModule for the outputs.

  Attributes:
    batch_size: Images per call of the model.
    load_seconds: Time to load or build the model (and trace it, in-process).
  """

  def __init__(self, function, *, input_type: str, padded: bool, batch_size: int,
               fixed_batch: bool, source: str):
    """Wraps a serving function.

    Args:
      function: A concrete function taking `inputs` (and `image_sizes` when
        `padded`) and returning the serving outputs.
      input_type: 'image_tensor', 'encoded_image' or 'tf_example'.
      padded: `function` is a `serving_padded` function.
      batch_size: Images per call.
      fixed_batch: The function takes exactly batch_size images.
      source: Names the model in messages.
    """
    self._function = function
    self._input_type = input_type
    self._padded = padded
    self._fixed_batch = fixed_batch
    self.batch_size = batch_size
    self.source = source
    self.load_seconds = 0.0

  @classmethod
  def from_saved_model(cls, saved_model_dir: str, batch_size: Optional[int] = None) -> "Predictor":
    """Loads a SavedModel written by `maskrcnn export`.

    Args:
      saved_model_dir: The SavedModel folder.
      batch_size: Images per call; default: the export's fixed batch size, or 1.

    Raises:
      UserError: batch_size differs from the export's fixed batch size, or the
        export cannot take batches of images of different sizes.
    """
    start = time.perf_counter()
    info = read_export_info(saved_model_dir)
    source = f"SavedModel {saved_model_dir}"
    exported_batch = info["batch_size"]
    if batch_size is None:
      batch_size = exported_batch or 1
    elif exported_batch is not None and batch_size != exported_batch:
      raise UserError(f"{source} was exported for batches of exactly {exported_batch} images; "
                      f"pass --batch_size={exported_batch}, or export again with "
                      f"--batch_size={batch_size} or without --batch_size (any batch).")
    loaded = tf.saved_model.load(saved_model_dir)
    padded = info["input_type"] == "image_tensor" and PADDED_SIGNATURE_KEY in loaded.signatures
    if info["input_type"] == "image_tensor" and batch_size > 1 and not padded:
      raise UserError(f"{source} has no {PADDED_SIGNATURE_KEY} signature for batches of images "
                      "of different sizes (it was exported by an older version); export it "
                      "again, or predict with --batch_size=1.")
    key = PADDED_SIGNATURE_KEY if padded else tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY
    predictor = cls(loaded.signatures[key], input_type=info["input_type"], padded=padded,
                    batch_size=batch_size, fixed_batch=exported_batch is not None, source=source)
    predictor.loaded = loaded  # keeps the function's variables alive
    predictor.load_seconds = time.perf_counter() - start
    return predictor

  @classmethod
  def from_model_dir(cls, model_dir: str, checkpoint: Optional[str] = None,
                     mask_output: str = "binary", batch_size: int = 1) -> "Predictor":
    """Builds a training folder's model in-process (no export needed); traces it once."""
    start = time.perf_counter()
    run = restore_run(model_dir, checkpoint)
    module = DetectionExportModule(run.model, image_size=run.image_size, mask_output=mask_output)
    predictor = cls(module.padded_serving_function(), input_type="image_tensor", padded=True,
                    batch_size=batch_size, fixed_batch=False, source=f"model_dir {model_dir}")
    predictor.module = module
    predictor.load_seconds = time.perf_counter() - start
    return predictor

  @classmethod
  def from_onnx(cls, onnx_file: str, batch_size: int = 1) -> "Predictor":
    """Opens an ONNX file written by `maskrcnn export --format=onnx` in ONNX Runtime.

    Raises:
      UserError: the file is missing or ONNX Runtime cannot load it, or the
        extra is not installed.
    """
    # pylint: disable=import-outside-toplevel
    from maskrcnn_plugin.serving.onnx_export import open_session
    start = time.perf_counter()
    session, exported_batch = open_session(onnx_file)
    source = f"ONNX file {onnx_file}"
    if exported_batch is not None and batch_size != exported_batch:
      raise UserError(f"{source} was exported for batches of exactly {exported_batch} images; "
                      f"pass --batch_size={exported_batch}.")
    names = [output.name for output in session.get_outputs()]

    def run(**feeds):
      return dict(zip(names, session.run(None, feeds)))

    predictor = cls(run, input_type="image_tensor", padded=True, batch_size=batch_size,
                    fixed_batch=exported_batch is not None, source=source)
    predictor.load_seconds = time.perf_counter() - start
    return predictor

  @property
  def input_type(self) -> str:
    return self._input_type

  def __call__(self, image: np.ndarray, encoded: bytes) -> Detections:
    """Detections of one image (see `predict_batch`)."""
    return self.predict_batch([(image, encoded)])[0]

  def predict_batch(self, images: Sequence[ImageInput]) -> List[Detections]:
    """Detections of up to batch_size images of any sizes, in one call of the model.

    Args:
      images: (uint8 [height, width, 3] pixels, file bytes) pairs; the bytes
        are used by SavedModels that take encoded images or tf.Examples.

    Returns:
      Per image, NumPy arrays of its valid detections (N = num_detections):
      boxes [N, 4] (ymin, xmin, ymax, xmax) pixels, classes [N] int, scores
      [N], masks [N, height, width] (uint8 0/1 or float32 probabilities).

    Raises:
      tf.errors.InvalidArgumentError: the model cannot decode an image.
    """
    count = len(images)
    if not 0 < count <= self.batch_size:
      raise ValueError(f"predict_batch takes 1 to {self.batch_size} images, got {count}.")
    if self._fixed_batch:
      images = list(images) + [images[-1]] * (self.batch_size - count)
    outputs = self._function(**self._inputs(images))
    outputs = {key: np.asarray(value) for key, value in outputs.items()}
    return [_image_detections(outputs, index, pixels.shape[:2])
            for index, (pixels, _) in enumerate(images[:count])]

  def _inputs(self, images: Sequence[ImageInput]) -> Dict[str, np.ndarray]:
    if self._input_type == "image_tensor":
      sizes = np.array([pixels.shape[:2] for pixels, _ in images], np.int32)
      batch = np.zeros((len(images), *sizes.max(axis=0), 3), np.uint8)
      for slot, (pixels, _) in zip(batch, images):
        slot[:pixels.shape[0], :pixels.shape[1]] = pixels
      if not self._padded:  # serving_default: one image per call
        return {"inputs": batch}
      return {"inputs": batch, "image_sizes": sizes}
    if self._input_type == "encoded_image":
      return {"inputs": np.array([encoded for _, encoded in images], object)}
    return {"inputs": np.array([image_example(encoded) for _, encoded in images], object)}


def image_example(encoded: bytes) -> bytes:
  """A serialized tf.Example holding image/encoded."""
  return tf.train.Example(features=tf.train.Features(feature={
      "image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=[encoded]))
  })).SerializeToString()


def _image_detections(outputs: Dict[str, np.ndarray], index: int, size) -> Detections:
  """The valid detections of image `index` of a batch, masks cut to its [height, width]."""
  count = int(outputs["num_detections"][index])
  return {
      "boxes": outputs["detection_boxes"][index, :count],
      "classes": outputs["detection_classes"][index, :count],
      "scores": outputs["detection_scores"][index, :count],
      "masks": outputs["detection_masks"][index, :count, :size[0], :size[1]],
  }
