"""COCO results files: writing detections, naming images, scoring with pycocotools.

A results file is the JSON list pycocotools' `COCO.loadRes` reads: one entry
per detection with image_id, category_id, bbox [x, y, width, height] in
pixels, score and an RLE `segmentation`. `evaluate_results` scores one as
Model Garden's COCOEvaluator scores its predictions (same loader
`coco_utils.COCOWrapper`, so detection areas come from the masks) and names
the metrics as `maskrcnn train` writes them to eval/metrics_<step>.json:
box/AP, box/AP50, ..., box/ARl and mask/AP, ..., mask/ARl.
"""

import contextlib
import io
import json
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np
from pycocotools import cocoeval
from pycocotools import mask as mask_api

from official.vision.evaluation import coco_utils

from maskrcnn_plugin.errors import UserError

# The order of pycocotools' COCOeval.stats.
COCO_STATS_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs",
                    "ARm", "ARl")


class ResultsFileError(UserError):
  """An annotation or results file is missing, unreadable or inconsistent."""


def detections_to_coco(image_id: Any, detections: Mapping[str, np.ndarray]) -> List[Dict]:
  """COCO result entries of one image's detections.

  Args:
    image_id: The COCO image id.
    detections: boxes [N, 4] (ymin, xmin, ymax, xmax) pixels, classes [N],
      scores [N], masks [N, height, width] (binary, or probabilities cut at 0.5).
  """
  masks = np.asfortranarray(np.transpose(detections["masks"] > 0.5, (1, 2, 0)).astype(np.uint8))
  encoded = mask_api.encode(masks) if len(detections["scores"]) else []
  results = []
  for box, category, score, rle in zip(detections["boxes"], detections["classes"],
                                       detections["scores"], encoded):
    ymin, xmin, ymax, xmax = (float(v) for v in box)
    results.append({
        "image_id": image_id,
        "category_id": int(category),
        "bbox": [xmin, ymin, xmax - xmin, ymax - ymin],
        "score": float(score),
        "segmentation": {"size": [int(s) for s in rle["size"]],
                         "counts": rle["counts"].decode("ascii")},
    })
  return results


def load_json(path: str, what: str) -> Any:
  """Reads a JSON file; a missing or malformed file is a ResultsFileError."""
  if not os.path.isfile(path):
    raise ResultsFileError(f"{what} {path} does not exist.")
  try:
    with open(path, encoding="utf-8") as file:
      return json.load(file)
  except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
    raise ResultsFileError(f"{what} {path} is not a readable JSON file: {error}") from error


class AnnotationIndex:
  """Image ids and category names of a COCO annotation file."""

  def __init__(self, path: str):
    dataset = load_json(path, "Annotation file")
    if not isinstance(dataset, dict) or "images" not in dataset:
      raise ResultsFileError(f"Annotation file {path} is not a COCO annotation file "
                             "(it has no 'images' list).")
    self.path = path
    self._ids = {}
    for image in dataset["images"]:
      self._ids.setdefault(os.path.basename(image.get("file_name", "")), image["id"])
    self.category_names = {c["id"]: c["name"] for c in dataset.get("categories", [])}

  def image_id(self, file_path: str) -> Optional[Any]:
    """The id of the image whose file_name has `file_path`'s base name, or None."""
    return self._ids.get(os.path.basename(file_path))


def image_id_from_file_name(file_path: str) -> Any:
  """An image id from a file name: its number (COCO's '000000139.jpg' -> 139) or its stem."""
  stem = os.path.splitext(os.path.basename(file_path))[0]
  return int(stem) if stem.isdigit() else stem


def evaluate_results(annotation_file: str, results: Sequence[Dict]) -> Dict[str, float]:
  """COCO box (and, when results have masks, mask) metrics of `results`.

  Every image of the annotation file is evaluated (an image without results
  counts as all missed), with up to 100 detections per image.

  Returns:
    {'box/AP': value, ...} for COCO_STATS_NAMES, and 'mask/AP', ... when the
    results have masks.

  Raises:
    ResultsFileError: empty results, or image ids the annotation file lacks.
  """
  _check_results(results)
  with_masks = all("segmentation" in r for r in results)
  # pycocotools prints progress and its own summary; callers print the table.
  with contextlib.redirect_stdout(io.StringIO()):
    ground_truth = coco_utils.COCOWrapper(eval_type="mask" if with_masks else "box",
                                          annotation_file=annotation_file)
    unknown = {r["image_id"] for r in results} - set(ground_truth.getImgIds())
    if unknown:
      raise ResultsFileError(
          f"{len(unknown)} image id(s) of the results are not in {annotation_file}, e.g. "
          f"{', '.join(repr(i) for i in sorted(unknown, key=str)[:5])}. Run predict with "
          f"--annotations={annotation_file} so that image ids come from it.")
    # Numbered from 1 as the evaluator numbers its predictions.
    detections = ground_truth.loadRes(
        predictions=[dict(r, id=i) for i, r in enumerate(results, start=1)])
    metrics = {}
    for iou_type, kind in (("bbox", "box"), ("segm", "mask")) if with_masks else (("bbox", "box"),):
      evaluator = cocoeval.COCOeval(ground_truth, detections, iouType=iou_type)
      evaluator.evaluate()
      evaluator.accumulate()
      evaluator.summarize()
      metrics.update({f"{kind}/{name}": float(value)
                      for name, value in zip(COCO_STATS_NAMES, evaluator.stats)})
  return metrics


def _check_results(results: Any) -> None:
  if not isinstance(results, list):
    raise ResultsFileError("A results file must hold a JSON list of detections.")
  if not results:
    raise ResultsFileError("The results file has no detections; nothing to evaluate.")
  for index, entry in enumerate(results):
    missing = [k for k in ("image_id", "category_id", "bbox", "score")
               if not isinstance(entry, dict) or k not in entry]
    if missing:
      raise ResultsFileError(f"Detection {index} of the results file lacks "
                             f"{', '.join(missing)}.")


def format_metrics(metrics: Mapping[str, float]) -> str:
  """A table: one row per metric, columns box and mask."""
  kinds = [kind for kind in ("box", "mask") if f"{kind}/AP" in metrics]
  lines = [f"{'metric':<8}" + "".join(f"{kind:>8}" for kind in kinds)]
  for name in COCO_STATS_NAMES:
    lines.append(f"{name:<8}" + "".join(f"{metrics[f'{kind}/{name}']:>8.4f}" for kind in kinds))
  return "\n".join(lines)
