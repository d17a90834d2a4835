"""`maskrcnn predict --batch_size N`: images of different sizes in one call give
the detections they get one at a time."""

import json
import shutil

import numpy as np
from PIL import Image
from pycocotools import mask as mask_api
import pytest

from maskrcnn_plugin.cli.main import main as cli_main

from helpers.run_folders import export


def predict(capsys, output, *flags):
  """Runs `maskrcnn predict`; returns (results by (image_id, rank), stdout, stderr)."""
  code = cli_main(["predict", f"--output={output}", "--score_threshold=0.0", *flags])
  captured = capsys.readouterr()
  assert code == 0, captured.err
  results = json.loads((output / "coco_results.json").read_text())
  return results, captured.out, captured.err


def assert_same_results(results, reference):
  """Same detections image by image: classes, boxes, scores and masks."""
  assert len(results) == len(reference) > 0
  for got, want in zip(sorted(results, key=lambda r: (r["image_id"], -r["score"])),
                       sorted(reference, key=lambda r: (r["image_id"], -r["score"]))):
    assert (got["image_id"], got["category_id"]) == (want["image_id"], want["category_id"])
    np.testing.assert_allclose(got["bbox"], want["bbox"], atol=1e-3)
    assert got["score"] == pytest.approx(want["score"], abs=1e-5)
    got_mask, want_mask = (mask_api.decode(r["segmentation"]) for r in (got, want))
    assert got_mask.shape == want_mask.shape
    assert np.sum(got_mask != want_mask) <= 2  # float rounding at the 0.5 threshold


@pytest.fixture(scope="module")
def batch_one_results(saved_model, image_folder_once, tmp_path_factory):
  """The reference: the dynamic-batch SavedModel, one image per call."""
  output = tmp_path_factory.mktemp("batch1")
  code = cli_main(["predict", f"--saved_model={saved_model}", f"--images={image_folder_once}/*",
                   f"--output={output}", "--score_threshold=0.0"])
  assert code == 0
  return json.loads((output / "coco_results.json").read_text())


@pytest.fixture(scope="module")
def image_folder_once(image_files, tmp_path_factory):
  """The four test images of different sizes and one corrupt file."""
  folder = tmp_path_factory.mktemp("batch_images")
  for path, _ in image_files:
    shutil.copy(path, folder)
  (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not a PNG")
  return folder


def test_savedmodel_batches_of_different_sizes_match_batch_one(
    capsys, saved_model, image_folder_once, batch_one_results, image_files, tmp_path):
  results, out, err = predict(capsys, tmp_path / "out", f"--saved_model={saved_model}",
                              f"--images={image_folder_once}/*", "--batch_size=3")
  assert_same_results(results, batch_one_results)
  assert "Skipped" in err and "broken.png" in err
  assert "Predicted 4 image(s)" in out
  assert "batch 3: first call" in out and "images/s over 1 image(s)" in out
  assert "imports" in out and "model load" in out
  for index, (_, pixels) in enumerate(image_files):  # pictures keep each image's own size
    assert np.asarray(Image.open(tmp_path / "out" / f"{index:06d}.png")).shape == pixels.shape


def test_model_dir_batches_match_batch_one(capsys, model_dir, image_folder_once,
                                           batch_one_results, tmp_path):
  results, _, _ = predict(capsys, tmp_path / "out", f"--model_dir={model_dir}",
                          f"--images={image_folder_once}/*", "--batch_size=4")
  assert_same_results(results, batch_one_results)


def test_fixed_batch_export_fills_the_last_batch(capsys, model_dir, image_folder_once,
                                                 batch_one_results, tmp_path):
  saved = export(model_dir, str(tmp_path / "b3"), "--batch_size=3")
  # 4 images: one full batch and one of a single image, filled up to 3.
  results, out, _ = predict(capsys, tmp_path / "out", f"--saved_model={saved}",
                            f"--images={image_folder_once}/*")
  assert "batch 3:" in out
  assert_same_results(results, batch_one_results)

  code = cli_main(["predict", f"--saved_model={saved}", f"--images={image_folder_once}/*",
                   f"--output={tmp_path / 'out2'}", "--batch_size=2"])
  err = capsys.readouterr().err
  assert code == 2
  assert err.strip() == (f"maskrcnn predict: error: SavedModel {saved} was exported for batches "
                         "of exactly 3 images; pass --batch_size=3, or export again with "
                         "--batch_size=2 or without --batch_size (any batch).")


def test_encoded_image_export_batches_images_of_different_sizes(
    capsys, model_dir, image_folder_once, batch_one_results, tmp_path):
  saved = export(model_dir, str(tmp_path / "bytes"), "--input_type=encoded_image")
  folder = tmp_path / "images"
  shutil.copytree(image_folder_once, folder)
  # Pillow reads TIFF, the SavedModel's decoder does not: that image alone is skipped.
  Image.open(folder / "000000.png").save(folder / "000001b.tif")
  results, out, err = predict(capsys, tmp_path / "out", f"--saved_model={saved}",
                              f"--images={folder}/*", "--batch_size=4")
  assert_same_results(results, batch_one_results)
  assert f"Skipped {folder / '000001b.tif'}:" in err
  assert "Predicted 4 image(s)" in out and "skipped 2 unreadable file(s)" in out
