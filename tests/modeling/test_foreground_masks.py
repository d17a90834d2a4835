"""foreground_mask_training: the mask head trains on foreground ROIs, with Model Garden's loss.

Each case builds the tiny shapes model twice with the same weights, once with
the switch (default) and once with Model Garden's padded mask training, and
runs one training forward and backward pass on the same batch with the same
random seed (so the ROI samplers draw the same ROIs). With a mask head
without batch norm the mask loss and every gradient must agree; with Model
Garden's mask head (batch norm) the batch statistics differ by design.
"""

import os
import subprocess
import sys
import textwrap

import gin
import numpy as np
import pytest
import tensorflow as tf
from official.vision.losses import maskrcnn_losses

from maskrcnn_plugin.keras_setup import model_garden_keras
from maskrcnn_plugin.modeling import build_from_gin
from maskrcnn_plugin.registries import MASK_HEADS
from maskrcnn_plugin.training.trainer import foreground_counts
from helpers.tiny_models import parse_tiny_shapes, training_batch

keras = model_garden_keras()
TEST_FOLDER = os.path.dirname(os.path.abspath(__file__))
NO_NORM_HEAD = "maskrcnn.build_maskrcnn.mask_head = @mask_heads.mask_head_without_norm"


class MaskHeadWithoutNorm(keras.layers.Layer):
  """Two 3x3 convs, a 2x transposed conv and class logits: the mask head contract, no batch norm."""

  def __init__(self, num_classes, **kwargs):
    super().__init__(**kwargs)
    self.num_classes = num_classes
    self.convs = [keras.layers.Conv2D(8, 3, padding="same", activation="relu") for _ in range(2)]
    self.upsample = keras.layers.Conv2DTranspose(8, 2, strides=2, activation="relu")
    self.logits = keras.layers.Conv2D(num_classes, 1)

  def call(self, inputs):
    features, classes = inputs
    _, rois, height, width, channels = features.shape
    x = tf.reshape(features, [-1, height, width, channels])
    for conv in self.convs:
      x = conv(x)
    x = tf.reshape(self.logits(self.upsample(x)), [-1, rois, 2 * height, 2 * width,
                                                   self.num_classes])
    return tf.gather(x, tf.cast(classes, tf.int32), axis=-1, batch_dims=2)

  def get_config(self):
    return {"num_classes": self.num_classes, "upsample_factor": 2}


def mask_head_without_norm(num_classes):
  return MaskHeadWithoutNorm(num_classes)


if "mask_head_without_norm" not in MASK_HEADS:
  MASK_HEADS.register("mask_head_without_norm")(mask_head_without_norm)


def build_pair(*bindings):
  """(foreground-only model, Model Garden's padded mask training), same weights."""
  models = []
  for foreground in (True, False):
    parse_tiny_shapes("mask_heads.mask_head.num_convs = 1", *bindings,
                      f"maskrcnn.build_maskrcnn.foreground_mask_training = {foreground}")
    keras.utils.set_random_seed(0)
    models.append(build_from_gin())
    gin.clear_config()
  models[1].set_weights(models[0].get_weights())
  return models


def mask_loss_and_gradients(model, images, inputs):
  """(training outputs, Model Garden's mask loss, gradients of it) with a fixed seed."""
  tf.random.set_seed(7)
  with tf.GradientTape() as tape:
    outputs = model(images, **inputs)
    loss = maskrcnn_losses.MaskrcnnLoss()(outputs["mask_outputs"], outputs["mask_targets"],
                                          outputs["mask_class_targets"])
  return outputs, loss, tape.gradient(loss, model.trainable_variables)


