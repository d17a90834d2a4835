"""convert-via and convert-labelme: files as the tools write them, through to TFRecords."""

import json

import numpy as np
import tensorflow as tf
from official.vision.dataloaders import tf_example_decoder

from maskrcnn_plugin.cli.main import main
from maskrcnn_plugin.data import class_names
from helpers.via_labelme import (HEIGHT, WIDTH, balloon_region_data, image_bytes, labelme_file,
                                 via2_project, write_json)


def _decode_all(prefix):
  """{file_name: decoded record}, file names from the COCO JSON written beside the records."""
  names = {str(image["id"]): image["file_name"]
           for image in json.loads(open(f"{prefix}.json", encoding="utf-8").read())["images"]}
  decoder = tf_example_decoder.TfExampleDecoder(include_mask=True)
  files = sorted(tf.io.gfile.glob(f"{prefix}-*.tfrecord"))
  return {names[d["source_id"].decode()]: d for d in (
      {k: v.numpy() for k, v in decoder.decode(r).items()}
      for r in tf.data.TFRecordDataset(files))}


def _run(capsys, *argv):
  status = main([str(a) for a in argv])
  captured = capsys.readouterr()
  return status, captured.out, captured.err.splitlines()[-1] if captured.err else ""


def test_balloon_region_data_with_one_class_name(tmp_path, capsys):
  for i, name in enumerate(("a.jpg", "b.jpg")):
    (tmp_path / name).write_bytes(image_bytes(i, "JPEG"))
  via_json = write_json(tmp_path / "via_region_data.json", balloon_region_data(["a.jpg", "b.jpg"]))
  prefix = tmp_path / "out" / "train"
  status, out, _ = _run(capsys, "data", "convert-via", "--annotations", via_json,
                        "--output", prefix, "--shards", "2", "--class-name", "balloon",
                        "--workers", "1")
  assert status == 0 and "wrote 2 images, 4 instances" in out
  records = _decode_all(prefix)
  assert sorted(records) == ["a.jpg", "b.jpg"]
  masks = records["a.jpg"]["groundtruth_instance_masks"]
  assert masks.shape == (2, HEIGHT, WIDTH)
  assert masks[0][8:23, 6:29].mean() > 0.95 and masks[0].sum() < 24 * 16
  assert records["a.jpg"]["groundtruth_classes"].tolist() == [1, 1]
  assert class_names.read(f"{prefix}_classes.json") == {1: "balloon"}
  written = json.loads((tmp_path / "out" / "train.json").read_text())
  assert len(written["images"]) == 2 and len(written["annotations"]) == 4
  assert written["categories"] == [{"id": 1, "name": "balloon"}]
  assert "source" not in written["annotations"][0]


def test_via2_project_shapes_and_class_attribute(tmp_path, capsys):
  (tmp_path / "images").mkdir()
  (tmp_path / "images" / "p.png").write_bytes(image_bytes(3))
  via_json = write_json(tmp_path / "project.json", via2_project(["p.png"]))
  prefix = tmp_path / "val"
  status, out, _ = _run(capsys, "data", "convert-via", "--annotations", via_json,
                        "--images", tmp_path / "images", "--output", prefix, "--shards", "1",
                        "--class-attribute", "kind", "--workers", "1")
  assert status == 0 and "4 instances" in out, out
  record = _decode_all(prefix)["p.png"]
  # Category ids follow the project's dropdown options: ball = 1, box = 2.
  assert record["groundtruth_classes"].tolist() == [2, 1, 1, 2]
  rect, circle, ellipse, polyline = record["groundtruth_instance_masks"].sum(axis=(1, 2))
  assert abs(rect - 24 * 16) <= 24 + 16
  assert abs(circle - np.pi * 64) < 0.15 * np.pi * 64
  assert abs(ellipse - np.pi * 50) < 0.2 * np.pi * 50
  assert abs(polyline - 0.5 * 20 * 16) < 0.3 * 0.5 * 20 * 16
  assert class_names.read(f"{prefix}_classes.json") == {1: "ball", 2: "box"}


def test_via_bad_regions_are_named_or_skipped_by_reason(tmp_path, capsys):
  (tmp_path / "p.png").write_bytes(image_bytes(3))
  extra = [{"shape_attributes": {"name": "point", "cx": 3, "cy": 3},
            "region_attributes": {"kind": "box"}},
           {"shape_attributes": {"name": "polygon", "all_points_x": [1, 9, 20],
                                 "all_points_y": [1, 9, 20]},
            "region_attributes": {"kind": "box"}},
           {"shape_attributes": {"name": "rect", "x": 1, "y": 1, "width": 5, "height": 5},
            "region_attributes": {}}]
  via_json = write_json(tmp_path / "project.json", via2_project(["p.png"], extra))
  argv = ["data", "convert-via", "--annotations", via_json, "--output", tmp_path / "o",
          "--shards", "1", "--class-attribute", "kind", "--workers", "1"]
  status, _, err = _run(capsys, *argv)
  assert status == 2
  assert err.startswith("maskrcnn data: error: ")
  assert "project.json: region #4 of image 'p.png'" in err
  assert "shape 'point' has no area" in err and "--skip-bad" in err
  status, out, _ = _run(capsys, *argv, "--skip-bad")
  assert status == 0 and "wrote 1 images, 4 instances" in out
  assert "region #5 of image 'p.png' (id 1): the polygons have zero area" in out
  assert "region #6 of image 'p.png' (id 1): the region has no region attribute 'kind'" in out
  for reason in ("unsupported shape: 1", "zero-area segmentation: 1", "region without class: 1"):
    assert reason in out


