"""The plugin against Model Garden's own Mask R-CNN, same architecture, same run.

    python benchmarks/compare_model_garden.py                 # all four settings
    python benchmarks/compare_model_garden.py --quick         # shapes_2fc only, shorter windows
    python benchmarks/compare_model_garden.py --settings=shapes_2fc,r50_4conv --candidates

Needs the shapes dataset (--data_dir, default data/shapes) and the trained
shapes demo (--checkpoint, default runs/shapes_r18_cpu): `make demo` writes
both. The R50 settings run inference on weights trained on the shapes data
(256 px, R50_TRAIN_STEPS steps in mixed_bfloat16 with `maskrcnn train`),
trained once and cached in --r50_dir (default runs/bench_r50/<setting>). Each setting (twins.SETTINGS) is built twice, once from the plugin's
gin config (maskrcnn_shapes_r18_cpu / maskrcnn_r50_fpn_coco with bindings) and
once through Model Garden's `maskrcnn_resnetfpn_coco` experiment and
`MaskRCNNTask` with the same overrides; the script checks both have the same
weights in the same order. For each it measures, in float32 on the CPU:

- training images/s: each side's Orbit trainer (the plugin's MaskRCNNTrainer,
  Model Garden's base_trainer.Trainer) runs windows of a few steps in one
  compiled loop; after a warm-up window, plugin and Model Garden windows
  alternate, so load from other processes hits both alike; the median window.
  Settings with trained weights train from them (restored after the warm-up,
  copied into every side): the plugin's mask head trains on the foreground
  ROIs, whose number grows as a model learns (about 8 per image at the demo's
  step 50, 23 at step 1000), so random weights would understate its work.
  The table gives the plugin's mean `num_fg_masks` per image over its windows.
- inference images/s: the model in inference mode on the shapes validation
  images (preprocessed once, the same batches for both), windows alternating
  as above. shapes_2fc runs on the demo's trained weights and the R50
  settings on their cached trained weights (copied into Model Garden's model);
  these report both sides' COCO mask and box AP on the 200 validation images.
  shapes_4conv has no trained checkpoint: it runs on random weights, flagged
  'random' in the table, which makes detections and hence the mask head's
  work unlike a real model's; the plugin then runs with skip_padded_masks =
  False (Model Garden's padded mask path), so its ratio measures the other
  speed-ups, not the kept-detections one.
- input-pipeline images/s: each side's training tf.data pipeline alone.
- peak resident memory: a separate process per side that builds the model,
  runs two training steps and two inference batches (ru_maxrss).

The plugin runs with its defaults, which include its speed-ups: the mask head
trained on foreground ROIs only (foreground_mask_training) and run on kept
detections only at inference (skip_padded_masks), NMS on TensorFlow's kernel
(nms_kernel = 'native'), ROI align on TensorFlow's CropAndResize
kernel (inference_kernel and training_kernel = 'crop_and_resize') and, with
one replica, fused instead of synchronized batch norm; 'plugin bf16' is the
same with mixed_bfloat16 (box math in float32), the reduced precision that
`runtime.mixed_precision = 'auto'` picks on a CPU with bfloat16 instructions. With --candidates, each speed-up is also
switched off alone in the same windows ('plugin MG NMS', 'plugin SyncBN' on
the R50 settings; 'plugin padded mask training' and, at inference, 'plugin
padded masks' and, in both, 'plugin MG ROI align' are always measured, and
on the 4conv settings 'plugin bf16 native conv kernel gradient', the
bfloat16 side with TensorFlow's kernel gradient in the box head's convs), and
the speed-ups not kept are measured too: XLA (training) and one step per
compiled loop.

The '(ceiling)' rows time the backbone, FPN and RPN head alone (shared_layers),
in float32 and bfloat16, in the same alternating windows: forward and backward
in training, forward at inference. Every implementation of the architecture
runs these layers, so their ratio to Model Garden is the largest ratio any
change after the proposals can reach. The load average is printed with each
phase; figures are medians.

Every worker process imports maskrcnn_plugin before TensorFlow runs, so both
sides run on TensorFlow's pooled CPU allocator (TF_CPU_ALLOCATOR_USE_BFC=1)
and, on x86-64, oneDNN's kernels (TF_ENABLE_ONEDNN_OPTS=1;
maskrcnn_plugin/cpu_runtime.py) unless the environment sets them to 0: the
ratios are those of the models. benchmarks/cpu_runtime.py measures both
settings themselves, which Model Garden's own trainer does not make.
"""

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import twins  # noqa: E402  pylint: disable=wrong-import-position

