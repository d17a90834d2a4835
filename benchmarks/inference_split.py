"""Where the shapes demo's inference time goes, plugin and Model Garden, and at what FLOP rate.

    python benchmarks/inference_split.py [--rounds=5] [--checkpoint=runs/shapes_r18_cpu]

Needs the shapes dataset and the trained demo, as `compare_model_garden.py`
(setting shapes_2fc: 8 images of 128 px a batch, the 200 validation images).
Both models hold the demo's weights. Each side is timed as six nested
compiled calls, each running the model's own layers up to a point:

  shared layers      backbone, FPN and RPN head (`compare_model_garden.shared_layers`)
  + proposals        the proposal generator (decoding, NMS per level)
  + box ROI align    the box head's crops of the proposals
  + box head         the box head (class scores, box deltas)
  + detections       the detection generator (decoding, per-class NMS)
  = whole model      + the mask branch (ROI align and mask head on the detections)

so each part's time is the difference of two consecutive calls. Rounds
alternate the order of the calls; figures are medians of ms per batch.

The second table gives the floating-point operations (TensorFlow's
profiler, counted on graphs of static shapes) and the rate of the three
dense parts of the plugin's model: the shared layers on a batch, the box head
on its proposals and the mask head on the batch's detections. A part that
runs near the rate of the shared layers is compute bound: only less
arithmetic makes it faster.
"""

import argparse
import os
import sys
import time
from typing import Callable, Dict, List

import maskrcnn_plugin  # noqa: F401  (Keras and the CPU runtime set up before TensorFlow is imported)
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare_model_garden as compare  # noqa: E402  pylint: disable=wrong-import-position
import twins  # noqa: E402  pylint: disable=wrong-import-position

STAGES = ("shared layers", "+ proposals", "+ box ROI align", "+ box head", "+ detections",
          "= whole model")


def _shared_outputs(model, images):
  """The decoder features and the RPN scores and boxes, in inference mode."""
  features = model.decoder(model.backbone(images, training=False), training=False)
  scores, boxes = model.rpn_head(features, training=False)
  return features, scores, boxes


def nested_stages(model) -> Dict[str, Callable]:
  """{stage: tf.function(images, labels)}: the model's layers up to each stage of STAGES."""

  def shared(images, labels):
    del labels
    return _shared_outputs(model, images)

  def proposals(images, labels):
    features, scores, boxes = shared(images, labels)
    rois, _ = model.roi_generator(boxes, scores, labels["anchor_boxes"],
                                  labels["image_info"][:, 1, :], training=False)
    return features, rois

  def box_crops(images, labels):
    features, rois = proposals(images, labels)
    return model.roi_aligner(features, rois, training=False)

  def box_head(images, labels):
    return model.detection_head[0](box_crops(images, labels), training=False)

  def detections(images, labels):
    outputs, _ = model._call_box_outputs(  # pylint: disable=protected-access
        images=images, image_shape=labels["image_info"][:, 1, :],
        anchor_boxes=labels["anchor_boxes"], training=False)
    return outputs["num_detections"], outputs["detection_boxes"]

  def whole(images, labels):
    return model(images, image_shape=labels["image_info"][:, 1, :],
                 anchor_boxes=labels["anchor_boxes"], training=False)

  return {stage: tf.function(function) for stage, function in
          zip(STAGES, (shared, proposals, box_crops, box_head, detections, whole))}


def _flops(function: Callable, *inputs) -> float:
  """Floating-point operations of one call of `function` on these (static-shape) inputs."""
  graph = tf.function(function).get_concrete_function(*inputs).graph
  options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
  options["output"] = "none"
  logger = tf.get_logger()
  level = logger.level
  logger.setLevel("ERROR")  # The profiler logs a deprecation note per call.
  try:
    return float(tf.compat.v1.profiler.profile(graph, options=options).total_float_ops)
  finally:
    logger.setLevel(level)


def _time_ms(function: Callable, rounds: int, calls: int = 10) -> float:
  times = []
  for _ in range(rounds):
    start = time.perf_counter()
    for _ in range(calls):
      output = function()
    _ = tf.nest.flatten(output)[0].numpy()
    times.append((time.perf_counter() - start) / calls * 1e3)
  return compare._median(times)  # pylint: disable=protected-access


