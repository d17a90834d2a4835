"""data check: probable double annotations, class names from beside the records, data unchanged."""

import hashlib
import io

import numpy as np
from PIL import Image

from maskrcnn_plugin.cli.main import main
from maskrcnn_plugin.data import check, class_names, tf_example
from helpers.records import write_records

SIZE = 32


def _instance(y0, x0, y1, x1, category_id, name):
  mask = np.zeros((SIZE, SIZE), np.uint8)
  mask[y0:y1, x0:x1] = 1
  return tf_example.Instance(bbox=[x0, y0, x1 - x0, y1 - y0], category_id=category_id,
                             category_name=name, area=float(mask.sum()),
                             mask_png=tf_example.encode_mask_png(mask))


def _example(instances):
  buffer = io.BytesIO()
  Image.fromarray(np.full((SIZE, SIZE, 3), 80, np.uint8)).save(buffer, format="PNG")
  return tf_example.build_example(encoded_image=buffer.getvalue(), image_format="png",
                                  height=SIZE, width=SIZE, image_id=1, filename="a.png",
                                  instances=instances)


def test_double_annotations_are_reported_and_the_data_is_unchanged(tmp_path, capsys):
  path = write_records(tmp_path / "d-00000-of-00001.tfrecord", [_example([
      _instance(2, 2, 20, 20, 1, "cell"),
      _instance(2, 2, 20, 19, 1, "cell"),      # IoU 0.94 with the first: a double.
      _instance(2, 2, 20, 20, 2, "nucleus"),   # Same place, other class: not a double.
      _instance(10, 10, 30, 30, 1, "cell"),    # Overlaps partly.
  ])])
  before = hashlib.sha256(open(path, "rb").read()).hexdigest()
  assert main(["data", "check", path]) == 0
  out = capsys.readouterr().out
  assert "probable double annotations (same class, mask IoU >= 0.9): 1" in out
  assert f"{path} #0: instances 0 and 1 (class 'cell') overlap with mask IoU 0.94" in out
  assert hashlib.sha256(open(path, "rb").read()).hexdigest() == before


def test_class_names_beside_the_records_name_the_classes(tmp_path):
  path = write_records(tmp_path / "d-00000-of-00001.tfrecord",
                       [_example([_instance(2, 2, 20, 20, 1, "written")])])
  report = check.check_records(path, render_count=1, output_dir=str(tmp_path / "render"))
  assert report.class_names == {1: "written"} and len(report.rendered) == 1
  class_names.write(str(tmp_path / "d_classes.json"), {1: "droplet"})
  report = check.check_records(path)
  assert report.class_names == {1: "droplet"}
