"""Decoders, the Mask R-CNN parser and `data.input_pipeline` on the shapes data."""

import gin
import numpy as np
import pytest
import tensorflow as tf

from maskrcnn_plugin import DATA_DECODERS, PARSERS
from maskrcnn_plugin.dataloaders import input_pipeline
from maskrcnn_plugin.errors import UserError, first_line
from maskrcnn_plugin.gin_config import parse_gin
from maskrcnn_plugin.registries import Parser, SummarizingDecoder
from registry import ConstraintError


def _parse_shapes_gin(sharded_shapes_dir, *params):
  parse_gin(["base/shapes_data.gin"],
            ["IMAGE_SIZE = [64, 64]", "NUM_CLASSES = 4", f"SHAPES_DIR = '{sharded_shapes_dir}'",
             *params])


def _batch(scope, **kwargs):
  with gin.config_scope(scope):
    return next(iter(input_pipeline(**kwargs)))


def test_train_batches_have_model_garden_training_labels(sharded_shapes_dir):
  _parse_shapes_gin(sharded_shapes_dir, "TRAIN_BATCH_SIZE = 4",
                    "maskrcnn.AnchorSettings.min_level = 3",
                    "maskrcnn.AnchorSettings.aspect_ratios = (1.0,)")
  images, labels = _batch("train")
  assert images.shape == (4, 64, 64, 3) and images.dtype == tf.float32
  assert sorted(labels) == ["anchor_boxes", "gt_boxes", "gt_classes", "gt_masks",
                            "gt_outer_boxes", "image_info", "rpn_box_targets",
                            "rpn_score_targets"]
  # Anchors follow maskrcnn.AnchorSettings: levels 3..6, one anchor per location.
  assert sorted(labels["anchor_boxes"]) == ["3", "4", "5", "6"]
  assert labels["anchor_boxes"]["3"].shape == (4, 8, 8, 4)
  assert labels["rpn_score_targets"]["3"].shape == (4, 8, 8, 1)
  assert labels["gt_masks"].shape == (4, 8, 56, 56)  # shapes_data.gin: 8 instances, 56 px
  classes = labels["gt_classes"].numpy()
  assert set(classes[classes >= 0].tolist()) <= {1, 2, 3} and (classes > 0).any()


@pytest.mark.smoke
def test_eval_batches_carry_coco_evaluator_groundtruths(sharded_shapes_dir, sharded_shapes_sizes):
  _parse_shapes_gin(sharded_shapes_dir, "EVAL_BATCH_SIZE = 4")
  with gin.config_scope("eval"):
    batches = list(input_pipeline())
  assert [b[0].shape[0] for b in batches] == [4, 2]  # no repeat, last batch kept
  images, labels = batches[0]
  groundtruths = labels["groundtruths"]
  assert sorted(groundtruths) == ["areas", "boxes", "classes", "height", "is_crowds", "masks",
                                  "num_detections", "source_id", "width"]
  source_ids = np.concatenate([b[1]["groundtruths"]["source_id"].numpy() for b in batches])
  assert sorted(source_ids.tolist()) == list(range(1, sharded_shapes_sizes["num_val"] + 1))
  assert labels["image_info"].shape == (4, 4, 2)


def test_sharding_per_input_pipeline_and_per_replica_batch(sharded_shapes_dir):
  _parse_shapes_gin(sharded_shapes_dir, "EVAL_BATCH_SIZE = 4")
  ids = []
  for pipeline_id in range(2):
    context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline_id,
                                         num_replicas_in_sync=2)
    with gin.config_scope("eval"):
      batches = list(input_pipeline(context))
    assert max(b[0].shape[0] for b in batches) == 2  # 4 images / 2 replicas
    ids.append({int(i) for b in batches for i in b[1]["groundtruths"]["source_id"]})
  assert not ids[0] & ids[1]
  assert ids[0] | ids[1] == set(range(1, 7))


def test_deterministic_mode_repeats_the_same_batches(sharded_shapes_dir):
  _parse_shapes_gin(sharded_shapes_dir, "data.input_pipeline.deterministic = True",
                    "parsers.maskrcnn.aug_rand_hflip = False",
                    "parsers.maskrcnn.aug_scale_min = 1.0",
                    "parsers.maskrcnn.aug_scale_max = 1.0", "TRAIN_BATCH_SIZE = 3")

  def first_batches():
    with gin.config_scope("train"):
      dataset = input_pipeline()
    return [labels["gt_boxes"].numpy() for _, labels in dataset.take(5)]

  first, second = first_batches(), first_batches()
  for a, b in zip(first, second):
    np.testing.assert_array_equal(a, b)
  # Shuffled: 15 images from a 12-image dataset are not in file order.
  assert not all(np.array_equal(a, b) for a, b in zip(first, first[1:]))


def test_cache_gives_the_same_content(sharded_shapes_dir):
  _parse_shapes_gin(sharded_shapes_dir, "EVAL_BATCH_SIZE = 6",
                    "data.input_pipeline.deterministic = True")
  plain = _batch("eval")
  cached = _batch("eval", cache=True)
  np.testing.assert_array_equal(plain[0], cached[0])


