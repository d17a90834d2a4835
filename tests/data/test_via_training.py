"""A VIA dataset goes through `convert-via`, `maskrcnn train` and `predict` without code.

The class name of the VIA file reaches the run folder, the TensorBoard
pictures of the evaluation and the predict results.
"""

import glob
import json

import numpy as np
import tensorflow as tf

from maskrcnn_plugin.cli.main import main
from maskrcnn_plugin.serving.restore import restore_run
from helpers.tiny_models import TINY_TRAINING_GIN
from helpers.via_labelme import balloon_region_data, image_bytes, write_json


def _pictures(eval_dir):
  """The images of the eval_pictures summary, decoded."""
  found = []
  for path in glob.glob(str(eval_dir / "events.out.tfevents.*")):
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        if value.tag == "eval_pictures":
          tensor = tf.make_ndarray(value.tensor)  # [width, height, png, png, ...]
          found += [tf.io.decode_png(png).numpy() for png in tensor[2:]]
  return found


def test_via_dataset_converts_trains_and_predicts_with_class_names(tmp_path, capsys):
  data = tmp_path / "balloon"
  for split, seeds in (("train", range(4)), ("val", range(4, 6))):
    (data / split).mkdir(parents=True)
    names = [f"{split}{i}.jpg" for i in seeds]
    for seed, name in zip(seeds, names):
      (data / split / name).write_bytes(image_bytes(seed, "JPEG"))
    write_json(data / split / "via_region_data.json", balloon_region_data(names))
    assert main(["data", "convert-via", "--annotations",
                 str(data / split / "via_region_data.json"), "--output", str(data / split),
                 "--shards", "1", "--class-name", "balloon", "--workers", "1"]) == 0
  capsys.readouterr()
  model_dir = tmp_path / "run"
  status = main(["train", f"--gin_file={TINY_TRAINING_GIN}", f"--model_dir={model_dir}",
                 f"--gin_param=SHAPES_DIR = '{data}'",
                 "--gin_param=TRAIN_FILE_PATTERN = 'train-*.tfrecord'",
                 "--gin_param=EVAL_FILE_PATTERN = 'val-*.tfrecord'",
                 "--gin_param=NUM_CLASSES = 2", "--gin_param=TRAIN_STEPS = 2",
                 "--gin_param=schedule.checkpoint_interval = 2"])
  captured = capsys.readouterr()
  assert status == 0, captured.err
  assert "eval at step 2" in captured.out
  metrics = json.loads((model_dir / "eval" / "metrics_2.json").read_text())
  assert 0.0 <= metrics["mask/AP"] <= 1.0
  assert json.loads((model_dir / "classes.json").read_text()) == [{"id": 1, "name": "balloon"}]
  pictures = _pictures(model_dir / "eval")
  # The 2 val images: ground truth (left) beside detections (right), 64 px each.
  assert len(pictures) == 2 and pictures[0].shape == (64, 128, 3)
  left = pictures[0][:, :64].astype(int)
  assert np.abs(left - pictures[0][:, 64:].astype(int)).sum() > 0  # Ground truth is drawn.

  # Export takes the run's classes.json into the SavedModel's assets with the gin files.
  assert str(model_dir / "classes.json") in restore_run(str(model_dir)).config_files
  out = tmp_path / "predicted"
  assert main(["predict", f"--model_dir={model_dir}", f"--images={data}/val/*.jpg",
               f"--output={out}", "--score_threshold=0.0"]) == 0
  assert json.loads((out / "classes.json").read_text()) == [{"id": 1, "name": "balloon"}]
