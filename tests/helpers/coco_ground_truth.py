"""A model's own confident detections as COCO ground truth.

An untrained model scores about zero on the real shapes labels; scored
against its own confident detections, two paths that should agree (predict
and the evaluator, ONNX Runtime and TensorFlow, two precisions) both score
high, and every difference between them lowers one of them.
"""

import json

from pycocotools import mask as mask_api


def own_detections_as_ground_truth(annotation_file, results, output, min_score=0.2):
  """A COCO annotation file whose objects are the results scoring above min_score."""
  with open(annotation_file, encoding="utf-8") as file:
    dataset = json.load(file)
  objects = []
  for result in results:
    area = float(mask_api.area(result["segmentation"]))
    if result["score"] > min_score and area > 0:
      objects.append({"id": len(objects) + 1, "image_id": result["image_id"],
                      "category_id": result["category_id"], "bbox": result["bbox"],
                      "segmentation": result["segmentation"], "area": area, "iscrowd": 0})
  dataset["annotations"] = objects
  with open(output, "w", encoding="utf-8") as file:
    json.dump(dataset, file)
  return len(objects)
