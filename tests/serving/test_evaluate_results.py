"""`maskrcnn evaluate-results`: COCO metrics of a results file, as pycocotools gives them."""

import contextlib
import io
import json

import numpy as np
from pycocotools import coco, cocoeval
from pycocotools import mask as mask_api
import pytest

from maskrcnn_plugin.cli.main import main as cli_main
from maskrcnn_plugin.serving.coco_results import COCO_STATS_NAMES, evaluate_results


def rle(mask):
  encoded = mask_api.encode(np.asfortranarray(mask.astype(np.uint8)))
  return {"size": encoded["size"], "counts": encoded["counts"].decode("ascii")}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
  """Ground truth of 3 images and noisy detections of it (plus false positives)."""
  rng = np.random.default_rng(3)
  folder = tmp_path_factory.mktemp("coco")
  images, annotations, results = [], [], []
  for image_id in range(1, 4):
    height, width = 80 + 10 * image_id, 100
    images.append({"id": image_id, "file_name": f"{image_id}.png", "height": height,
                   "width": width})
    for _ in range(4):
      y, x = rng.integers(0, height - 30), rng.integers(0, width - 30)
      size = int(rng.integers(8, 30))
      mask = np.zeros((height, width), bool)
      mask[y:y + size, x:x + size] = True
      category = int(rng.integers(1, 3))
      annotations.append({"id": len(annotations) + 1, "image_id": image_id,
                          "category_id": category, "bbox": [int(x), int(y), size, size],
                          "area": int(mask.sum()), "iscrowd": 0, "segmentation": rle(mask)})
      shift = int(rng.integers(-3, 4))
      detected = np.roll(mask, shift, axis=1)
      results.append({"image_id": image_id, "category_id": category,
                      "bbox": [float(x + shift), float(y), float(size), float(size)],
                      "score": float(rng.uniform(0.3, 1.0)), "segmentation": rle(detected)})
    results.append({"image_id": image_id, "category_id": 1, "bbox": [0.0, 0.0, 20.0, 20.0],
                    "score": 0.9, "segmentation": rle(np.pad(np.ones((20, 20), bool),
                                                             ((0, height - 20), (0, 80))))})
  ground_truth = {"images": images, "annotations": annotations,
                  "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]}
  annotation_file = folder / "gt.json"
  annotation_file.write_text(json.dumps(ground_truth))
  results_file = folder / "results.json"
  results_file.write_text(json.dumps(results))
  return str(annotation_file), str(results_file), results


def direct_pycocotools(annotation_file, results):
  """pycocotools alone, with detection areas from the masks as Model Garden's evaluator."""
  with contextlib.redirect_stdout(io.StringIO()):
    ground_truth = coco.COCO(annotation_file)
    detections = ground_truth.loadRes([dict(r) for r in results])
    for annotation in detections.dataset["annotations"]:
      annotation["area"] = float(mask_api.area(annotation["segmentation"]))
    metrics = {}
    for iou_type, kind in (("bbox", "box"), ("segm", "mask")):
      evaluator = cocoeval.COCOeval(ground_truth, detections, iouType=iou_type)
      evaluator.evaluate()
      evaluator.accumulate()
      evaluator.summarize()
      metrics.update({f"{kind}/{n}": float(v) for n, v in zip(COCO_STATS_NAMES, evaluator.stats)})
  return metrics


def test_metrics_equal_direct_pycocotools(dataset):
  annotation_file, _, results = dataset
  metrics = evaluate_results(annotation_file, results)
  expected = direct_pycocotools(annotation_file, results)
  assert metrics == pytest.approx(expected, abs=1e-12)
  assert 0.2 < metrics["box/AP"] < 0.95 and 0.2 < metrics["mask/AP"] < 0.95


def test_cli_prints_a_table_and_json(capsys, dataset):
  annotation_file, results_file, results = dataset
  expected = direct_pycocotools(annotation_file, results)
  assert cli_main(["evaluate-results", f"--annotations={annotation_file}",
                   f"--results={results_file}"]) == 0
  table = capsys.readouterr().out.splitlines()
  assert table[0].split() == ["metric", "box", "mask"] and len(table) == 13
  assert table[1].split() == ["AP", f"{expected['box/AP']:.4f}", f"{expected['mask/AP']:.4f}"]
  assert cli_main(["evaluate-results", f"--annotations={annotation_file}",
                   f"--results={results_file}", "--json"]) == 0
  assert json.loads(capsys.readouterr().out) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("content, message", [
    ("[]", "has no detections"),
    ("{not json", "is not a readable JSON file"),
    ('[{"image_id": 99, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}]',
     "1 image id(s) of the results are not in"),
    ('[{"image_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}]', "Detection 0 of the results file "
                                                              "lacks category_id"),
])
def test_bad_results_files_are_one_clear_message(capsys, dataset, tmp_path, content, message):
  annotation_file = dataset[0]
  results_file = tmp_path / "bad.json"
  results_file.write_text(content)
  code = cli_main(["evaluate-results", f"--annotations={annotation_file}",
                   f"--results={results_file}"])
  err = capsys.readouterr().err
  assert code == 2 and message in err and "Traceback" not in err


def test_missing_annotation_file(capsys, dataset, tmp_path):
  code = cli_main(["evaluate-results", f"--annotations={tmp_path}/gt.json",
                   f"--results={dataset[1]}"])
  assert code == 2
  assert f"Annotation file {tmp_path}/gt.json does not exist." in capsys.readouterr().err
