"""maskrcnn_r50_fpn_coco is Model Garden's maskrcnn_resnetfpn_coco, weight for weight."""

import numpy as np
import pytest
import tensorflow as tf

from maskrcnn_plugin.keras_setup import model_garden_keras
from helpers.tiny_models import FAST_INFERENCE
from official.core import exp_factory
from official.vision.modeling import factory

SIZE = 128


@pytest.fixture(scope="module")
def models(validated):
  """(plugin model, Model Garden model) for 128 px images, 91 classes."""
  # Model Garden's mask head on every padded detection too, so all outputs
  # compare (test_detected_masks.py covers the default, kept detections only).
  ours, _ = validated("maskrcnn_r50_fpn_coco", f"IMAGE_SIZE = [{SIZE}, {SIZE}]", *FAST_INFERENCE,
                      "maskrcnn.build_maskrcnn.skip_padded_masks = False")
  keras = model_garden_keras()
  config = exp_factory.get_exp_config("maskrcnn_resnetfpn_coco")
  model_config = config.task.model
  model_config.input_size = [SIZE, SIZE, 3]
  model_config.roi_generator.test_num_proposals = 64  # as FAST_INFERENCE
  model_config.detection_generator.max_num_detections = 10
  model_config.detection_generator.nms_version = "batched"
  regularizer = keras.regularizers.l2(config.task.losses.l2_weight_decay / 2.0)
  theirs = factory.build_maskrcnn(keras.layers.InputSpec(shape=[None, SIZE, SIZE, 3]),
                                  model_config, regularizer)
  theirs(tf.zeros([1, SIZE, SIZE, 3]), image_shape=tf.constant([[SIZE, SIZE]], tf.float32),
         training=False)
  return ours, theirs


def _count(weights):
  return sum(int(np.prod(w.shape)) for w in weights)


def test_same_parameters_in_the_same_order(models):
  ours, theirs = models
  print(f"trainable parameters: plugin {_count(ours.trainable_weights):,}, "
        f"Model Garden {_count(theirs.trainable_weights):,}")
  assert _count(ours.trainable_weights) == _count(theirs.trainable_weights)
  assert _count(ours.weights) == _count(theirs.weights)
  assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
  # Same weight decay on the same kernels.
  assert len(ours.losses) == len(theirs.losses) > 0


def test_same_outputs_for_the_same_weights(models):
  ours, theirs = models
  theirs.set_weights(ours.get_weights())
  images = tf.random.stateless_uniform([2, SIZE, SIZE, 3], seed=(1, 2), minval=-2, maxval=2)
  image_shape = tf.constant([[SIZE, SIZE], [SIZE, 96]], tf.float32)
  expected = tf.nest.flatten(theirs(images, image_shape=image_shape, training=False))
  actual = tf.nest.flatten(ours(images, image_shape=image_shape, training=False))
  assert len(actual) == len(expected)
  differences = [float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(e, np.float64))))
                 for a, e in zip(actual, expected)]
  print(f"max abs output difference: {max(differences):.3g} over {len(actual)} outputs")
  assert max(differences) < 1e-4
  assert float(tf.reduce_sum(ours.losses)) == pytest.approx(float(tf.reduce_sum(theirs.losses)))
