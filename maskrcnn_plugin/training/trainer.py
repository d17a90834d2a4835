"""The Orbit trainer: Mask R-CNN train steps with a non-finite loss guard.

Each step runs the model on one batch per replica, computes Model Garden's
Mask R-CNN losses (`losses.maskrcnn`), adds the model's weight decay and
applies the gradients. Per loop of `steps_per_loop` steps it returns the mean
of every loss term, the learning rate, steps/s and images/s (Orbit writes them
to TensorBoard), and the mean foreground ROIs per image of the box head
(`num_fg_samples`, as Detectron2 logs it) and of the mask head
(`num_fg_masks`: the rows the mask head trained on). A step whose loss is NaN
or infinite is recorded with its
loss terms; at the end of that loop training stops with NonFiniteLossError,
before Orbit could save a checkpoint of the damaged weights.
"""

import time
from typing import Callable, Dict, Mapping

from absl import logging
import orbit
import tensorflow as tf

from maskrcnn_plugin.errors import UserError
from maskrcnn_plugin.keras_setup import model_garden_keras
from maskrcnn_plugin.training.losses import LOSS_TERMS, MaskRCNNLosses
from maskrcnn_plugin.training.optimization import learning_rate_at


# Mean foreground ROIs per image, from the training outputs' class targets.
SAMPLE_COUNTS = {"num_fg_samples": "class_targets", "num_fg_masks": "mask_class_targets"}


class NonFiniteLossError(UserError):
  """A training step produced a NaN or infinite loss."""


