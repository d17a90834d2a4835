"""Export and inference: SavedModels, predictions on image files, COCO results.

- detection.DetectionExportModule: the serving module (Model Garden's
  DetectionModule plus boxes in image pixels and full-image masks).
- export.export_saved_model: writes the SavedModel and its assets.
- restore.restore_run: rebuilds a training folder's model with its weights.
- predictor.Predictor, predict.predict_images: `maskrcnn predict`.
- coco_results: results JSON entries and their COCO metrics.
"""
