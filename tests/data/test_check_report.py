"""data check: double annotations, class names, data unchanged, the configured decoder, pictures."""

import hashlib
import io

import numpy as np
import pytest
import tensorflow as tf
from official.vision.dataloaders import tf_example_decoder
from PIL import Image

from maskrcnn_plugin import DATA_DECODERS
from maskrcnn_plugin.cli.main import main
from maskrcnn_plugin.data import check, class_names, tf_example
from maskrcnn_plugin.errors import UserError
from maskrcnn_plugin.serving import visualize
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


def test_check_uses_the_decoder_the_gin_config_selects_in_its_split(tmp_path, capsys):
  path = write_records(tmp_path / "d-00000-of-00001.tfrecord", [_example([
      _instance(2, 2, 20, 20, 1, "cell"), _instance(2, 2, 20, 19, 1, "cell")])])
  without_masks = "eval/data_decoders.tf_example.include_mask = False"
  for split, doubles in (("eval", 0), ("train", 1)):
    assert main(["data", "check", path, "--gin_param", without_masks, "--split", split]) == 0
    out = capsys.readouterr().out
    assert f"probable double annotations (same class, mask IoU >= 0.9): {doubles}" in out


class _ShiftedClasses:
  """A user's decoder without `summarize`: Model Garden's, with class ids + 1."""

  def __init__(self):
    self._decoder = tf_example_decoder.TfExampleDecoder(include_mask=True)

  def decode(self, record):
    decoded = self._decoder.decode(record)
    return {**decoded, "groundtruth_classes": decoded["groundtruth_classes"] + 1}


@pytest.fixture
def shifted_classes():
  DATA_DECODERS.register("shifted_classes")(_ShiftedClasses)
  yield "@data_decoders.shifted_classes"
  DATA_DECODERS.unregister("shifted_classes")


def test_check_decodes_with_a_registered_decoder(tmp_path, capsys, shifted_classes):
  path = write_records(tmp_path / "d-00000-of-00001.tfrecord",
                       [_example([_instance(2, 2, 20, 20, 1, "cell")])])
  assert main(["data", "check", path, "--gin_param",
               f"data.input_pipeline.decoder = {shifted_classes}"]) == 0
  out = capsys.readouterr().out
  assert "instances per class:\n     2 " in out


def test_check_refuses_a_decoder_that_reads_its_own_files(tmp_path, capsys):
  path = write_records(tmp_path / "d-00000-of-00001.tfrecord", [_example([])])
  assert main(["data", "check", path,
               "--gin_param", "data.input_pipeline.decoder = @data_decoders.coco_json",
               "--gin_param", f"data_decoders.coco_json.image_dir = '{tmp_path}'"]) == 2
  err = capsys.readouterr().err
  assert err.startswith("maskrcnn data: error: maskrcnn data check reads TFRecord files, and "
                        "the configured decoder (CocoJsonDecoder) reads its own files")


class _WrongSummary(_ShiftedClasses):
  def summarize(self, record):
    return {"encoded": record, "boxes": tf.zeros([0, 4]), "classes": tf.zeros([0], tf.int64)}


def test_a_summary_without_the_record_check_keys_is_one_message(tmp_path):
  path = write_records(tmp_path / "d-00000-of-00001.tfrecord", [_example([])])
  with pytest.raises(UserError) as info:
    check.check_records(path, decoder=_WrongSummary())
  assert str(info.value) == (
      "_WrongSummary.summarize(record) must return the dict the record check reads, with "
      "exactly the keys encoded, xmin, xmax, ymin, ymax, classes, num_masks "
      "(registries.RecordSummary); it returned missing xmin, xmax, ymin, ymax, num_masks; "
      "extra boxes.")


def test_render_draws_ground_truth_with_model_garden_visualization(tmp_path, monkeypatch):
  calls = []
  original = visualize.visualization_utils.visualize_boxes_and_labels_on_image_array

  def spy(image, boxes, classes, scores, category_index, **kwargs):
    calls.append((boxes, classes, category_index, kwargs))
    return original(image, boxes, classes, scores, category_index, **kwargs)

  monkeypatch.setattr(visualize.visualization_utils,
                      "visualize_boxes_and_labels_on_image_array", spy)
  path = write_records(tmp_path / "d-00000-of-00001.tfrecord",
                       [_example([_instance(2, 4, 20, 30, 1, "cell")])])
  report = check.check_records(path, render_count=1, output_dir=str(tmp_path / "render"))
  [(boxes, classes, category_index, kwargs)] = calls
  np.testing.assert_allclose(boxes, [[2, 4, 20, 30]], atol=1e-4)  # pixels (ymin, xmin, ...)
  assert classes.tolist() == [1] and category_index == {1: {"id": 1, "name": "cell"}}
  assert kwargs["skip_scores"] and kwargs["instance_masks"].shape == (1, SIZE, SIZE)
  drawn = np.asarray(Image.open(report.rendered[0]))
  assert drawn.shape == (SIZE, SIZE, 3) and (drawn != 80).any()