# Steps per training window, timed windows per side, inference batches per
# window; --quick halves the windows.
WINDOWS = {
    "shapes": {"train_steps": 5, "train_windows": 5, "infer_batches": 5, "infer_windows": 5},
    "r50": {"train_steps": 2, "train_windows": 3, "infer_batches": 3, "infer_windows": 3},
}


BUILD = "maskrcnn.build_maskrcnn"
# Training of the cached R50 weights: the shapes schedule (warmup, cosine decay),
# its learning rate scaled from batch 8 to the R50 settings' batch 2.
R50_TRAIN_STEPS = 400
R50_TRAINING = (
    f"TRAIN_STEPS = {R50_TRAIN_STEPS}",
    "schedule.steps_per_loop = 50", "schedule.summary_interval = 50",
    "schedule.checkpoint_interval = %TRAIN_STEPS", "schedule.eval_interval = None",
    "runtime.mixed_precision = 'mixed_bfloat16'",
    f"optimization.build_optimizer.global_clipnorm = {twins.SHAPES_CLIPNORM}",
    "lr_schedules.linear_warmup.schedule = @lr_schedules.cosine()",
    f"lr_schedules.linear_warmup.warmup_steps = {twins.SHAPES_WARMUP_STEPS}",
    f"lr_schedules.linear_warmup.warmup_learning_rate = {twins.SHAPES_WARMUP_LR / 4}",
    f"lr_schedules.cosine.initial_learning_rate = {twins.SHAPES_LR / 4}",
    "lr_schedules.cosine.decay_steps = %TRAIN_STEPS",
    "parsers.maskrcnn.aug_scale_min = 1.0", "parsers.maskrcnn.aug_scale_max = 1.0",
)
# The rows of the backbone, FPN and RPN head alone (shared_layers).
SHARED = "backbone + FPN + RPN head alone"
# The bfloat16 side with TensorFlow's kernel gradient in the box head's convs.
NATIVE_CONV_GRADIENT = "plugin bf16 native conv kernel gradient"
# Model Garden's tiled NMS in the proposal and detection generators.
MODEL_GARDEN_NMS = ("roi_generators.multilevel_roi_generator.nms_kernel = 'model_garden'",
                    "detection_generators.detection_generator.nms_kernel = 'model_garden'")
# Model Garden's gathers in both ROI aligners, in training and at inference.
MODEL_GARDEN_ROI_ALIGN = tuple(
    f"roi_aligners.{aligner}.{mode}_kernel = 'model_garden'"
    for aligner in ("multilevel_roi_aligner", "multilevel_mask_roi_aligner")
    for mode in ("inference", "training"))


def _load() -> str:
  return "load average %.2f %.2f %.2f" % os.getloadavg()


def _median(values: List[float]) -> float:
  ordered = sorted(values)
  middle = len(ordered) // 2
  return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


class _Side:
  """One model with its trainer: `train_window(steps)`, `infer(images, labels)`."""

  def __init__(self, name: str, model, trainer, batch_size: int):
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    self.name = name
    self.model = model
    self.trainer = trainer
    self.batch_size = batch_size
    self.fg_masks: List[float] = []
    self.infer = tf.function(lambda images, labels: model(
        images, image_shape=labels["image_info"][:, 1, :], anchor_boxes=labels["anchor_boxes"],
        training=False))

  def train_window(self, steps: int) -> float:
    """Runs `steps` training steps in one compiled loop; returns images/s.

    The plugin's windows also append their mean `num_fg_masks` (mask head
    rows per image) to `self.fg_masks`.
    """
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    start = time.perf_counter()
    logs = self.trainer.train(tf.constant(steps, tf.int32))  # Ends with a host read of the metrics.
    rate = steps * self.batch_size / (time.perf_counter() - start)
    if logs and "num_fg_masks" in logs:
      self.fg_masks.append(float(logs["num_fg_masks"]))
    return rate


class SharedLayers(NamedTuple):
  """The backbone, decoder and RPN head of a model, as two compiled calls.

  train_step(images [batch, h, w, 3]) -> the global norm of the gradients of
  all their trainable weights (batch norm in training mode), for a loss that
  reads every decoder level and RPN output; returning the norm keeps every
  gradient from being pruned. infer(images) -> a scalar sum of the same
  outputs in inference mode.
  """
  train_step: Callable
  infer: Callable


