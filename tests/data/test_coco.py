"""COCO conversion both ways with Model Garden, and the COCO-JSON reader."""

import json

import numpy as np
import pytest
import tensorflow as tf
from official.vision.data import create_coco_tf_record, tfrecord_lib
from official.vision.dataloaders import tf_example_decoder
from PIL import Image
from pycocotools import mask as mask_api

from maskrcnn_plugin import DATA_DECODERS
from maskrcnn_plugin.data import coco, convert_coco
from maskrcnn_plugin.errors import UserError

HEIGHT, WIDTH = 48, 64
CATEGORIES = [{"id": 1, "name": "square"}, {"id": 2, "name": "circle"},
              {"id": 3, "name": "triangle"}]


def _rle_counts(mask):
  """Uncompressed RLE counts (column-major run lengths, starting with zeros)."""
  flat = np.asfortranarray(mask).flatten(order="F")
  changes = np.flatnonzero(np.diff(np.concatenate([[0], flat, [1 - flat[-1]]])))
  return np.diff(np.concatenate([[0], changes])).tolist()


def _image(seed, mode="RGB"):
  """A smooth colour gradient (JPEG re-encoding keeps it close)."""
  yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
  pixels = np.stack([yy * 5, xx * 4, (yy + xx + seed * 40) % 256], -1).astype(np.uint8)
  return Image.fromarray(pixels).convert(mode)


@pytest.fixture(scope="module")
def coco_dir(tmp_path_factory):
  """Images and two annotation files.

  mg.json: RGB JPEGs, polygons and a crowd region in uncompressed RLE (what
  Model Garden's converter handles). full.json adds a compressed-RLE object,
  grayscale and CMYK JPEGs and an image without annotations.
  """
  root = tmp_path_factory.mktemp("coco")
  (root / "images").mkdir()
  images = []
  for image_id, mode in ((1, "RGB"), (2, "RGB"), (3, "L"), (4, "CMYK"), (5, "RGB")):
    name = f"{image_id:03d}.jpg"
    _image(image_id, mode).save(root / "images" / name, quality=95)
    images.append({"id": image_id, "file_name": name, "height": HEIGHT, "width": WIDTH})
  crowd = np.zeros((HEIGHT, WIDTH), np.uint8)
  crowd[30:40, 5:25] = 1
  blob = np.zeros((HEIGHT, WIDTH), np.uint8)
  blob[10:20, 40:60] = 1
  compressed = mask_api.encode(np.asfortranarray(blob))
  annotations = [
      {"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 100.0,
       "bbox": [10, 5, 10, 10], "segmentation": [[10, 5, 20, 5, 20, 15, 10, 15]]},
      {"id": 2, "image_id": 1, "category_id": 3, "iscrowd": 0, "area": 50.0,
       "bbox": [30, 20, 20, 20], "segmentation": [[30, 40, 40, 20, 50, 40]]},
      {"id": 3, "image_id": 2, "category_id": 2, "iscrowd": 1, "area": 200.0,
       "bbox": [5, 30, 20, 10],
       "segmentation": {"size": [HEIGHT, WIDTH], "counts": _rle_counts(crowd)}},
  ]
  extra = [
      {"id": 4, "image_id": 3, "category_id": 2, "iscrowd": 0, "area": 200.0,
       "bbox": [40, 10, 20, 10],
       "segmentation": {"size": [HEIGHT, WIDTH], "counts": compressed["counts"].decode()}},
      {"id": 5, "image_id": 4, "category_id": 1, "iscrowd": 0, "area": 100.0,
       "bbox": [10, 5, 10, 10], "segmentation": [[10, 5, 20, 5, 20, 15, 10, 15]]},
  ]
  (root / "mg.json").write_text(json.dumps(
      {"images": images[:2], "annotations": annotations, "categories": CATEGORIES}))
  (root / "full.json").write_text(json.dumps(
      {"images": images, "annotations": annotations + extra, "categories": CATEGORIES}))
  return root