class MaskRCNNTrainer(orbit.StandardTrainer):
  """Trains a Model Garden MaskRCNNModel under a tf.distribute strategy.

  Args:
    model: A built MaskRCNNModel (created in `strategy.scope()`).
    optimizer: Its optimizer (a LossScaleOptimizer under mixed_float16).
    losses: The loss computation, called in replica context.
    dataset_fn: `dataset_fn(input_context) -> tf.data.Dataset` of
      (images [B, H, W, 3], labels) in Model Garden's Mask R-CNN parser format,
      batched per replica.
    strategy: The distribution strategy.
    global_step: The int64 step variable that checkpoints keep.
    jit_compile: Compile the forward and backward pass with XLA. XLA needs
      static shapes, so the model is switched to Model Garden's padded mask
      training (`MaskRCNNModel.use_static_shapes(inference=False)`).
  """

  def __init__(self, *, model, optimizer, losses: MaskRCNNLosses,
               dataset_fn: Callable[[tf.distribute.InputContext], tf.data.Dataset],
               strategy: tf.distribute.Strategy, global_step: tf.Variable,
               jit_compile: bool = False):
    self.strategy = strategy
    self.model = model
    self.optimizer = optimizer
    self.losses = losses
    self.global_step = global_step
    keras = model_garden_keras()
    self._loss_scaling = isinstance(optimizer, keras.mixed_precision.LossScaleOptimizer)
    self._outer_boxes = model.get_config().get("outer_boxes_scale", 1.0) > 1.0
    if jit_compile:
      switched = model.use_static_shapes(inference=False)
      if switched:
        logging.info("runtime.jit_compile: XLA needs static shapes, so the train step runs "
                     "Model Garden's paths instead of: %s (the mask head trains on all "
                     "num_sampled_masks slots per image).", ", ".join(switched))
    with strategy.scope():
      self.loss_metrics = {name: keras.metrics.Mean(name, dtype=tf.float32)
                           for name in LOSS_TERMS}
      self.sample_metrics = {name: keras.metrics.Mean(name, dtype=tf.float32)
                             for name, key in SAMPLE_COUNTS.items()
                             if losses.include_mask or key != "mask_class_targets"}
      self._nonfinite_step = tf.Variable(-1, dtype=tf.int64, trainable=False,
                                         name="nonfinite_step")
      self._nonfinite_losses = tf.Variable(tf.zeros([len(LOSS_TERMS)]), trainable=False,
                                           name="nonfinite_losses")
      self._images_seen = tf.Variable(0, dtype=tf.int64, trainable=False, name="images_seen")
    self._compute_gradients = (tf.function(self._gradients, jit_compile=True)
                               if jit_compile else self._gradients)
    dataset = strategy.distribute_datasets_from_function(dataset_fn)
    super().__init__(dataset, options=orbit.StandardTrainerOptions(use_tf_while_loop=True))
    self._loop_start = (0.0, 0)

  def _gradients(self, images, labels):
    """Loss terms, foreground counts and gradients of this replica's share of the loss."""
    model_kwargs = {
        "image_shape": labels["image_info"][:, 1, :],
        "anchor_boxes": labels["anchor_boxes"],
        "gt_boxes": labels["gt_boxes"],
        "gt_classes": labels["gt_classes"],
        "training": True,
    }
    if self.losses.include_mask:
      model_kwargs["gt_masks"] = labels["gt_masks"]
    if self._outer_boxes:
      model_kwargs["gt_outer_boxes"] = labels["gt_outer_boxes"]
    variables = self.model.trainable_variables
    with tf.GradientTape() as tape:
      outputs = self.model(images, **model_kwargs)
      outputs = tf.nest.map_structure(lambda x: tf.cast(x, tf.float32), outputs)
      losses = self.losses(outputs, labels, self.model.losses)
      scaled_loss = losses["total_loss"] / self.strategy.num_replicas_in_sync
      if self._loss_scaling:
        scaled_loss = self.optimizer.get_scaled_loss(scaled_loss)
    gradients = tape.gradient(scaled_loss, variables)
    if self._loss_scaling:
      gradients = self.optimizer.get_unscaled_gradients(gradients)
    return losses, foreground_counts(outputs, tf.shape(images)[0]), gradients

  def train_loop_begin(self):
    for metric in (*self.loss_metrics.values(), *self.sample_metrics.values()):
      metric.reset_state()
    self._images_seen.assign(0)
    self._loop_start = (time.perf_counter(), int(self.global_step.numpy()))

  def train_step(self, iterator):
    # The step is written here rather than taken from MaskRCNNTask.train_step
    # because the non-finite guard and the progress lines need every loss term
    # of every step, which the task's step does not return.
    def step_fn(inputs):
      images, labels = inputs
      losses, counts, gradients = self._compute_gradients(images, labels)
      self.optimizer.apply_gradients(zip(gradients, self.model.trainable_variables))
      for name, metric in self.loss_metrics.items():
        metric.update_state(losses[name])
      for name, metric in self.sample_metrics.items():
        metric.update_state(counts[name])
      return losses, tf.shape(images, out_type=tf.int64)[0]

    per_replica, batch_size = self.strategy.run(step_fn, args=(next(iterator),))
    self._images_seen.assign_add(
        self.strategy.reduce(tf.distribute.ReduceOp.SUM, batch_size, axis=None))
    losses = tf.stack([self.strategy.reduce(tf.distribute.ReduceOp.MEAN, per_replica[name],
                                            axis=None) for name in LOSS_TERMS])
    self.global_step.assign_add(1)
    first_fault = tf.logical_and(tf.logical_not(tf.reduce_all(tf.math.is_finite(losses))),
                                 self._nonfinite_step < 0)
    self._nonfinite_step.assign(tf.where(first_fault, self.global_step, self._nonfinite_step))
    self._nonfinite_losses.assign(tf.where(first_fault, losses, self._nonfinite_losses))

  def train_loop_end(self) -> Dict[str, float]:
    step = int(self.global_step.numpy())
    bad_step = int(self._nonfinite_step.numpy())
    if bad_step >= 0:
      terms = ", ".join(f"{name}={value:.4g}" for name, value in
                        zip(LOSS_TERMS, self._nonfinite_losses.numpy()))
      raise NonFiniteLossError(
          f"Non-finite loss at step {bad_step}: {terms}. Training stopped; no checkpoint was "
          "written after it, so the newest checkpoint in model_dir is the last good one. "
          "Lower the learning rate, add warmup or gradient clipping "
          "(optimization.build_optimizer.global_clipnorm), or check the data.")
    start_time, start_step = self._loop_start
    elapsed = max(time.perf_counter() - start_time, 1e-9)
    steps_per_second = (step - start_step) / elapsed
    logs = {name: float(metric.result().numpy())
            for name, metric in {**self.loss_metrics, **self.sample_metrics}.items()}
    logs["learning_rate"] = learning_rate_at(self.optimizer, step)
    logs["steps_per_second"] = steps_per_second
    logs["images_per_second"] = float(self._images_seen.numpy()) / elapsed
    return logs



def foreground_counts(outputs: Mapping[str, tf.Tensor], batch_size: tf.Tensor
                       ) -> Dict[str, tf.Tensor]:
  """Foreground ROIs per image of the box head and the mask head (SAMPLE_COUNTS)."""
  return {name: tf.reduce_sum(tf.cast(outputs[key] > 0, tf.float32)) /
                tf.cast(batch_size, tf.float32)
          for name, key in SAMPLE_COUNTS.items() if key in outputs}