def test_via_needs_a_class_source_and_names_a_missing_image(tmp_path, capsys):
  via_json = write_json(tmp_path / "via.json", balloon_region_data(["gone.jpg"]))
  status, _, err = _run(capsys, "data", "convert-via", "--annotations", via_json, "--output",
                        tmp_path / "o", "--shards", "1", "--class-name", "b")
  assert status == 2 and "gone.jpg' does not exist" in err
  status, out, _ = _run(capsys, "data", "convert-via", "--annotations", via_json, "--output",
                        tmp_path / "o", "--shards", "1", "--class-name", "b", "--skip-bad")
  assert status == 0 and "skipped 1 images" in out
  write_json(tmp_path / "not_via.json", {"images": []})
  status, _, err = _run(capsys, "data", "convert-via", "--annotations", tmp_path / "not_via.json",
                        "--output", tmp_path / "o", "--shards", "1", "--class-name", "b")
  assert status == 2 and "is not a VIA 2 project or region-data JSON file" in err


def test_via_image_with_exif_orientation_uses_the_displayed_size(tmp_path):
  from maskrcnn_plugin.data import via  # pylint: disable=import-outside-toplevel
  (tmp_path / "phone.jpg").write_bytes(image_bytes(1, "JPEG", exif_orientation=6))
  write_json(tmp_path / "via.json", balloon_region_data(["phone.jpg"]))
  index, _ = via.to_coco(str(tmp_path / "via.json"), str(tmp_path), class_name="b")
  assert (index.images[0]["height"], index.images[0]["width"]) == (WIDTH, HEIGHT)


def test_labelme_folder_with_embedded_and_linked_images(tmp_path, capsys):
  folder = tmp_path / "labelme"
  (folder / "sub").mkdir(parents=True)
  (folder / "sub" / "linked.png").write_bytes(image_bytes(1))
  write_json(folder / "sub" / "linked.json", labelme_file("linked.png"))
  # Embedded image data; the file imagePath names is not there.
  write_json(folder / "embedded.json", labelme_file("../elsewhere/embedded.jpg",
                                                    embed=image_bytes(2, "JPEG")))
  prefix = tmp_path / "lm"
  status, out, _ = _run(capsys, "data", "convert-labelme", "--input", folder, "--output",
                        prefix, "--shards", "1", "--classes", "box,ball", "--workers", "1")
  assert status == 0 and "wrote 2 images, 6 instances" in out, out
  records = _decode_all(prefix)
  assert sorted(records) == ["../elsewhere/embedded.jpg", "sub/linked.png"]
  linked = records["sub/linked.png"]
  assert linked["groundtruth_classes"].tolist() == [1, 2, 1]
  rect, circle, group = linked["groundtruth_instance_masks"].sum(axis=(1, 2))
  assert abs(rect - 23 * 15) <= 23 + 15 and abs(circle - np.pi * 64) < 0.15 * np.pi * 64
  # The two polygons of group_id 3 are one instance, its box around both.
  assert group > 0.8 * (0.5 * 20 * 16 + 0.5 * 10 * 14)
  np.testing.assert_allclose(linked["groundtruth_boxes"][2],
                             [4 / HEIGHT, 2 / WIDTH, 44 / HEIGHT, 60 / WIDTH], atol=1e-6)
  assert class_names.read(f"{prefix}_classes.json") == {1: "box", 2: "ball"}
  written = json.loads((tmp_path / "lm.json").read_text())
  assert len(written["annotations"]) == 6


def test_labelme_bad_shapes_and_sizes_are_named(tmp_path, capsys):
  folder = tmp_path / "labelme"
  folder.mkdir()
  (folder / "a.png").write_bytes(image_bytes(1))
  shapes = [{"label": "cable", "points": [[1, 1], [30, 30]], "group_id": None,
             "shape_type": "line", "flags": {}},
            {"label": "box", "points": [[6, 8], [29, 23]], "group_id": None,
             "shape_type": "rectangle", "flags": {}}]
  write_json(folder / "a.json", labelme_file("a.png", shapes=shapes))
  argv = ["data", "convert-labelme", "--input", folder, "--output", tmp_path / "o",
          "--shards", "1", "--workers", "1"]
  status, _, err = _run(capsys, *argv)
  assert status == 2 and "a.json shape #0 ('cable') of image 'a.png'" in err
  assert "shape_type 'line' is not supported" in err
  status, out, _ = _run(capsys, *argv, "--skip-bad")
  assert status == 0 and "1 instances" in out and "unsupported shape: 1" in out
  wrong = labelme_file("a.png")
  wrong["imageHeight"], wrong["imageWidth"] = 100, 100
  write_json(folder / "a.json", wrong)
  status, _, err = _run(capsys, *argv)
  assert status == 2 and "a.png' is 64x48 but the annotations say 100x100" in err
  write_json(folder / "other.json", {"some": "thing"})
  status, _, err = _run(capsys, *argv)
  assert status == 2 and "other.json' is not a LabelMe file" in err


def test_a_class_outside_the_given_classes_is_named(tmp_path, capsys):
  (tmp_path / "p.png").write_bytes(image_bytes(3))
  via_json = write_json(tmp_path / "project.json", via2_project(["p.png"]))
  status, _, err = _run(capsys, "data", "convert-via", "--annotations", via_json, "--output",
                        tmp_path / "o", "--shards", "1", "--class-attribute", "kind",
                        "--classes", "box", "--workers", "1")
  assert status == 2
  assert "region #1 of image 'p.png' (id 1): its class 'ball' is not one of the classes box" in err