def assert_same_loss_and_gradients(models, images, inputs):
  (ours, our_loss, our_gradients), (theirs, their_loss, their_gradients) = (
      mask_loss_and_gradients(model, images, inputs) for model in models)
  np.testing.assert_array_equal(ours["class_targets"], theirs["class_targets"])  # same ROIs
  np.testing.assert_allclose(our_loss, their_loss, rtol=1e-5, atol=1e-7)
  compared = 0
  for variable, mine, reference in zip(models[0].trainable_variables, our_gradients,
                                       their_gradients):
    assert (mine is None) == (reference is None), variable.name
    if mine is not None:
      np.testing.assert_allclose(mine, reference, rtol=1e-4, atol=1e-6, err_msg=variable.name)
      compared += 1
  assert compared > 10  # the mask head, FPN and backbone variables
  return ours, theirs, float(our_loss)


@pytest.fixture(scope="module")
def without_norm():
  return build_pair(NO_NORM_HEAD)


@pytest.mark.smoke
def test_loss_and_gradients_equal_model_gardens(without_norm):
  images, inputs = training_batch([3, 1])
  ours, theirs, loss = assert_same_loss_and_gradients(without_norm, images, inputs)
  assert loss > 0
  foreground = (theirs["mask_class_targets"].numpy() > 0).sum(axis=1)
  # The mask head ran on the batch's foreground ROIs, one row each: their
  # total, not the batch size times the largest image's count.
  assert ours["mask_outputs"].shape[:2] == (1, foreground.sum())
  assert theirs["mask_outputs"].shape[:2] == (2, 32)
  assert (ours["mask_class_targets"].numpy() > 0).all()
  # What the trainer logs (num_fg_samples, num_fg_masks) is the same on both paths.
  counts = {name: float(value) for name, value in foreground_counts(ours, 2).items()}
  assert counts == {name: float(value) for name, value in foreground_counts(theirs, 2).items()}
  assert counts["num_fg_masks"] == foreground.sum() / 2
  assert counts["num_fg_samples"] >= counts["num_fg_masks"] > 0


@pytest.mark.parametrize("instances", [[0, 0], [2, 0], [0, 3]],
                         ids=["no_foreground_in_batch", "second_image_empty",
                              "first_image_empty"])
def test_images_without_instances(without_norm, instances):
  images, inputs = training_batch(instances, seed=1)
  ours, _, loss = assert_same_loss_and_gradients(without_norm, images, inputs)
  if not any(instances):  # One filler row of weight 0: the loss is 0, as Model Garden's.
    assert ours["mask_outputs"].shape[:2] == (1, 1)
    assert loss == 0.0


def test_every_mask_slot_full():
  # 6 instances per image and 4 mask slots: Model Garden keeps the first 4
  # foreground ROIs of each image, and so does the foreground path.
  models = build_pair(NO_NORM_HEAD, "mask_samplers.mask_sampler.num_sampled_masks = 4")
  images, inputs = training_batch([6, 6], seed=2)
  ours, theirs, _ = assert_same_loss_and_gradients(models, images, inputs)
  assert (theirs["mask_class_targets"].numpy() > 0).all()
  assert ours["mask_outputs"].shape[:2] == (1, 8)


def test_cascade_model():
  models = build_pair(NO_NORM_HEAD, "maskrcnn.build_maskrcnn.cascade_iou_thresholds = [0.6]",
                      "detection_heads.detection_head.class_agnostic_bbox_pred = True")
  assert_same_loss_and_gradients(models, *training_batch([3, 2], seed=3))


def test_outer_boxes_scale():
  models = build_pair(NO_NORM_HEAD, "maskrcnn.build_maskrcnn.outer_boxes_scale = 1.25")
  images, inputs = training_batch([3, 2], seed=4)
  inputs["gt_outer_boxes"] = inputs["gt_boxes"]
  assert_same_loss_and_gradients(models, images, inputs)


def test_model_gardens_mask_head_trains_on_foreground_statistics():
  ours, theirs = build_pair()
  images, inputs = training_batch([3, 1], seed=5)
  (our_outputs, our_loss, gradients), (_, their_loss, _) = (
      mask_loss_and_gradients(model, images, inputs) for model in (ours, theirs))
  assert np.isfinite(our_loss) and our_loss > 0
  assert all(np.isfinite(g).all() for g in gradients if g is not None)
  assert our_outputs["mask_outputs"].shape[1] == (our_outputs["mask_class_targets"] > 0).numpy().sum()
  # Batch norm sees other rows, so the loss is not Model Garden's.
  assert abs(float(our_loss) - float(their_loss)) > 1e-4


