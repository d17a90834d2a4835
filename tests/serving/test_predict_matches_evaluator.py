"""End to end: `maskrcnn predict` results score, with pycocotools, what
`maskrcnn train --mode=eval` (Model Garden's COCO evaluator on the TFRecords)
reports for the same checkpoint.

An untrained model scores about zero on the real shapes labels, which would
make the comparison empty; so the ground truth here is the model's own
confident detections on the validation images. Both paths then score high,
and every difference in boxes, classes, masks (pasting), image ids or metric
definitions between predict and the evaluator lowers one of them.
"""

import json
import os
import shutil

import pytest

from maskrcnn_plugin.cli.main import main as cli_main
from maskrcnn_plugin.serving.coco_results import evaluate_results

from helpers.coco_ground_truth import own_detections_as_ground_truth


def test_predict_results_score_what_the_evaluator_reports(model_dir, tmp_path):
  data = tmp_path / "shapes"
  assert cli_main(["data", "make-shapes", f"--output={data}", "--train=2", "--val=16",
                   "--train-shards=1", "--val-shards=1"]) == 0
  run = tmp_path / "run"
  shutil.copytree(model_dir, run)  # the shared folder stays untouched

  predictions = tmp_path / "predict"
  assert cli_main(["predict", f"--model_dir={run}", f"--images={data}/images/val/*.png",
                   f"--annotations={data}/instances_val.json", f"--output={predictions}"]) == 0
  with open(predictions / "coco_results.json", encoding="utf-8") as file:
    results = json.load(file)
  ground_truth = tmp_path / "ground_truth.json"
  assert own_detections_as_ground_truth(data / "instances_val.json", results, ground_truth) >= 16

  # predict builds the model in float32; so does this evaluation, on any CPU.
  params = [f"SHAPES_DIR = '{data}'", f"evaluation.coco_metric.annotation_file = '{ground_truth}'",
            "runtime.mixed_precision = 'float32'"]
  assert cli_main(["train", "--gin_file=maskrcnn_shapes_r18_cpu", f"--model_dir={run}",
                   "--mode=eval", *[f"--gin_param={p}" for p in params]]) == 0
  with open(run / "eval" / "metrics_0.json", encoding="utf-8") as file:
    reported = json.load(file)

  metrics = evaluate_results(str(ground_truth), results)
  assert set(metrics) <= set(reported)
  assert metrics["box/AP"] > 0.5 and metrics["mask/AP"] > 0.5
  for name, value in metrics.items():
    assert value == pytest.approx(reported[name], abs=0.01), name
