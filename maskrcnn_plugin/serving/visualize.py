"""Pictures of detections: masks, boxes, class names and scores on the image.

Drawing is Model Garden's `visualization_utils.
visualize_boxes_and_labels_on_image_array` (the Object Detection API's
drawing), given pixel boxes and full-image masks.
"""

from typing import Mapping, Optional

import numpy as np

from official.vision.utils.object_detection import visualization_utils


def draw_detections(image: np.ndarray, detections: Mapping[str, np.ndarray],
                    category_names: Mapping[int, str], score_threshold: float,
                    show_scores: bool = True) -> np.ndarray:
  """Returns a copy of `image` with the detections above `score_threshold` drawn.

  Args:
    image: uint8 [height, width, 3].
    detections: boxes [N, 4] (ymin, xmin, ymax, xmax) pixels, classes [N],
      scores [N], masks [N, height, width] (optional).
    category_names: {class id: name}; unnamed ids are drawn as 'class <id>'.
    score_threshold: Detections scoring at or below it are not drawn.
    show_scores: Write the score beside the class name (not for ground truth).
  """
  classes = detections["classes"].astype(np.int64)
  category_index = {int(c): {"id": int(c), "name": category_names.get(int(c), f"class {c}")}
                    for c in np.unique(classes)}
  # Lines and labels scale with the image: 1 px at 128 px, 4 px at 640 px.
  thickness = max(1, round(min(image.shape[:2]) / 160))
  return visualization_utils.visualize_boxes_and_labels_on_image_array(
      np.array(image, dtype=np.uint8, copy=True),
      detections["boxes"],
      classes,
      detections["scores"],
      category_index,
      instance_masks=(None if detections.get("masks") is None
                      else (detections["masks"] > 0.5).astype(np.uint8)),
      use_normalized_coordinates=False,
      max_boxes_to_draw=None,
      min_score_thresh=score_threshold,
      line_thickness=thickness,
      skip_scores=not show_scores)


def draw_ground_truth(image: np.ndarray, boxes: np.ndarray, classes: np.ndarray,
                      masks: Optional[np.ndarray],
                      category_names: Mapping[int, str]) -> np.ndarray:
  """Returns a copy of `image` with ground-truth instances drawn (no scores).

  Args:
    image: uint8 [height, width, 3].
    boxes: [N, 4] (ymin, xmin, ymax, xmax) pixels.
    classes: [N] class ids.
    masks: [N, height, width] (values > 0.5 are inside), or None.
    category_names: {class id: name}.
  """
  return draw_detections(image, {"boxes": boxes, "classes": classes,
                                 "scores": np.ones(len(classes), np.float32), "masks": masks},
                         category_names, 0.0, show_scores=False)