def shared_layers(model) -> SharedLayers:
  """The part of `model` that every implementation of its architecture runs.

  Whatever a Mask R-CNN does after its proposals (sampling, ROI align, the box
  and mask heads, NMS), it runs these layers on every image, forward and, in
  training, backward. Their images/s is therefore a ceiling on the images/s
  of any implementation with the same backbone, FPN and RPN head at this
  precision, and the ceiling over Model Garden's images/s is the largest
  speed-up over Model Garden that the rest of the model can still give.
  """
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  layers = [model.backbone, model.decoder, model.rpn_head]
  variables = [variable for layer in layers for variable in layer.trainable_variables]

  def outputs_sum(images, training: bool):
    features = model.decoder(model.backbone(images, training=training), training=training)
    scores, boxes = model.rpn_head(features, training=training)
    outputs = [*features.values(), *scores.values(), *boxes.values()]
    return tf.add_n([tf.reduce_mean(tf.cast(output, tf.float32)) for output in outputs])

  @tf.function
  def train_step(images):
    with tf.GradientTape() as tape:
      loss = outputs_sum(images, True)
    return tf.linalg.global_norm(tape.gradient(loss, variables))

  return SharedLayers(train_step, tf.function(lambda images: outputs_sum(images, False)))


class _Ceiling:
  """shared_layers of a side's model, timed in the same windows as a `_Side`.

  Training windows run on one fixed random batch (these layers do the same
  work whatever the pixels); `infer(images, labels)` ignores the labels.
  """

  def __init__(self, model, setting: twins.Setting):
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    self.layers = shared_layers(model)
    self.batch_size = setting.batch_size
    self.images = tf.random.stateless_uniform(
        [setting.batch_size, setting.image_size, setting.image_size, 3], seed=(1, 2))

  def train_window(self, steps: int) -> float:
    """Runs `steps` forward-backward passes; returns images/s."""
    start = time.perf_counter()
    for _ in range(steps):
      norm = self.layers.train_step(self.images)
    _ = norm.numpy()
    return steps * self.batch_size / (time.perf_counter() - start)

  def infer(self, images, labels):
    del labels
    return self.layers.infer(images)


def _plugin_side(name: str, setting: twins.Setting, strategy, *, train: bool = True,
                 policy: str = "float32", jit_compile: bool = False,
                 bindings: Sequence[str] = ()) -> _Side:
  """The plugin's model and trainer from the parsed gin config, as `maskrcnn train` builds them.

  `bindings` (gin bindings such as "maskrcnn.build_maskrcnn.skip_padded_masks = False")
  apply to this side only: they are parsed under a gin scope of its own.
  """
  # pylint: disable=import-outside-toplevel
  import gin
  import orbit
  from maskrcnn_plugin.modeling import build_maskrcnn
  from maskrcnn_plugin.modeling.precision import policy_scope
  from maskrcnn_plugin.training.experiment import plugin_inputs
  from maskrcnn_plugin.training.losses import MaskRCNNLosses
  from maskrcnn_plugin.training.optimization import build_optimizer
  from maskrcnn_plugin.training.trainer import MaskRCNNTrainer

  scope = re.sub(r"\W", "_", name)
  with gin.unlock_config():
    gin.parse_config([f"{scope}/{binding}" for binding in bindings])
  inputs = plugin_inputs()
  with policy_scope(policy), strategy.scope():
    with gin.config_scope(scope):  # Not around the trainer: its input pipeline has scope 'train'.
      model = build_maskrcnn()
    trainer = None
    if train:
      global_step = orbit.utils.create_global_step()
      trainer = MaskRCNNTrainer(model=model, optimizer=build_optimizer(),
                                losses=MaskRCNNLosses(model), dataset_fn=inputs.train_dataset_fn,
                                strategy=strategy, global_step=global_step,
                                jit_compile=jit_compile)
  return _Side(name, model, trainer, setting.batch_size)


def _model_garden_side(setting: twins.Setting, data_dir: str, strategy, *,
                       train: bool = True) -> _Side:
  """Model Garden's model and Orbit trainer, built through its experiment config and task."""
  # pylint: disable=import-outside-toplevel
  from official.core import base_trainer, task_factory
  import official.vision.tasks.maskrcnn  # noqa: F401  (registers the task)

  config = twins.model_garden_config(setting, data_dir)
  task = task_factory.get_task(config.task)
  with strategy.scope():
    model = task.build_model()
    trainer = None
    if train:
      optimizer = task.create_optimizer(config.trainer.optimizer_config, config.runtime)
      trainer = base_trainer.Trainer(config, task, model, optimizer, train=True, evaluate=False)
  return _Side("Model Garden", model, trainer, setting.batch_size)


