"""A VIA dataset goes through `convert-via` and `maskrcnn train` without hand-written code."""

import json
import pathlib

from maskrcnn_plugin.cli.main import main
from via_labelme_files import balloon_region_data, image_bytes, write_json

TINY_GIN = pathlib.Path(__file__).parents[1] / "faults" / "tiny.gin"


def test_via_dataset_converts_and_trains_with_class_names(tmp_path, capsys):
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
  status = main(["train", f"--gin_file={TINY_GIN}", f"--model_dir={model_dir}",
                 f"--gin_param=SHAPES_DIR = '{data}'",
                 "--gin_param=TRAIN_FILE_PATTERN = 'train-*.tfrecord'",
                 "--gin_param=EVAL_FILE_PATTERN = 'val-*.tfrecord'",
                 "--gin_param=NUM_CLASSES = 2", "--gin_param=TRAIN_STEPS = 2",
                 "--gin_param=schedule.checkpoint_interval = 2"])
  captured = capsys.readouterr()
  assert status == 0, captured.err
  assert "eval at step 2" in captured.out
  metrics = json.loads((model_dir / "eval" / "metrics_2.json").read_text())
  assert "mask AP" in json.dumps(metrics) or "mask_AP" in json.dumps(metrics) or metrics
  assert json.loads((model_dir / "classes.json").read_text()) == [{"id": 1, "name": "balloon"}]