def _decode_all(pattern, decoder=None):
  decoder = decoder or tf_example_decoder.TfExampleDecoder(include_mask=True)
  files = sorted(tf.io.gfile.glob(pattern))
  out = {}
  for record in tf.data.TFRecordDataset(files):
    decoded = {k: v.numpy() for k, v in decoder.decode(record).items()}
    out[int(decoded["source_id"])] = decoded
  return out


def test_plugin_records_decode_with_model_garden(coco_dir, tmp_path):
  summary = convert_coco.convert_coco(str(coco_dir / "full.json"), str(coco_dir / "images"),
                                      str(tmp_path / "full"), 2, workers=2, progress=False)
  assert (summary.images, summary.instances) == (5, 5)
  assert len(list(tmp_path.glob("full-*-of-00002.tfrecord"))) == 2
  decoded = _decode_all(str(tmp_path / "full-*"))
  assert sorted(decoded) == [1, 2, 3, 4, 5]
  assert len(decoded[5]["groundtruth_classes"]) == 0  # kept without annotations
  for image_id, record in decoded.items():
    assert record["image"].shape == (HEIGHT, WIDTH, 3), image_id
  # Grayscale and CMYK become RGB with the same content as Pillow's conversion.
  for image_id in (3, 4):
    expected = np.asarray(Image.open(coco_dir / "images" / f"{image_id:03d}.jpg").convert("RGB"))
    assert np.abs(decoded[image_id]["image"].astype(int) - expected).mean() < 3, image_id
  masks = decoded[1]["groundtruth_instance_masks"]
  assert masks.shape == (2, HEIGHT, WIDTH) and masks[0].sum() > 0 and masks[1].sum() > 0
  assert decoded[2]["groundtruth_is_crowd"].tolist() == [True]
  assert decoded[2]["groundtruth_instance_masks"][0].sum() == 200
  assert decoded[3]["groundtruth_instance_masks"][0].sum() == 200  # compressed RLE
  np.testing.assert_allclose(decoded[1]["groundtruth_boxes"][0],
                             [5 / HEIGHT, 10 / WIDTH, 15 / HEIGHT, 20 / WIDTH], atol=1e-6)


def test_model_garden_records_decode_with_the_plugin(coco_dir, tmp_path):
  # pylint: disable-next=protected-access
  img_to_ann, id_to_name = create_coco_tf_record._load_object_annotations(
      str(coco_dir / "mg.json"))
  images = json.loads((coco_dir / "mg.json").read_text())["images"]
  tfrecord_lib.write_tf_record_dataset(
      str(tmp_path / "mg"),
      create_coco_tf_record.generate_annotations(
          images, [str(coco_dir / "images")], img_to_obj_annotation=img_to_ann,
          id_to_name_map=id_to_name, include_masks=True),
      create_coco_tf_record.create_tf_example, 1, multiple_processes=0)
  label_map = tmp_path / "labels.csv"
  label_map.write_text("".join(f"{c['id']},{c['name']}\n" for c in CATEGORIES))
  ours = _decode_all(str(tmp_path / "mg-*"), DATA_DECODERS.get("tf_example")())
  by_name = _decode_all(str(tmp_path / "mg-*"),
                        DATA_DECODERS.get("tf_example_label_map")(label_map=str(label_map)))
  convert_coco.convert_coco(str(coco_dir / "mg.json"), str(coco_dir / "images"),
                            str(tmp_path / "plugin"), 1, workers=1, progress=False)
  plugin = _decode_all(str(tmp_path / "plugin-*"))
  assert sorted(ours) == sorted(plugin) == [1, 2]
  for image_id in ours:
    for key in ("groundtruth_classes", "groundtruth_instance_masks", "groundtruth_is_crowd",
                "image"):
      np.testing.assert_array_equal(ours[image_id][key], plugin[image_id][key], err_msg=key)
    np.testing.assert_array_equal(by_name[image_id]["groundtruth_classes"],
                                  ours[image_id]["groundtruth_classes"])