def test_coco_json_decoder_matches_tf_example_decoder(sharded_shapes_dir):
  records = list(tf.data.TFRecordDataset(sorted(str(p) for p in sharded_shapes_dir.glob("val-*"))))
  from_records = {}
  decoder = DATA_DECODERS.get("tf_example")()
  for record in records:
    decoded = decoder.decode(record)
    from_records[decoded["source_id"].numpy()] = decoded
  reader = DATA_DECODERS.get("coco_json")(image_dir=str(sharded_shapes_dir / "images"))
  dataset = reader.records([str(sharded_shapes_dir / "instances_val.json")])
  count = 0
  for record, source, index in dataset:
    decoded = reader.decode(record)
    expected = from_records[decoded["source_id"].numpy()]
    assert source.numpy().decode().endswith(".png") and int(index) == int(record)
    for key in ("image", "groundtruth_instance_masks", "groundtruth_classes",
                "groundtruth_is_crowd", "height", "width"):
      np.testing.assert_array_equal(decoded[key], expected[key], err_msg=key)
      assert decoded[key].dtype == expected[key].dtype, key
    np.testing.assert_allclose(decoded["groundtruth_boxes"], expected["groundtruth_boxes"],
                               atol=1e-6)
    count += 1
  assert count == len(records)


def test_pipeline_trains_from_coco_json(sharded_shapes_dir):
  _parse_shapes_gin(
      sharded_shapes_dir, "data.input_pipeline.decoder = @data_decoders.coco_json",
      "TRAIN_FILE_PATTERN = 'instances_train.json'", "TRAIN_BATCH_SIZE = 2",
      f"data_decoders.coco_json.image_dir = '{sharded_shapes_dir / 'images'}'")
  images, labels = _batch("train")
  assert images.shape == (2, 64, 64, 3) and labels["gt_masks"].shape == (2, 8, 56, 56)


def test_label_map_decoder_reads_class_names(sharded_shapes_dir, tmp_path):
  label_map = tmp_path / "labels.csv"
  label_map.write_text("1,square\n2,circle\n3,triangle\n")
  label_map_decoder = DATA_DECODERS.get("tf_example_label_map")(label_map=str(label_map))
  plain = DATA_DECODERS.get("tf_example")()
  for record in tf.data.TFRecordDataset(str(next(sharded_shapes_dir.glob("val-*")))):
    np.testing.assert_array_equal(label_map_decoder.decode(record)["groundtruth_classes"],
                                  plain.decode(record)["groundtruth_classes"])
  with pytest.raises(UserError, match="missing.csv"):
    DATA_DECODERS.get("tf_example_label_map")(label_map=str(tmp_path / "missing.csv"))


def test_parser_rejects_output_size_not_a_multiple_of_the_coarsest_stride():
  with pytest.raises(UserError, match="multiples of 2\\*\\*max_level = 64"):
    PARSERS.get("maskrcnn")(output_size=[100, 128])


def test_missing_files_name_the_pattern_and_the_demo_command(tmp_path):
  with pytest.raises(UserError, match="make-shapes --output"):
    input_pipeline(file_pattern="train-*.tfrecord", data_dir=str(tmp_path / "nowhere"))
  with pytest.raises(UserError, match="is not set"):
    input_pipeline(file_pattern=None)
  with pytest.raises(ConstraintError, match="data.input_pipeline.bad_records = 'ignore' is not"):
    input_pipeline(file_pattern="x", bad_records="ignore")


def test_decoders_and_parsers_keep_their_registry_protocols():
  assert isinstance(DATA_DECODERS.get("tf_example")(), SummarizingDecoder)
  assert isinstance(PARSERS.get("maskrcnn")(output_size=[64, 64]), Parser)
  with pytest.raises(UserError, match="data.input_pipeline.decoder gave a dict, not a data "
                                      "decoder: a data_decoders factory must return an object "
                                      "with a `decode\\(record\\)` method"):
    input_pipeline(file_pattern="x", decoder=lambda: {})
  with pytest.raises(UserError, match="data.input_pipeline.parser gave a str, not a parser: a "
                                      "parsers factory must return an object with a "
                                      "`parse_fn\\(is_training\\)` method"):
    input_pipeline(file_pattern="x", parser=lambda: "maskrcnn")


def test_a_decoder_summary_without_the_checked_keys_fails_when_the_pipeline_is_built(
    sharded_shapes_dir):

  class NoMaskCount:
    def __init__(self):
      self._decoder = DATA_DECODERS.get("tf_example")()

    def decode(self, record):
      return self._decoder.decode(record)

    def summarize(self, record):
      summary = dict(self._decoder.summarize(record))
      del summary["num_masks"]
      return summary

  _parse_shapes_gin(sharded_shapes_dir)
  with pytest.raises(UserError) as info, gin.config_scope("eval"):
    input_pipeline(decoder=NoMaskCount())
  message = first_line(info.value)  # gin adds its call note below
  assert message.startswith("NoMaskCount.summarize(record) must return the dict the record "
                            "check reads")
  assert message.endswith("it returned missing num_masks.")
