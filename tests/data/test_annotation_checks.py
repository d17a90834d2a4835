"""Every bad-annotation case: named by annotation id, image file and reason, or skipped alone."""

import json

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from maskrcnn_plugin import DATA_DECODERS
from maskrcnn_plugin.cli.main import main
from maskrcnn_plugin.data import coco, convert_coco
from maskrcnn_plugin.dataloaders import record_checks

HEIGHT, WIDTH = 24, 32
GOOD_POLYGON = [[2, 2, 12, 2, 12, 12, 2, 12]]
FEWER_THAN_3 = "polygon with fewer than 3 points"

# (case, change to annotation id 7 of image 'b.png', reason in the message, counting key)
CASES = [
    ("empty_list", {"segmentation": []}, r"segmentation is empty \(\[\]\)", "empty segmentation"),
    ("empty_polygon", {"segmentation": [[]]}, "polygon #0 has 0 point", FEWER_THAN_3),
    ("one_point", {"segmentation": [[3, 3]]}, "has 1 point", FEWER_THAN_3),
    ("two_points_first", {"segmentation": [[3, 3, 9, 9], GOOD_POLYGON[0]]},
     "polygon #0 has 2 point", FEWER_THAN_3),
    ("odd_coordinates", {"segmentation": [[3, 3, 9, 9, 4]]}, "odd number of coordinates",
     "odd coordinate count"),
    ("collinear", {"segmentation": [[1, 1, 5, 5, 9, 9]]}, "zero area", "zero-area segmentation"),
    ("sliver", {"segmentation": [[3.1, 3.1, 3.3, 3.1, 3.3, 3.2]]}, "covers no pixel",
     "zero-area segmentation"),
    ("rle_size", {"segmentation": {"size": [10, 10], "counts": [100]}}, r"RLE size \[10, 10\]",
     "RLE size differs from image"),
    ("rle_counts", {"segmentation": {"size": [HEIGHT, WIDTH], "counts": [100, 5]}},
     "counts sum to 105", "RLE counts do not sum to height x width"),
    ("rle_string_counts", {"segmentation": {"size": [HEIGHT, WIDTH], "counts": "0:1"}},
     "counts sum to", "RLE counts do not sum to height x width"),
    ("zero_box", {"bbox": [2, 2, 0, 10]}, "zero or negative width", "zero-size box"),
    ("negative_box", {"bbox": [2, 2, 5, -3]}, "zero or negative width", "zero-size box"),
    ("outside_box", {"bbox": [20, 2, 30, 10]}, "outside the 32x24 image", "box outside image"),
    ("unknown_category", {"category_id": 9}, "category_id 9 is not in 'categories'",
     "unknown category_id"),
    ("orphan", {"image_id": 99}, "image_id 99 is not in 'images'", "image_id without image"),
]


def _write_image(path):
  Image.fromarray(np.full((HEIGHT, WIDTH, 3), 90, np.uint8)).save(path)


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory):
  root = tmp_path_factory.mktemp("annotation_checks")
  for name in ("a.png", "b.png"):
    _write_image(root / name)
  return root


def _coco(**change):
  ann = {"id": 7, "image_id": 2, "category_id": 1, "iscrowd": 0, "area": 100.0,
         "bbox": [2, 2, 10, 10], "segmentation": GOOD_POLYGON}
  ann.update(change)
  good = dict(ann, id=5, image_id=1, segmentation=GOOD_POLYGON, bbox=[2, 2, 10, 10],
              category_id=1)
  second = dict(good, id=8, image_id=2)
  return {"images": [{"id": 1, "file_name": "a.png", "height": HEIGHT, "width": WIDTH},
                     {"id": 2, "file_name": "b.png", "height": HEIGHT, "width": WIDTH}],
          "annotations": [good, ann, second],
          "categories": [{"id": 1, "name": "thing"}]}


def _write_json(tmp_path, data):
  path = tmp_path / "instances.json"
  path.write_text(json.dumps(data))
  return str(path)