def dense_parts(model, images, labels) -> List[tuple]:
  """[(part, GFLOP per batch, ms per batch)] of the shared layers, box head and mask head."""
  outputs = model(images, image_shape=labels["image_info"][:, 1, :],
                  anchor_boxes=labels["anchor_boxes"], training=False)
  features, scores, boxes = _shared_outputs(model, images)
  rois, _ = model.roi_generator(boxes, scores, labels["anchor_boxes"],
                                labels["image_info"][:, 1, :], training=False)
  box_crops = model.roi_aligner(features, rois, training=False)
  detections = int(tf.reduce_sum(outputs["num_detections"]))
  kept = int(tf.reduce_max(outputs["num_detections"]))
  mask_crops = model.mask_roi_aligner(features, outputs["detection_boxes"][:, :kept],
                                      training=False)
  rows = tf.gather_nd(mask_crops, tf.where(tf.sequence_mask(outputs["num_detections"], kept)))
  classes = tf.ones([detections, 1], tf.int32)
  parts = [
      ("shared layers", lambda x: _shared_outputs(model, x), images),
      ("box head on the proposals", lambda x: model.detection_head[0](x, training=False),
       box_crops),
      (f"mask head on the {detections} detections",
       lambda x: model.mask_head([x[:, tf.newaxis], classes], training=False), rows),
  ]
  return [(name, _flops(function, value) / 1e9,
           _time_ms(tf.function(lambda f=function, v=value: f(v)), rounds=5))
          for name, function, value in parts]


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--rounds", type=int, default=5)
  parser.add_argument("--data_dir", default="data/shapes")
  parser.add_argument("--checkpoint", default="runs/shapes_r18_cpu")
  args = parser.parse_args()
  setting = twins.SETTINGS["shapes_2fc"]
  strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
  compare._parse_plugin_gin(setting, args.data_dir)  # pylint: disable=protected-access
  models = {"plugin": compare._plugin_side("plugin", setting, strategy, train=False).model,  # pylint: disable=protected-access
            "Model Garden": compare._model_garden_side(  # pylint: disable=protected-access
                setting, args.data_dir, strategy, train=False).model}
  batches = compare._eval_batches(None)  # pylint: disable=protected-access
  checkpoint = tf.train.latest_checkpoint(args.checkpoint)
  if checkpoint is None:
    sys.exit(twins.missing_inputs_message(args.data_dir, args.checkpoint))
  tf.train.Checkpoint(model=models["plugin"]).restore(checkpoint).expect_partial()
  for model in models.values():  # Builds Model Garden's variables before the copy.
    nested_stages(model)["= whole model"](*batches[0])
  models["Model Garden"].set_weights(models["plugin"].get_weights())
  stages = {name: nested_stages(model) for name, model in models.items()}
  calls = [(name, stage) for name in models for stage in STAGES]
  for name, stage in calls:  # Tracing.
    stages[name][stage](*batches[0])
  times = {call: [] for call in calls}
  for index in range(args.rounds):
    for name, stage in (calls if index % 2 == 0 else list(reversed(calls))):
      start = time.perf_counter()
      for images, labels in batches:
        output = stages[name][stage](images, labels)
      _ = tf.nest.flatten(output)[0].numpy()
      times[(name, stage)].append((time.perf_counter() - start) / len(batches) * 1e3)
    print(f"round {index + 1}/{args.rounds} ({compare._load()})", file=sys.stderr, flush=True)  # pylint: disable=protected-access

  print(f"\n{checkpoint}, {len(batches)} batches of {setting.batch_size} images; ms per batch "
        "(the part's share of the whole model)\n")
  print("| part | " + " | ".join(models) + " |")
  print("|---|" + "---:|" * len(models))
  medians = {call: compare._median(values) for call, values in times.items()}  # pylint: disable=protected-access
  for index, stage in enumerate(STAGES):
    cells = []
    for name in models:
      total = medians[(name, STAGES[-1])]
      part = medians[(name, stage)] - (medians[(name, STAGES[index - 1])] if index else 0.0)
      cells.append(f"{part:.1f} ({part / total:.0%})")
    print(f"| {stage} | " + " | ".join(cells) + " |")
  print("| whole model | " + " | ".join(f"{medians[(name, STAGES[-1])]:.1f}" for name in models)
        + " |")

  print("\nDense parts of the plugin's model, first validation batch:\n")
  print("| part | GFLOP per batch | ms | GFLOP/s |")
  print("|---|---:|---:|---:|")
  for name, gflop, milliseconds in dense_parts(models["plugin"], *batches[0]):
    print(f"| {name} | {gflop:.2f} | {milliseconds:.1f} | {gflop / milliseconds * 1e3:.0f} |")


if __name__ == "__main__":
  main()
