"""`make-shapes --classes`: other shape classes for fine-tuning datasets."""

import json

import numpy as np
import pytest
from pycocotools import mask as mask_api

from maskrcnn_plugin.cli.main import main
from maskrcnn_plugin.data import shapes


def test_star_hexagon_dataset_has_its_own_categories_and_valid_masks(tmp_path, capsys):
  out = tmp_path / "star_hexagon"
  assert main(["data", "make-shapes", "--output", str(out), "--train", "6", "--val", "2",
               "--image-size", "64", "--classes", "star,hexagon", "--no-image-files"]) == 0
  coco = json.loads((out / "instances_train.json").read_text())
  assert coco["categories"] == [{"id": 1, "name": "star"}, {"id": 2, "name": "hexagon"}]
  assert "classes star,hexagon" in coco["info"]["description"]
  assert {a["category_id"] for a in coco["annotations"]} == {1, 2}
  for annotation in coco["annotations"]:
    mask = mask_api.decode(annotation["segmentation"])
    assert mask.sum() == annotation["area"] >= shapes.MIN_VISIBLE_AREA
  assert main(["data", "check", str(out / "train-*.tfrecord"), "--num-classes", "3"]) == 0
  assert "inconsistent records: 0" in capsys.readouterr().out


def test_new_shapes_fill_a_fair_part_of_their_box():
  rng = np.random.default_rng(0)
  star, hexagon = (shapes._shape_mask(name, 40, rng).mean()  # pylint: disable=protected-access
                   for name in ("star", "hexagon"))
  assert 0.25 < star < 0.45 < 0.55 < hexagon < 0.75


@pytest.mark.parametrize("classes", ["star,pentagon", "star,star", ","])
def test_bad_class_list_is_one_clear_error(tmp_path, capsys, classes):
  assert main(["data", "make-shapes", "--output", str(tmp_path / "x"), "--classes",
               classes]) == 2
  assert "--classes: classes must be distinct names from square, circle, triangle" in (
      capsys.readouterr().err)
  assert not (tmp_path / "x").exists()