def _parse_plugin_gin(setting: twins.Setting, data_dir: str) -> None:
  from maskrcnn_plugin.gin_config import parse_gin  # pylint: disable=import-outside-toplevel
  files, params = twins.plugin_gin(setting, data_dir)
  parse_gin(files, params)


def _checkpoint_dir(setting: twins.Setting, args) -> Optional[str]:
  """The model_dir of `setting`'s trained weights: the demo's, the cached R50 ones, or None."""
  if setting.uses_demo_checkpoint:
    return args.checkpoint
  if setting.model == "r50":
    return os.path.join(args.r50_dir, setting.name)
  return None


def train_worker(args) -> Dict:
  """Trains the R50 setting's cached weights with `maskrcnn train` (see R50_TRAINING)."""
  # pylint: disable=import-outside-toplevel
  from maskrcnn_plugin import training
  from maskrcnn_plugin.gin_config import parse_gin
  setting = twins.SETTINGS[args.settings]
  files, params = twins.plugin_gin(setting, args.data_dir, extra=R50_TRAINING)
  parse_gin(files, params)
  started = time.perf_counter()
  result = training.run(_checkpoint_dir(setting, args), "train")
  return {"steps": result.step, "seconds": time.perf_counter() - started}


def _eval_batches(limit: Optional[int]):
  """The plugin's eval pipeline (validation records), preprocessed once: [(images, labels)]."""
  import gin  # pylint: disable=import-outside-toplevel
  from maskrcnn_plugin.dataloaders import input_pipeline  # pylint: disable=import-outside-toplevel
  with gin.config_scope("eval"):
    dataset = input_pipeline()
  return [batch for _, batch in zip(range(limit or 10**9), dataset)]


def _coco_ap(side: _Side, batches, annotation_file: str) -> Dict[str, float]:
  """COCO mask and box AP of `side` over `batches` (Model Garden's COCOEvaluator)."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  from official.vision.evaluation import coco_evaluator  # pylint: disable=import-outside-toplevel
  evaluator = coco_evaluator.COCOEvaluator(annotation_file=annotation_file, include_mask=True)
  for images, labels in batches:
    outputs = side.infer(images, labels)
    predictions = {key: tf.cast(outputs[key], tf.float32) if outputs[key].dtype.is_floating
                   else outputs[key] for key in ("detection_boxes", "detection_scores",
                                                 "detection_classes", "num_detections",
                                                 "detection_masks")}
    predictions.update(source_id=labels["groundtruths"]["source_id"],
                       image_info=labels["image_info"])
    evaluator.update_state({}, predictions)
  metrics = evaluator.result()
  return {"mask_AP": float(metrics["mask_AP"]), "box_AP": float(metrics["AP"])}


def _interleave(sides: List[str], window: Callable[[str], float], rounds: int,
                log: Callable[[str], None]) -> Dict[str, List[float]]:
  """`rounds` rounds of one window per side, alternating; images/s per side."""
  rates: Dict[str, List[float]] = {name: [] for name in sides}
  for index in range(rounds):
    order = sides if index % 2 == 0 else list(reversed(sides))
    for name in order:
      rates[name].append(window(name))
    log(f"  round {index + 1}/{rounds}: " +
        ", ".join(f"{name} {rates[name][-1]:.2f}" for name in sides) + f" ({_load()})")
  return rates


def inference_windows(sides: Dict[str, "_Side"], batches, per_window: int
                      ) -> Callable[[str], float]:
  """window(name): images/s of sides[name] on the next `per_window` of `batches`.

  Each side walks through the batches in its own order of windows, the same
  for every side, so alternating sides see the same images.
  """
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  calls: Dict[str, int] = {}

  def window(name: str) -> float:
    window_index = calls.get(name, 0)
    calls[name] = window_index + 1
    start_batch = (window_index * per_window) % max(len(batches) - per_window + 1, 1)
    start = time.perf_counter()
    images = 0
    for batch_images, labels in batches[start_batch:start_batch + per_window]:
      outputs = sides[name].infer(batch_images, labels)
      images += int(batch_images.shape[0])
    _ = tf.nest.flatten(outputs)[0].numpy()  # Wait for the last batch.
    return images / (time.perf_counter() - start)

  return window


def window_plan(setting: twins.Setting, quick: bool) -> Dict[str, int]:
  """Steps per training window, windows per side, batches per inference window (WINDOWS)."""
  plan = dict(WINDOWS[setting.model])
  if quick:
    plan = {key: max(2, value // 2) if key.endswith("windows") else value
            for key, value in plan.items()}
  return plan


def _restore(model, checkpoint_dir: str, log: Callable[[str], None]) -> None:
  """Restores the latest checkpoint of checkpoint_dir into model (every model weight)."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  checkpoint = tf.train.latest_checkpoint(checkpoint_dir)
  status = tf.train.Checkpoint(model=model).restore(checkpoint)
  status.expect_partial().assert_existing_objects_matched()
  log(f"restored {checkpoint}")