def test_two_replicas_agree_with_model_gardens_loss():
  """Under MirroredStrategy on two logical CPUs each replica trains on its own
  foreground rows; the loss (normalized by the replica-averaged foreground
  pixel count) and the summed gradients equal Model Garden's."""
  script = textwrap.dedent(f"""
      import maskrcnn_plugin, sys
      import numpy as np, tensorflow as tf
      cpu = tf.config.list_physical_devices("CPU")[0]
      tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
      sys.path[:0] = {[TEST_FOLDER, os.path.dirname(TEST_FOLDER)]!r}  # with tests/
      from test_foreground_masks import build_pair, mask_loss_and_gradients, NO_NORM_HEAD
      from helpers.tiny_models import training_batch
      strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
      with strategy.scope():
        models = build_pair(NO_NORM_HEAD)
      batches = [training_batch([3, 0], seed=6), training_batch([1, 2], seed=7)]
      for _, inputs in batches:
        inputs.pop("training")
      per_replica = strategy.experimental_distribute_values_from_function(
          lambda context: batches[context.replica_id_in_sync_group])
      def step(model):
        def replica_fn(batch):
          images, inputs = batch
          _, loss, gradients = mask_loss_and_gradients(model, images, dict(inputs, training=True))
          return loss, [g if g is not None else tf.zeros_like(v)
                        for g, v in zip(gradients, model.trainable_variables)]
        loss, gradients = strategy.run(tf.function(replica_fn), args=(per_replica,))
        reduce = lambda x: strategy.reduce(tf.distribute.ReduceOp.SUM, x, axis=None).numpy()
        return reduce(loss), [reduce(g) for g in gradients]
      (ours, our_grads), (theirs, their_grads) = step(models[0]), step(models[1])
      gap = max(float(np.max(np.abs(a - b))) for a, b in zip(our_grads, their_grads))
      print(ours, theirs, gap)
      """)
  done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"), timeout=600, check=False)
  assert done.returncode == 0, done.stderr[-3000:]
  ours, theirs, gap = (float(v) for v in done.stdout.strip().splitlines()[-1].split())
  assert ours > 0
  assert ours == pytest.approx(theirs, rel=1e-5)
  assert gap < 1e-5


def test_jit_compile_keeps_model_gardens_padded_slots():
  """XLA cannot compile the foreground rows (their count is dynamic): with
  runtime.jit_compile the trainer switches the model to the padded path."""
  # pylint: disable=import-outside-toplevel
  import orbit
  from maskrcnn_plugin.training.losses import MaskRCNNLosses
  from maskrcnn_plugin.training.trainer import MaskRCNNTrainer

  model = build_pair()[0]
  strategy = tf.distribute.get_strategy()
  make_trainer = lambda jit_compile: MaskRCNNTrainer(
      model=model, optimizer=keras.optimizers.SGD(0.01), losses=MaskRCNNLosses(model),
      dataset_fn=lambda context: tf.data.Dataset.range(1), strategy=strategy,
      global_step=orbit.utils.create_global_step(), jit_compile=jit_compile)
  make_trainer(False)
  assert model.foreground_mask_training
  make_trainer(True)
  assert not model.foreground_mask_training
  assert model.skip_padded_masks  # XLA compiles the train step only


def test_static_shapes_switch_each_dynamic_path_once():
  """What `maskrcnn train` does on a TPU, where XLA compiles every step."""
  model = build_pair()[0]
  assert model.use_static_shapes() == ["foreground_mask_training", "skip_padded_masks",
                                       "the ROI aligners' kernel = 'crop_and_resize'"]
  assert not (model.foreground_mask_training or model.skip_padded_masks)
  assert model.roi_aligner.model_garden_crops and model.mask_roi_aligner.model_garden_crops
  assert model.use_static_shapes() == []
