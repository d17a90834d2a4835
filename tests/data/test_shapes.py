"""The synthetic shapes dataset: deterministic bytes and sane content."""

import hashlib
import json

import numpy as np
import pytest
import tensorflow as tf
from official.vision.dataloaders import tf_example_decoder
from pycocotools import mask as mask_api

from maskrcnn_plugin.data import shapes


def _digests(directory):
  return {p.relative_to(directory).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
          for p in sorted(directory.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_and_other_seed_other_bytes(tmp_path):
  for name, seed, workers in (("a", 5, 1), ("b", 5, 2), ("c", 6, 1)):
    shapes.write_shapes_dataset(str(tmp_path / name), num_train=4, num_val=2, image_size=64,
                                seed=seed, train_shards=2, val_shards=1, workers=workers)
  a, b, c = (_digests(tmp_path / n) for n in "abc")
  assert len(a) == 2 + 1 + 2 + 6  # shards, JSONs, PNG images
  assert a == b
  assert a.keys() == c.keys() and a != c
  # Records are serialized with sorted feature keys, so the bytes do not depend
  # on the process (protobuf map order otherwise follows string hashing).
  for record in tf.data.TFRecordDataset(str(tmp_path / "a" / "train-00000-of-00002.tfrecord")):
    example = tf.train.Example.FromString(record.numpy())
    assert example.SerializeToString(deterministic=True) == record.numpy()


@pytest.mark.smoke
def test_records_decode_with_model_garden_and_masks_match_boxes(sharded_shapes_dir,
                                                                sharded_shapes_sizes):
  size = sharded_shapes_sizes["image_size"]
  decoder = tf_example_decoder.TfExampleDecoder(include_mask=True)
  files = sorted(str(p) for p in sharded_shapes_dir.glob("train-*.tfrecord"))
  assert len(files) == 2
  records = list(tf.data.TFRecordDataset(files))
  assert len(records) == sharded_shapes_sizes["num_train"]
  classes_seen = set()
  for record in records:
    decoded = {k: v.numpy() for k, v in decoder.decode(record).items()}
    assert decoded["image"].shape == (size, size, 3)
    masks, boxes = decoded["groundtruth_instance_masks"], decoded["groundtruth_boxes"]
    assert 1 <= len(masks) == len(boxes) <= shapes.MAX_SHAPES
    assert set(np.unique(masks)) <= {0.0, 1.0}
    classes_seen.update(decoded["groundtruth_classes"].tolist())
    for mask, (ymin, xmin, ymax, xmax), area in zip(masks, boxes, decoded["groundtruth_area"]):
      ys, xs = np.nonzero(mask)
      # The box is the tight box of the visible mask, in normalized coordinates.
      np.testing.assert_allclose([ys.min(), xs.min(), ys.max() + 1, xs.max() + 1],
                                 np.array([ymin, xmin, ymax, xmax]) * size, atol=1e-3)
      assert area == mask.sum() >= shapes.MIN_VISIBLE_AREA
    # Occlusion: the visible masks of one image do not overlap.
    assert masks.sum(axis=0).max() == 1
  assert classes_seen <= {1, 2, 3} and len(classes_seen) >= 2


def test_coco_json_matches_records(sharded_shapes_dir, sharded_shapes_sizes):
  coco = json.loads((sharded_shapes_dir / "instances_val.json").read_text())
  assert [c["name"] for c in coco["categories"]] == ["square", "circle", "triangle"]
  assert len(coco["images"]) == sharded_shapes_sizes["num_val"]
  for ann in coco["annotations"]:
    mask = mask_api.decode(ann["segmentation"])
    assert mask.sum() == ann["area"]
    x, y, w, h = ann["bbox"]
    assert mask[y:y + h, x:x + w].sum() == ann["area"]
  for image in coco["images"]:
    assert (sharded_shapes_dir / "images" / image["file_name"]).is_file()


def test_small_images_are_rejected(tmp_path):
  with pytest.raises(ValueError, match="at least 32"):
    shapes.write_shapes_dataset(str(tmp_path), num_train=1, num_val=0, image_size=16)