def timing_worker(args) -> Dict:
  """Training and inference images/s for both sides in one process, windows interleaved."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  setting = twins.SETTINGS[args.settings]
  plan = window_plan(setting, args.quick)
  log = lambda line: print(line, file=sys.stderr, flush=True)
  strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
  _parse_plugin_gin(setting, args.data_dir)
  checkpoint_dir = _checkpoint_dir(setting, args)
  trained = checkpoint_dir is not None
  log(f"[{setting.name}] building ({_load()})")
  sides = {"plugin": _plugin_side("plugin", setting, strategy),
           "plugin bf16": _plugin_side("plugin bf16", setting, strategy,
                                       policy="mixed_bfloat16"),
           "Model Garden": _model_garden_side(setting, args.data_dir, strategy)}
  parameters = twins.assert_same_architecture(sides["plugin"].model, sides["Model Garden"].model)
  # The plugin with Model Garden's inference mask path: on random weights the
  # plugin's own row, whose detections are unlike a trained model's.
  sides["plugin padded masks"] = _plugin_side("plugin padded masks", setting, strategy, train=False,
                                              bindings=[f"{BUILD}.skip_padded_masks = False"])
  # The plugin with Model Garden's padded mask training: what the foreground
  # mask training saves.
  sides["plugin padded mask training"] = _plugin_side(
      "plugin padded mask training", setting, strategy,
      bindings=[f"{BUILD}.foreground_mask_training = False"])
  # The plugin with Model Garden's ROI align gathers at inference.
  sides["plugin MG ROI align"] = _plugin_side("plugin MG ROI align", setting, strategy,
                                              bindings=MODEL_GARDEN_ROI_ALIGN)
  train_candidates = ["plugin padded mask training", "plugin MG ROI align"]
  if setting.box_head == "4conv":
    # The plugin's bfloat16 with TensorFlow's kernel gradient in the box head's
    # convs: what conv_kernel_gradient saves (it applies to bfloat16 only).
    sides[NATIVE_CONV_GRADIENT] = _plugin_side(
        NATIVE_CONV_GRADIENT, setting, strategy, policy="mixed_bfloat16",
        bindings=["detection_heads.detection_head.conv_kernel_gradient = 'native'"])
    train_candidates.append(NATIVE_CONV_GRADIENT)
  infer_names = ["plugin", "plugin bf16", "plugin padded masks", "plugin MG ROI align",
                 "Model Garden"]
  # The backbone, FPN and RPN head alone, in float32 and bfloat16: the ceiling
  # of any speed-up that keeps the architecture (see shared_layers).
  ceilings = [SHARED, f"{SHARED}, bf16"]
  sides[SHARED] = _Ceiling(sides["plugin"].model, setting)
  sides[f"{SHARED}, bf16"] = _Ceiling(sides["plugin bf16"].model, setting)
  if args.candidates:
    # Each other kept speed-up switched off alone, then the ones not kept.
    sides["plugin MG NMS"] = _plugin_side("plugin MG NMS", setting, strategy,
                                          bindings=MODEL_GARDEN_NMS)
    train_candidates.append("plugin MG NMS")
    infer_names.append("plugin MG NMS")
    if setting.model == "r50":  # The shapes config has no synchronized batch norm.
      sides["plugin SyncBN"] = _plugin_side("plugin SyncBN", setting, strategy,
                                            bindings=[f"{BUILD}.sync_bn_on_one_replica = True"])
      train_candidates.append("plugin SyncBN")
    sides["plugin XLA"] = _plugin_side("plugin XLA", setting, strategy, jit_compile=True)
    train_candidates.append("plugin XLA")

  # Training: a warm-up window per side (tracing, pipeline start), then rounds.
  steps = plan["train_steps"]
  train_names = ["plugin", "plugin bf16", "Model Garden", *train_candidates, *ceilings]
  log(f"[{setting.name}] training warm-up ({_load()})")
  for name in train_names:
    sides[name].train_window(steps)
  if trained:  # Train from the trained weights: their foreground counts (see the docstring).
    _restore(sides["plugin"].model, checkpoint_dir, log)
    weights = sides["plugin"].model.get_weights()
    for name in train_names:
      if isinstance(sides[name], _Side) and name != "plugin":
        sides[name].model.set_weights(weights)
    sides["plugin"].fg_masks.clear()

  if args.candidates:  # steps_per_loop = 1: one compiled call and host sync per step.
    sides["plugin 1 step/loop"] = sides["plugin"]
    train_names.append("plugin 1 step/loop")

  def train_window(name: str) -> float:
    if name == "plugin 1 step/loop":
      return steps / sum(1.0 / sides[name].train_window(1) for _ in range(steps))
    return sides[name].train_window(steps)

  train_rates = _interleave(train_names, train_window, plan["train_windows"], log)

  # Inference on the validation images.
  fg_masks = sides["plugin"].fg_masks
  result = {"setting": setting.name, "parameters": parameters, "trained_weights": trained,
            "train": train_rates, "load_after_train": os.getloadavg(),
            "train_fg_masks_per_image": sum(fg_masks) / len(fg_masks)}
  limit = None if trained else plan["infer_batches"] * plan["infer_windows"]
  batches = _eval_batches(limit)
  if trained:  # Training moved the weights: back to the checkpoint's.
    _restore(sides["plugin"].model, checkpoint_dir, log)
  weights = sides["plugin"].model.get_weights()
  for name in infer_names[1:]:
    sides[name].model.set_weights(weights)
  for name in [*infer_names, *ceilings]:  # Warm-up: tracing.
    sides[name].infer(*batches[0])
  if trained:
    annotation_file = os.path.join(args.data_dir, "instances_val.json")
    result["ap"] = {name: _coco_ap(sides[name], batches, annotation_file) for name in infer_names}
    log(f"[{setting.name}] AP: {result['ap']}")
  # Over all inference batches: the eval pipeline's order is not fixed, so one
  # batch's count changes from run to run.
  detections = tf.concat([sides["Model Garden"].infer(*batch)["num_detections"]
                          for batch in batches], axis=0)
  result["detections_per_image"] = float(tf.reduce_mean(tf.cast(detections, tf.float32)))

  infer_window = inference_windows(sides, batches, plan["infer_batches"])
  log(f"[{setting.name}] inference ({_load()})")
  result["infer"] = _interleave([*infer_names, *ceilings], infer_window, plan["infer_windows"],
                                log)
  result["load_after_infer"] = os.getloadavg()
  return result


def memory_worker(args) -> Dict:
  """One side alone: its input pipeline's images/s, then peak RSS of two train steps and inference."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  setting = twins.SETTINGS[args.settings]
  strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
  if args.side == "plugin":
    _parse_plugin_gin(setting, args.data_dir)
    import gin  # pylint: disable=import-outside-toplevel
    from maskrcnn_plugin.dataloaders import input_pipeline  # pylint: disable=import-outside-toplevel
    with gin.config_scope("train"):
      dataset = input_pipeline()
  else:
    # pylint: disable=import-outside-toplevel
    from official.core import task_factory
    import official.vision.tasks.maskrcnn  # noqa: F401
    config = twins.model_garden_config(setting, args.data_dir)
    dataset = task_factory.get_task(config.task).build_inputs(config.task.train_data)
  iterator = iter(dataset)
  batches = max(30, 240 // setting.batch_size)
  for _ in range(5):
    next(iterator)
  start = time.perf_counter()
  for _ in range(batches):
    next(iterator)
  pipeline = batches * setting.batch_size / (time.perf_counter() - start)
  del iterator, dataset
  side = (_plugin_side("plugin", setting, strategy) if args.side == "plugin"
          else _model_garden_side(setting, args.data_dir, strategy))
  side.train_window(1)
  side.train_window(1)
  images = tf.random.stateless_uniform([setting.batch_size, setting.image_size,
                                        setting.image_size, 3], seed=(1, 2))
  size = float(setting.image_size)
  info = tf.constant([[[size, size], [size, size], [1.0, 1.0], [0.0, 0.0]]] * setting.batch_size)
  model = side.model
  infer = tf.function(lambda x: model(x, image_shape=info[:, 1, :], training=False))
  for _ in range(2):
    _ = infer(images)["detection_masks"].numpy()
  return {"pipeline": pipeline,
          "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}


def _run_worker(kind: str, setting: str, args, side: str = "") -> Dict:
  """Runs a worker in a fresh Python process; returns its JSON result."""
  with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
    output = handle.name
  command = [sys.executable, os.path.abspath(__file__), f"--_worker={kind}", f"--_output={output}",
             f"--settings={setting}", f"--data_dir={args.data_dir}",
             f"--checkpoint={args.checkpoint}", f"--r50_dir={args.r50_dir}"]
  command += [f"--_side={side}"] if side else []
  command += ["--quick"] if args.quick else []
  command += ["--candidates"] if args.candidates else []
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  completed = subprocess.run(command, env=env, stdout=subprocess.DEVNULL,
                             stderr=None if args.verbose else subprocess.PIPE, text=True,
                             check=False)
  if completed.returncode:
    sys.stderr.write(completed.stderr or "")
    raise SystemExit(f"The {kind} worker of {setting} ({side or 'both sides'}) failed "
                     f"(exit {completed.returncode}); rerun with --verbose.")
  if not args.verbose:  # Progress lines only.
    for line in completed.stderr.splitlines():
      if line.startswith(("[", "  round")):
        print(line, flush=True)
  with open(output, encoding="utf-8") as file:
    result = json.load(file)
  os.unlink(output)
  return result


def _figure(value: float) -> str:
  """Three significant digits (0.242, 13.5, 632)."""
  return f"{value:.3g}" if value < 100 else f"{value:.0f}"


def _table(results: List[Dict]) -> str:
  """Markdown table: one line per setting and figure, with the ratio plugin/Model Garden."""
  lines = ["| setting | figure | plugin | Model Garden | plugin / MG |",
           "|---|---|---:|---:|---:|"]
  for result in results:
    name = result["setting"]
    train = {side: _median(rates) for side, rates in result["train"].items()}
    infer = {side: _median(rates) for side, rates in result["infer"].items()}
    mg_train, mg_infer = train["Model Garden"], infer["Model Garden"]

    def add(figure: str, ours: float, theirs: float) -> None:
      # The ratio of the unrounded figures.
      lines.append(f"| {name} | {figure} | {_figure(ours)} | {_figure(theirs)} | "
                   f"{ours / theirs:.2f} |")

    def label(side: str) -> str:
      return f"{side} (ceiling)" if side.startswith(SHARED) else side

    start = "trained" if result["trained_weights"] else "RANDOM"
    add(f"training images/s ({start} weights at the start, "
        f"{result['train_fg_masks_per_image']:.1f} foreground masks/image)",
        train["plugin"], mg_train)
    for side in train:
      if side not in ("plugin", "Model Garden"):
        add(f"training images/s, {label(side)}", train[side], mg_train)
    weights = (f"{'trained' if result['trained_weights'] else 'RANDOM'} weights, "
               f"{result['detections_per_image']:.1f} detections/image")
    if result["trained_weights"]:
      add(f"inference images/s ({weights})", infer["plugin"], mg_infer)
      add("inference images/s, plugin padded masks (Model Garden's mask path)",
          infer["plugin padded masks"], mg_infer)
    else:
      add(f"inference images/s ({weights}; plugin with padded masks)",
          infer["plugin padded masks"], mg_infer)
      add("inference images/s, plugin kept-detection masks (random weights: not meaningful)",
          infer["plugin"], mg_infer)
    for side in ("plugin MG ROI align", "plugin MG NMS", "plugin bf16", SHARED,
                 f"{SHARED}, bf16"):
      if side in infer:
        add(f"inference images/s, {label(side)}", infer[side], mg_infer)
    for side, ap in result.get("ap", {}).items():
      if side != "Model Garden":
        mg_ap = result["ap"]["Model Garden"]
        lines.append(f"| {name} | mask AP / box AP, {side} | {ap['mask_AP']:.4f} / "
                     f"{ap['box_AP']:.4f} | {mg_ap['mask_AP']:.4f} / {mg_ap['box_AP']:.4f} | "
                     f"{ap['mask_AP'] - mg_ap['mask_AP']:+.4f} (mask AP difference) |")
    memory = result["memory"]
    add("input pipeline images/s", memory["plugin"]["pipeline"],
        memory["Model Garden"]["pipeline"])
    lines.append(f"| {name} | input pipeline / training consumption | "
                 f"{memory['plugin']['pipeline'] / train['plugin']:.0f}x | "
                 f"{memory['Model Garden']['pipeline'] / mg_train:.0f}x | |")
    add("peak RSS MiB", memory["plugin"]["peak_rss_mib"], memory["Model Garden"]["peak_rss_mib"])
  return "\n".join(lines)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--settings", default=",".join(twins.SETTINGS),
                      help=f"Comma-separated settings among {', '.join(twins.SETTINGS)}.")
  parser.add_argument("--quick", action="store_true",
                      help="shapes_2fc only (unless --settings is given), fewer windows.")
  parser.add_argument("--candidates", action="store_true",
                      help="Also time the plugin with mixed_bfloat16 and with XLA.")
  parser.add_argument("--data_dir", default="data/shapes",
                      help="The shapes dataset (`maskrcnn data make-shapes`).")
  parser.add_argument("--checkpoint", default="runs/shapes_r18_cpu",
                      help="The trained shapes demo's model_dir (`make demo`).")
  parser.add_argument("--json", help="Also write the raw figures to this file.")
  parser.add_argument("--verbose", action="store_true", help="Show the workers' full logs.")
  parser.add_argument("--table", metavar="JSON",
                      help="Print the table of an earlier run's --json file and exit.")
  parser.add_argument("--r50_dir", default="runs/bench_r50",
                      help="Cache of the R50 settings' trained weights (trained when missing).")
  parser.add_argument("--_worker", choices=["timing", "memory", "train"], help=argparse.SUPPRESS)
  parser.add_argument("--_side", dest="side", help=argparse.SUPPRESS)
  parser.add_argument("--_output", dest="output", help=argparse.SUPPRESS)
  args = parser.parse_args()

  if args._worker:  # pylint: disable=protected-access
    import maskrcnn_plugin  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
    worker = {"timing": timing_worker, "memory": memory_worker,
              "train": train_worker}[args._worker]  # pylint: disable=protected-access
    with open(args.output, "w", encoding="utf-8") as file:
      json.dump(worker(args), file)
    return

  if args.table:
    with open(args.table, encoding="utf-8") as file:
      print(_table(json.load(file)))
    return

  names = args.settings.split(",")
  if args.quick and "--settings" not in " ".join(sys.argv):
    names = ["shapes_2fc"]
  unknown = [name for name in names if name not in twins.SETTINGS]
  if unknown:
    parser.error(f"unknown setting {', '.join(unknown)}; choose among "
                 f"{', '.join(twins.SETTINGS)}.")
  import glob  # pylint: disable=import-outside-toplevel
  if (not glob.glob(os.path.join(args.data_dir, "train-*.tfrecord"))
      or not os.path.exists(os.path.join(args.data_dir, "instances_val.json"))
      or not glob.glob(os.path.join(args.checkpoint, "ckpt-*.index"))):
    raise SystemExit(twins.missing_inputs_message(args.data_dir, args.checkpoint))

  started = time.perf_counter()
  print(f"Machine: {os.cpu_count()} CPUs; {_load()}", flush=True)
  results = []
  for index, name in enumerate(names):
    cached = _checkpoint_dir(twins.SETTINGS[name], args)
    if cached and not glob.glob(os.path.join(cached, "ckpt-*.index")):
      print(f"[{name}] training the cached weights in {cached} ({R50_TRAIN_STEPS} steps)",
            flush=True)
      trained = _run_worker("train", name, args)
      print(f"[{name}] trained {trained['steps']} steps in {trained['seconds']:.0f} s", flush=True)
    result = _run_worker("timing", name, args)
    order = ["plugin", "Model Garden"] if index % 2 == 0 else ["Model Garden", "plugin"]
    result["memory"] = {side: _run_worker("memory", name, args,
                                          side="plugin" if side == "plugin" else "model_garden")
                        for side in order}
    results.append(result)
    if args.json:  # After each setting, so that an interrupted run keeps its figures.
      with open(args.json, "w", encoding="utf-8") as file:
        json.dump(results, file, indent=2)
    print(f"[{name}] done after {time.perf_counter() - started:.0f} s ({_load()})", flush=True)
  print()
  print(_table(results))
  print(f"\nTotal {time.perf_counter() - started:.0f} s; {_load()}")


if __name__ == "__main__":
  main()
