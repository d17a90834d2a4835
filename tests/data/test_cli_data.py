"""`maskrcnn data make-shapes | convert-coco | check` through the CLI's main()."""

import tensorflow as tf

from maskrcnn_plugin.cli.main import main
from maskrcnn_plugin.data import check


def test_make_shapes_then_check_is_clean_and_renders(tmp_path, capsys):
  out = tmp_path / "shapes"
  assert main(["data", "make-shapes", "--output", str(out), "--train", "3", "--val", "2",
               "--image-size", "64", "--seed", "1"]) == 0
  printed = capsys.readouterr().out
  assert "train: 3 images" in printed and "images/s" in printed
  assert (out / "instances_val.json").is_file()
  assert (out / "images" / "val" / "000001.png").is_file()
  assert main(["data", "check", str(out / "val-*.tfrecord"), "--num-classes", "4",
               "--render", "2", "--output", str(tmp_path / "render")]) == 0
  printed = capsys.readouterr().out
  assert "images: 2" in printed and "inconsistent records: 0" in printed
  assert len(list((tmp_path / "render").glob("*.png"))) == 2


def test_check_flags_planted_inconsistencies_with_file_and_index(sharded_shapes_dir, tmp_path,
                                                                 capsys):
  records = list(tf.data.TFRecordDataset(sorted(str(p) for p in sharded_shapes_dir.glob("val-*"))))
  examples = [tf.train.Example.FromString(r.numpy()) for r in records[:4]]
  examples[1].features.feature["image/object/class/label"].int64_list.value[0] = 9
  examples[2].features.feature["image/object/bbox/xmin"].float_list.value[0] = -0.5
  del examples[3].features.feature["image/object/mask"].bytes_list.value[0]
  path = str(tmp_path / "planted.tfrecord")
  with tf.io.TFRecordWriter(path) as writer:
    for example in examples:
      writer.write(example.SerializeToString())
  report = check.check_records(path, num_classes=4)
  assert [(p, i) for p, i, _ in report.problems] == [(path, 1), (path, 2), (path, 3)]
  assert main(["data", "check", path, "--num-classes", "4"]) == 1
  printed = capsys.readouterr().out
  assert "inconsistent records: 3" in printed
  assert f"{path} #1: class ids [9] are outside the label range [1, 3]" in printed
  assert f"{path} #2: a box lies outside the image" in printed
  assert f"{path} #3: " in printed and "masks for" in printed
  assert "images: 4" in printed and "square" in printed


def test_convert_coco_command_and_its_errors(sharded_shapes_dir, tmp_path, capsys):
  prefix = str(tmp_path / "val")
  assert main(["data", "convert-coco",
               "--annotations", str(sharded_shapes_dir / "instances_val.json"),
               "--images", str(sharded_shapes_dir / "images"), "--output", prefix, "--shards", "2",
               "--workers", "1"]) == 0
  assert "wrote 6 images" in capsys.readouterr().out
  assert main(["data", "check", prefix + "-*", "--num-classes", "4"]) == 0
  capsys.readouterr()
  assert main(["data", "convert-coco", "--annotations", str(tmp_path / "none.json"),
               "--images", str(sharded_shapes_dir / "images"), "--output", prefix,
               "--shards", "1"]) == 2
  err = capsys.readouterr().err
  assert err.startswith("maskrcnn data: error: ") and "none.json' does not exist" in err
  assert main(["data", "check", str(tmp_path / "nothing-*")]) == 2
  assert "no file matches" in capsys.readouterr().err
