"""`maskrcnn export`: the SavedModel reproduces the in-process model."""

import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from official.vision.ops import mask_ops, preprocess_ops

from maskrcnn_plugin.cli.main import main as cli_main
from maskrcnn_plugin.serving.detection import DetectionExportModule

from helpers.run_folders import export


def reference_detections(run, pixels):
  """Model Garden's own eval path: its preprocessing, the model, the evaluator's mask pasting."""
  height, width = pixels.shape[:2]
  max_level = run.model.get_config()["max_level"]
  image = preprocess_ops.normalize_image(tf.cast(pixels, tf.float32),
                                         offset=preprocess_ops.MEAN_RGB,
                                         scale=preprocess_ops.STDDEV_RGB)
  image, info = preprocess_ops.resize_and_crop_image(
      image, run.image_size,
      padded_size=preprocess_ops.compute_padded_size(run.image_size, 2**max_level),
      aug_scale_min=1.0, aug_scale_max=1.0)
  outputs = run.model(image[tf.newaxis], image_shape=info[1:2], training=False)
  count = int(outputs["num_detections"][0])
  boxes = (outputs["detection_boxes"][0, :count] / tf.tile(info[2:3], [1, 2])).numpy()
  xywh = np.stack([boxes[:, 1], boxes[:, 0], boxes[:, 3] - boxes[:, 1],
                   boxes[:, 2] - boxes[:, 0]], axis=-1)
  masks = mask_ops.paste_instance_masks(outputs["detection_masks"][0, :count].numpy(), xywh,
                                        height, width)
  return {"boxes": boxes, "classes": outputs["detection_classes"][0, :count].numpy(),
          "masks": masks}


def assert_same_detections(outputs, index, reference):
  count = int(outputs["num_detections"][index])
  assert count == len(reference["classes"]) > 0
  np.testing.assert_array_equal(outputs["detection_classes"][index, :count], reference["classes"])
  np.testing.assert_allclose(outputs["detection_boxes"][index, :count], reference["boxes"],
                             atol=1.0)
  masks = np.asarray(outputs["detection_masks"][index, :count]) > 0.5
  assert masks.shape[1:] == reference["masks"].shape[1:]
  for exported, expected in zip(masks, reference["masks"] > 0):
    union = np.logical_or(exported, expected).sum()
    if union:
      assert np.logical_and(exported, expected).sum() / union >= 0.99


@pytest.mark.smoke
def test_reloaded_savedmodel_matches_in_process_model(saved_model, restored, image_files):
  serve = tf.saved_model.load(saved_model).signatures["serving_default"]
  for _, pixels in image_files:
    outputs = serve(inputs=tf.constant(pixels[np.newaxis]))
    assert outputs["detection_masks"].dtype == tf.uint8
    assert set(np.unique(outputs["detection_masks"].numpy())) <= {0, 1}
    assert_same_detections(outputs, 0, reference_detections(restored, pixels))


def test_config_and_export_info_travel_with_the_savedmodel(saved_model, model_dir):
  assets = os.path.join(saved_model, "assets")
  with open(os.path.join(assets, "config.gin"), encoding="utf-8") as file:
    exported_config = file.read()
  with open(os.path.join(model_dir, "config.gin"), encoding="utf-8") as file:
    assert exported_config == file.read()
  with open(os.path.join(assets, "export_info.json"), encoding="utf-8") as file:
    info = json.load(file)
  assert info["input_type"] == "image_tensor" and info["batch_size"] is None
  assert info["image_size"] == [128, 128] and info["mask_output"] == "binary"
  assert info["checkpoint"].endswith("ckpt-1")


