"""`maskrcnn export --format=onnx` and `predict --onnx`: ONNX Runtime gives the
SavedModel's detections.

The model is the shared untrained shapes model: a 40-step training run gave
saturated scores (1.0) and zero-area boxes, whose order among ties differs
between runtimes. With MASKRCNN_ONNX_TRAINED_RUN=DIR (a training folder of the
shapes config, e.g. the demo's runs/shapes_r18_cpu) the parity test runs on
that trained model instead.

Skipped unless the optional onnx extra (tf2onnx, onnxruntime) is installed.
"""

import json
import os

import numpy as np
from pycocotools import mask as mask_api
import pytest

from maskrcnn_plugin.cli.main import main as cli_main
from maskrcnn_plugin.serving.coco_results import evaluate_results

from helpers.coco_ground_truth import own_detections_as_ground_truth
from helpers.run_folders import export

pytest.importorskip("tf2onnx")
pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def shapes_data(tmp_path_factory):
  """A shapes validation split of 8 images with COCO annotations."""
  data = tmp_path_factory.mktemp("shapes")
  assert cli_main(["data", "make-shapes", f"--output={data}", "--train=1", "--val=8",
                   "--train-shards=1", "--val-shards=1"]) == 0
  return data


@pytest.fixture(scope="module")
def parity_model(request, tmp_path_factory):
  """(training folder, its SavedModel): MASKRCNN_ONNX_TRAINED_RUN's, else the untrained one."""
  trained = os.environ.get("MASKRCNN_ONNX_TRAINED_RUN")
  if not trained:
    return request.getfixturevalue("model_dir"), request.getfixturevalue("saved_model")
  return trained, export(trained, str(tmp_path_factory.mktemp("trained") / "saved_model"))


def predict(output, *flags):
  assert cli_main(["predict", f"--output={output}", "--score_threshold=0.3", *flags]) == 0
  return json.loads((output / "coco_results.json").read_text())


def test_onnx_runtime_matches_the_savedmodel(parity_model, shapes_data, tmp_path, capsys):
  (run, saved), data = parity_model, shapes_data
  onnx_file = tmp_path / "shapes.onnx"
  assert cli_main(["export", f"--model_dir={run}", f"--output={onnx_file}",
                   "--format=onnx"]) == 0
  assert "checked in ONNX Runtime" in capsys.readouterr().out
  images = f"--images={data}/images/val/*.png"
  annotations = f"--annotations={data}/instances_val.json"
  reference = predict(tmp_path / "tf", f"--saved_model={saved}", images, annotations)
  results = predict(tmp_path / "onnx", f"--onnx={onnx_file}", images, annotations,
                    "--batch_size=4")
  out = capsys.readouterr().out
  assert "Predicted 8 image(s)" in out and "batch 4: first call" in out

  assert len(results) == len(reference) > 0
  key = lambda r: (r["image_id"], -r["score"])  # pylint: disable=unnecessary-lambda-assignment
  for got, want in zip(sorted(results, key=key), sorted(reference, key=key)):
    assert (got["image_id"], got["category_id"]) == (want["image_id"], want["category_id"])
    np.testing.assert_allclose(got["bbox"], want["bbox"], atol=1.0)
    assert got["score"] == pytest.approx(want["score"], abs=1e-3)
    iou = mask_api.iou([got["segmentation"]], [want["segmentation"]], [0])[0, 0]
    assert iou >= 0.98 or mask_api.area(want["segmentation"]) == 0

  # AP against the shapes labels, and against the SavedModel's confident detections
  # (AP near 1, so that every difference counts).
  ground_truth = tmp_path / "own.json"
  assert own_detections_as_ground_truth(data / "instances_val.json", reference, ground_truth)
  for annotation_file in (str(data / "instances_val.json"), str(ground_truth)):
    want, got = (evaluate_results(annotation_file, r) for r in (reference, results))
    for name in ("box/AP", "mask/AP"):
      assert got[name] == pytest.approx(want[name], abs=0.005), (annotation_file, name)
  assert want["mask/AP"] > 0.5


def test_onnx_export_refuses_encoded_inputs_and_existing_files(model_dir, tmp_path, capsys):
  run = model_dir
  code = cli_main(["export", f"--model_dir={run}", f"--output={tmp_path / 'm.onnx'}",
                   "--format=onnx", "--input_type=encoded_image"])
  assert code == 2
  assert capsys.readouterr().err.startswith(
      "maskrcnn export: error: --format=onnx takes image tensors only")
  (tmp_path / "m.onnx").write_bytes(b"")
  code = cli_main(["export", f"--model_dir={run}", f"--output={tmp_path / 'm.onnx'}",
                   "--format=onnx"])
  assert code == 2 and "already exists" in capsys.readouterr().err


def test_predict_on_a_file_that_is_not_an_onnx_model(tmp_path, capsys):
  bad = tmp_path / "bad.onnx"
  bad.write_bytes(b"not a model")
  (tmp_path / "a.png").write_bytes(b"")
  code = cli_main(["predict", f"--onnx={bad}", f"--images={tmp_path}/*.png",
                   f"--output={tmp_path / 'out'}"])
  err = capsys.readouterr().err
  assert code == 2 and err.startswith(f"maskrcnn predict: error: ONNX Runtime cannot load --onnx "
                                      f"{bad}:")
  assert len(err.strip().splitlines()) == 1