def test_coco_json_reader_matches_converted_records(coco_dir, tmp_path):
  convert_coco.convert_coco(str(coco_dir / "full.json"), str(coco_dir / "images"),
                            str(tmp_path / "full"), 1, workers=1, progress=False)
  converted = _decode_all(str(tmp_path / "full-*"))
  reader = DATA_DECODERS.get("coco_json")(image_dir=str(coco_dir / "images"))
  for record, _, _ in reader.records([str(coco_dir / "full.json")]):
    decoded = {k: v.numpy() for k, v in reader.decode(record).items()}
    expected = converted[int(decoded["source_id"])]
    for key in ("groundtruth_classes", "groundtruth_instance_masks", "groundtruth_is_crowd"):
      np.testing.assert_array_equal(decoded[key], expected[key], err_msg=key)
    assert decoded["image"].shape == (HEIGHT, WIDTH, 3)


def _with_problem(coco_dir, tmp_path, change):
  data = json.loads((coco_dir / "full.json").read_text())
  change(data)
  path = tmp_path / "changed.json"
  path.write_text(json.dumps(data))
  return str(path)


def test_missing_image_is_named_or_skipped_and_counted(coco_dir, tmp_path):
  def rename(data):
    data["images"][1]["file_name"] = "gone.jpg"
  annotations = _with_problem(coco_dir, tmp_path, rename)
  with pytest.raises(UserError, match="gone.jpg' does not exist"):
    convert_coco.convert_coco(annotations, str(coco_dir / "images"), str(tmp_path / "out"), 1,
                              workers=2, progress=False)
  summary = convert_coco.convert_coco(annotations, str(coco_dir / "images"),
                                      str(tmp_path / "out"), 1, workers=1, skip_bad=True,
                                      progress=False)
  assert summary.images == 4 and len(summary.skipped_images) == 1
  assert "gone.jpg" in summary.skipped_images[0]


def test_unreadable_image_and_bad_annotation_are_named(coco_dir, tmp_path):
  (tmp_path / "images").mkdir()
  for p in (coco_dir / "images").iterdir():
    (tmp_path / "images" / p.name).write_bytes(p.read_bytes())
  (tmp_path / "images" / "002.jpg").write_bytes(
      (coco_dir / "images" / "002.jpg").read_bytes()[:200])
  with pytest.raises(coco.BadImageError, match="002.jpg' cannot be decoded"):
    convert_coco.convert_coco(str(coco_dir / "full.json"), str(tmp_path / "images"),
                              str(tmp_path / "out"), 1, workers=1, progress=False)

  def zero_area(data):
    data["annotations"][0]["bbox"] = [10, 5, 0, 10]
  annotations = _with_problem(coco_dir, tmp_path, zero_area)
  with pytest.raises(UserError,
                     match=r"annotation id 1 of image '001.jpg' \(id 1\): bbox .* zero or negative"):
    convert_coco.convert_coco(annotations, str(coco_dir / "images"), str(tmp_path / "out"), 1,
                              workers=1, progress=False)
  summary = convert_coco.convert_coco(annotations, str(coco_dir / "images"),
                                      str(tmp_path / "out"), 1, workers=1, skip_bad=True,
                                      progress=False)
  assert summary.instances == 4 and len(summary.skipped_annotations) == 1


def test_bad_annotation_files_are_named(tmp_path):
  with pytest.raises(coco.CocoFormatError, match="does not exist"):
    coco.load_coco(str(tmp_path / "none.json"))
  (tmp_path / "bad.json").write_text("{")
  with pytest.raises(coco.CocoFormatError, match="not valid JSON"):
    coco.load_coco(str(tmp_path / "bad.json"))
  (tmp_path / "no_images.json").write_text("{}")
  with pytest.raises(coco.CocoFormatError, match="no 'images' list"):
    coco.load_coco(str(tmp_path / "no_images.json"))