@pytest.mark.parametrize("input_type", ["encoded_image", "tf_example"])
def test_string_input_types(input_type, model_dir, restored, image_files, tmp_path):
  saved = export(model_dir, str(tmp_path / input_type), f"--input_type={input_type}",
                 "--batch_size=2")
  serve = tf.saved_model.load(saved).signatures["serving_default"]
  assert serve.structured_input_signature[1]["inputs"].shape.as_list() == [2]
  # Two different files of one size in one batch.
  (path, pixels), flipped = image_files[0], np.ascontiguousarray(image_files[0][1][:, ::-1])
  encoded = [open(path, "rb").read(), tf.io.encode_png(flipped).numpy()]
  if input_type == "tf_example":
    encoded = [tf.train.Example(features=tf.train.Features(feature={
        "image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=[e]))}))
               .SerializeToString() for e in encoded]
  outputs = serve(inputs=tf.constant(encoded))
  for index, image in enumerate((pixels, flipped)):
    assert_same_detections(outputs, index, reference_detections(restored, image))


def test_probability_masks_threshold_to_the_evaluator_masks(restored, image_files):
  _, pixels = image_files[1]
  module = DetectionExportModule(restored.model, image_size=restored.image_size,
                                 mask_output="probabilities")
  outputs = module.serving_function()(inputs=tf.constant(pixels[np.newaxis]))
  masks = outputs["detection_masks"].numpy()
  assert masks.dtype == np.float32 and masks.min() >= 0.0 and masks.max() <= 1.0
  assert np.any((masks > 0.0) & (masks < 1.0))  # probabilities, not 0/1
  assert_same_detections(outputs, 0, reference_detections(restored, pixels))


def run_cli(capsys, *argv):
  code = cli_main(list(argv))
  captured = capsys.readouterr()
  return code, captured.out + captured.err


def test_missing_model_dir_is_one_clear_message(capsys, tmp_path):
  code, output = run_cli(capsys, "export", f"--model_dir={tmp_path / 'nope'}",
                         f"--output={tmp_path / 'out'}")
  assert code == 2
  assert output.strip() == f"maskrcnn export: error: --model_dir {tmp_path / 'nope'} does not exist."


def test_model_dir_without_checkpoint_is_one_clear_message(capsys, tmp_path, model_dir):
  empty_run = tmp_path / "run"
  empty_run.mkdir()
  (empty_run / "config.gin").write_text(open(os.path.join(model_dir, "config.gin")).read())
  code, output = run_cli(capsys, "export", f"--model_dir={empty_run}",
                         f"--output={tmp_path / 'out'}")
  assert code == 2 and "Traceback" not in output
  assert f"No checkpoint in model_dir {empty_run}" in output
  assert len(output.strip().splitlines()) == 1


def test_folder_without_config_is_not_a_training_folder(capsys, tmp_path):
  code, output = run_cli(capsys, "export", f"--model_dir={tmp_path}", f"--output={tmp_path / 'o'}")
  assert code == 2 and "has no config.gin" in output


def test_wrong_checkpoint_prefix_names_the_index_file(capsys, tmp_path, model_dir):
  code, output = run_cli(capsys, "export", f"--model_dir={model_dir}",
                         f"--checkpoint={model_dir}/ckpt-99", f"--output={tmp_path / 'o'}")
  assert code == 2 and f"{model_dir}/ckpt-99.index does not exist" in output


def test_existing_output_is_not_overwritten(capsys, tmp_path, model_dir):
  (tmp_path / "keep.txt").write_text("precious")
  code, output = run_cli(capsys, "export", f"--model_dir={model_dir}", f"--output={tmp_path}")
  assert code == 2 and "--overwrite" in output
  assert (tmp_path / "keep.txt").read_text() == "precious"


def test_checkpoint_of_another_architecture_is_one_clear_message(capsys, tmp_path, model_dir):
  run = tmp_path / "run"
  shutil.copytree(model_dir, run)
  config = (run / "config.gin").read_text()
  assert "\nfpn.num_filters = 64\n" in config  # gin writes short names
  (run / "config.gin").write_text(config.replace("\nfpn.num_filters = 64\n",
                                                 "\nfpn.num_filters = 32\n"))
  code, output = run_cli(capsys, "export", f"--model_dir={run}", f"--output={tmp_path / 'o'}")
  assert code == 2 and "Traceback" not in output
  assert f"does not fit the model that {run / 'config.gin'} builds" in output
