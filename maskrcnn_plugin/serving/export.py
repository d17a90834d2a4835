"""Writing a SavedModel with a `serving_default` signature.

The SavedModel holds the serving module's signatures (`serving_default`, and
`serving_padded` for image_tensor exports; see detection.py), each traced once.
The run's gin files and an `export_info.json` (input type, batch size, mask
output, image size, checkpoint) are attached as SavedModel assets, so they
travel with it and land in `OUTPUT/assets/`.
"""

import json
import os
import tempfile
from typing import Any, Dict, Optional, Sequence

import tensorflow as tf

from maskrcnn_plugin.errors import UserError
from maskrcnn_plugin.serving.detection import DetectionExportModule
from maskrcnn_plugin.serving.restore import ModelNotFoundError

EXPORT_INFO_FILE = "export_info.json"


def export_saved_model(module: DetectionExportModule, output_dir: str, *,
                       config_files: Sequence[str] = (),
                       info: Optional[Dict[str, Any]] = None,
                       overwrite: bool = False) -> str:
  """Saves `module` with its `serving_default` signature to `output_dir`.

  Args:
    module: The serving module (its model holds the weights to export).
    output_dir: The SavedModel folder to create.
    config_files: Files (the run's gin configs) copied into its assets.
    info: Extra entries of export_info.json.
    overwrite: Replace an existing SavedModel in output_dir.

  Returns:
    output_dir.

  Raises:
    UserError: output_dir already holds files and overwrite is False.
  """
  check_output_dir(output_dir, overwrite=overwrite)
  with tempfile.TemporaryDirectory() as scratch:
    info_path = os.path.join(scratch, EXPORT_INFO_FILE)
    with open(info_path, "w", encoding="utf-8") as file:
      json.dump({"input_type": module.input_type, "batch_size": module.batch_size,
                 "mask_output": module.mask_output, "image_size": list(module.image_size),
                 **(info or {})}, file, indent=2)
    # Tracked assets are copied into output_dir/assets by tf.saved_model.save.
    module.export_assets = [tf.saved_model.Asset(p) for p in (*config_files, info_path)]
    # Model Garden's export_base.export saves one signature; this saves all of them.
    tf.saved_model.save(module, output_dir, signatures=module.signatures())
  return output_dir


def check_output_dir(output_dir: str, *, overwrite: bool = False) -> None:
  """Raises UserError if output_dir holds files and overwrite is False."""
  if tf.io.gfile.exists(output_dir) and tf.io.gfile.listdir(output_dir) and not overwrite:
    raise UserError(f"--output {output_dir} already exists and is not empty; choose a new "
                    "folder or pass --overwrite.")


def read_export_info(saved_model_dir: str) -> Dict[str, Any]:
  """The export_info.json of a SavedModel written by `export_saved_model`.

  Raises:
    ModelNotFoundError: the folder is not a SavedModel written by `maskrcnn export`.
  """
  if not tf.io.gfile.exists(os.path.join(saved_model_dir, "saved_model.pb")):
    raise ModelNotFoundError(f"--saved_model {saved_model_dir} is not a SavedModel folder "
                             "(it has no saved_model.pb).")
  info_path = os.path.join(saved_model_dir, "assets", EXPORT_INFO_FILE)
  if not tf.io.gfile.exists(info_path):
    raise ModelNotFoundError(
        f"SavedModel {saved_model_dir} was not written by `maskrcnn export` (it has no "
        f"assets/{EXPORT_INFO_FILE}); export the training folder with `maskrcnn export`.")
  with tf.io.gfile.GFile(info_path) as file:
    return json.load(file)