@pytest.mark.parametrize("case,change,reason,key", CASES, ids=[c[0] for c in CASES])
def test_bad_annotation_is_named_or_skipped_alone(image_dir, tmp_path, case, change, reason,
                                                  key):
  del case
  annotations = _write_json(tmp_path, _coco(**change))
  where = "image id 99" if "image_id" in change else r"image 'b.png' \(id 2\)"
  with pytest.raises(coco.BadAnnotationError,
                     match=rf"instances.json: annotation id 7 of {where}: .*{reason}.*--skip-bad"):
    convert_coco.convert_coco(annotations, str(image_dir), str(tmp_path / "out"), 1,
                              workers=1, progress=False)
  summary = convert_coco.convert_coco(annotations, str(image_dir), str(tmp_path / "out"), 1,
                                      workers=1, skip_bad=True, progress=False)
  # Only the bad annotation goes: both images and the two good annotations stay.
  assert (summary.images, summary.instances) == (2, 2)
  assert summary.skipped.by_reason == {key: 1}
  assert "annotation id 7" in summary.skipped_annotations[0]


def test_duplicate_image_id_is_named_or_skipped(image_dir, tmp_path):
  data = _coco()
  data["images"].append({"id": 2, "file_name": "a.png", "height": HEIGHT, "width": WIDTH})
  annotations = _write_json(tmp_path, data)
  with pytest.raises(coco.BadAnnotationError, match="image id 2 is used twice: by 'b.png' and "
                                                    r"by 'a.png' \(images entry #2\)"):
    convert_coco.convert_coco(annotations, str(image_dir), str(tmp_path / "out"), 1,
                              workers=1, progress=False)
  summary = convert_coco.convert_coco(annotations, str(image_dir), str(tmp_path / "out"), 1,
                                      workers=1, skip_bad=True, progress=False)
  assert summary.images == 2 and summary.skipped.by_reason == {"duplicate image id": 1}


def test_box_only_annotations_convert_without_masks(image_dir, tmp_path):
  annotations = _write_json(tmp_path, _coco(segmentation=[]))
  summary = convert_coco.convert_coco(annotations, str(image_dir), str(tmp_path / "out"), 1,
                                      workers=1, include_masks=False, progress=False)
  assert (summary.images, summary.instances) == (2, 3) and not summary.skipped_annotations


def test_errors_in_worker_processes_reach_the_cli_with_the_annotation(image_dir, tmp_path,
                                                                      capsys):
  annotations = _write_json(tmp_path, _coco(segmentation=[[3.1, 3.1, 3.3, 3.1, 3.3, 3.2]]))
  args = ["data", "convert-coco", "--annotations", annotations, "--images", str(image_dir),
          "--output", str(tmp_path / "out"), "--shards", "1", "--workers", "2"]
  assert main(args) == 2
  err = capsys.readouterr().err.splitlines()[-1]  # After the progress bar.
  assert err.startswith("maskrcnn data: error: ") and "annotation id 7 of image 'b.png'" in err
  assert "Traceback" not in err
  assert main(args + ["--skip-bad"]) == 0
  out = capsys.readouterr().out
  assert "skipped annotations by reason:\n  zero-area segmentation: 1" in out


def test_coco_json_decoder_names_or_skips_the_bad_annotation(image_dir, tmp_path):
  annotations = _write_json(tmp_path, _coco(segmentation=[[3, 3]]))
  reader = DATA_DECODERS.get("coco_json")(image_dir=str(image_dir))
  with pytest.raises(coco.BadAnnotationError,
                     match="annotation id 7 of image 'b.png'.*has 1 point.*bad_records = 'skip'"):
    reader.records([annotations])
  record_checks.reset_skipped_record_counts()
  records = list(reader.records([annotations], bad_records="skip"))
  assert len(records) == 2  # Both images are kept.
  assert record_checks.skipped_record_counts() == {
      "annotation: polygon with fewer than 3 points": 1}
  decoded = reader.decode(records[1][0])
  assert decoded["groundtruth_classes"].numpy().tolist() == [1]
  assert decoded["groundtruth_instance_masks"].shape == (1, HEIGHT, WIDTH)


def test_coco_json_decoder_names_an_undecodable_image_by_file(image_dir, tmp_path):
  bad_dir = tmp_path / "images"
  bad_dir.mkdir()
  _write_image(bad_dir / "a.png")
  (bad_dir / "b.png").write_text("not an image")
  annotations = _write_json(tmp_path, _coco())
  reader = DATA_DECODERS.get("coco_json")(image_dir=str(bad_dir))
  records = reader.records([annotations]).map(lambda r, s, i: (r, s, i))
  decoded = record_checks.decode_or_reject(records, reader.decode, "error", deterministic=True)
  with pytest.raises(tf.errors.InvalidArgumentError) as caught:
    list(decoded)
  error = record_checks.bad_record_error(caught.value)
  assert error is not None
  assert "b.png #1: Image '" in str(error) and "b.png' is not an image file" in str(error)
  assert "data check" not in str(error)
