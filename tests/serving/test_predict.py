"""`maskrcnn predict`: results JSON, pictures, bad files, clear errors."""

import json
import os
import shutil

import numpy as np
from PIL import Image
from pycocotools import mask as mask_api
import pytest

from maskrcnn_plugin.cli.main import main as cli_main
from maskrcnn_plugin.errors import UserError
from maskrcnn_plugin.serving.predictor import Predictor


def run_cli(capsys, *argv):
  code = cli_main(list(argv))
  captured = capsys.readouterr()
  return code, captured.out, captured.err


def write_annotations(path, image_files):
  """A COCO annotation file naming the images 'val/<name>' with ids 100, 101, ..."""
  images = [{"id": 100 + i, "file_name": f"val/{os.path.basename(p)}", "height": pixels.shape[0],
             "width": pixels.shape[1]} for i, (p, pixels) in enumerate(image_files)]
  categories = [{"id": 1, "name": "square"}, {"id": 2, "name": "circle"},
                {"id": 3, "name": "triangle"}]
  path.write_text(json.dumps({"images": images, "annotations": [], "categories": categories}))
  return path


def test_predict_writes_results_and_pictures_and_skips_bad_files(
    capsys, saved_model, image_folder, image_files, tmp_path):
  output = tmp_path / "out"
  code, out, err = run_cli(capsys, "predict", f"--saved_model={saved_model}",
                           f"--images={image_folder}/*", f"--output={output}",
                           "--score_threshold=0.0")
  assert code == 0
  assert f"Skipped {image_folder / 'broken.png'}: not a readable image" in err
  assert f"Skipped {image_folder / 'notes.txt'}: not a readable image" in err
  assert "Predicted 4 image(s)" in out and "skipped 2 unreadable file(s)" in out

  results = json.loads((output / "coco_results.json").read_text())
  assert {r["image_id"] for r in results} == {0, 1, 2, 3}  # from the file names 00000N.png
  for index, (path, pixels) in enumerate(image_files):
    picture = np.asarray(Image.open(output / f"{index:06d}.png"))
    assert picture.shape == pixels.shape
    assert not np.array_equal(picture, pixels)  # something is drawn at threshold 0
    entries = [r for r in results if r["image_id"] == index]
    assert entries
    for entry in entries:
      x, y, width, height = entry["bbox"]
      assert -1 <= x and x + width <= pixels.shape[1] + 1 and -1 <= y
      assert y + height <= pixels.shape[0] + 1
      assert entry["category_id"] in (1, 2, 3) and 0 < entry["score"] <= 1
      assert tuple(mask_api.decode(entry["segmentation"]).shape) == pixels.shape[:2]
  assert sorted(os.listdir(output)) == ["000000.png", "000001.png", "000002.png", "000003.png",
                                        "coco_results.json"]


def test_predict_from_model_dir_takes_ids_and_names_from_annotations(
    capsys, model_dir, image_files, tmp_path, monkeypatch):
  folder = tmp_path / "val"
  folder.mkdir()
  for path, _ in image_files[:2]:
    shutil.copy(path, folder)
  shutil.copy(image_files[2][0], folder / "extra.png")
  annotations = write_annotations(tmp_path / "val.json", image_files[:2])
  drawn = []
  import maskrcnn_plugin.serving.predict as predict_module  # pylint: disable=import-outside-toplevel
  original = predict_module.draw_detections
  monkeypatch.setattr(predict_module, "draw_detections",
                      lambda *args: drawn.append(args[2]) or original(*args))
  code, out, err = run_cli(capsys, "predict", f"--model_dir={model_dir}",
                           f"--images={folder}/*.png", f"--output={tmp_path / 'out'}",
                           f"--annotations={annotations}")
  assert code == 0, err
  results = json.loads((tmp_path / "out" / "coco_results.json").read_text())
  assert {r["image_id"] for r in results} == {100, 101}
  assert f"{folder / 'extra.png'} is not in {annotations}" in err
  assert "1 image(s) not in the annotation file" in out
  assert drawn[0] == {1: "square", 2: "circle", 3: "triangle"}
  assert (tmp_path / "out" / "extra.png").exists()


def test_empty_glob_is_one_clear_message(capsys, saved_model, tmp_path):
  code, out, err = run_cli(capsys, "predict", f"--saved_model={saved_model}",
                           f"--images={tmp_path}/*.jpg", f"--output={tmp_path / 'out'}")
  assert code == 2 and not out
  assert err.startswith(f"maskrcnn predict: error: --images '{tmp_path}/*.jpg' matches no files")
  assert "Traceback" not in err


@pytest.mark.parametrize("make", ["missing", "not_savedmodel"])
def test_missing_savedmodel_is_one_clear_message(capsys, image_folder, tmp_path, make):
  model = tmp_path / "model"
  if make == "not_savedmodel":
    model.mkdir()
  code, _, err = run_cli(capsys, "predict", f"--saved_model={model}",
                         f"--images={image_folder}/*", f"--output={tmp_path / 'out'}")
  assert code == 2 and "Traceback" not in err
  assert f"--saved_model {model} is not a SavedModel folder (it has no saved_model.pb)" in err


def test_model_dir_without_checkpoint_is_one_clear_message(capsys, image_folder, tmp_path):
  run = tmp_path / "run"
  run.mkdir()
  (run / "config.gin").write_text("")
  code, _, err = run_cli(capsys, "predict", f"--model_dir={run}", f"--images={image_folder}/*",
                         f"--output={tmp_path / 'out'}")
  assert code == 2 and f"No checkpoint in model_dir {run}" in err


