"""Class names: the file beside the records, a COCO JSON, the gin override, a model folder."""

import json

import gin

from maskrcnn_plugin.data import class_names


def test_names_beside_shards_and_in_a_coco_json(tmp_path):
  class_names.write(str(tmp_path / "train_classes.json"), {2: "b", 1: "a"})
  shard = str(tmp_path / "train-00000-of-00004.tfrecord")
  assert class_names.path_beside_records(shard) == str(tmp_path / "train_classes.json")
  assert class_names.for_files([shard]) == {1: "a", 2: "b"}
  assert class_names.for_files([str(tmp_path / "other.tfrecord")]) == {}
  coco_json = tmp_path / "instances.json"
  coco_json.write_text(json.dumps({"images": [], "categories": [{"id": 3, "name": "c"}]}))
  assert class_names.for_files([str(coco_json)]) == {3: "c"}


def test_a_gin_binding_overrides_the_names_of_the_data(tmp_path):
  class_names.write(str(tmp_path / "t_classes.json"), {1: "a"})
  shard = str(tmp_path / "t-00000-of-00001.tfrecord")
  assert class_names.resolve([shard]) == {1: "a"}
  gin.parse_config("data.class_names.names = ['balloon', 'kite']")
  assert class_names.resolve([shard]) == {1: "balloon", 2: "kite"}
  gin.clear_config()
  gin.parse_config("data.class_names.names = {3: 'kite'}")
  assert class_names.write_for_run(str(tmp_path), [shard]) == str(tmp_path / "classes.json")
  assert class_names.for_model(str(tmp_path)) == {3: "kite"}


def test_model_folders_and_saved_models(tmp_path):
  (tmp_path / "saved" / "assets").mkdir(parents=True)
  class_names.write(str(tmp_path / "saved" / "assets" / "classes.json"), {1: "cell"})
  assert class_names.for_model(str(tmp_path / "saved")) == {1: "cell"}
  assert class_names.for_model(str(tmp_path / "nothing")) == {}
  assert class_names.for_model(None) == {}
