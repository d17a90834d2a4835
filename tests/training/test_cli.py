"""`maskrcnn train` reports bad settings as one message and exit status 2."""

from maskrcnn_plugin.cli.main import main


def test_summary_interval_not_a_multiple_of_steps_per_loop(tmp_path, capsys):
  status = main(["train", "--gin_file=maskrcnn_shapes_r18_cpu",
                 "--gin_param=schedule.summary_interval = 75",
                 f"--model_dir={tmp_path / 'run'}", "--mode=train"])
  err = capsys.readouterr().err
  assert status == 2
  assert err.startswith("maskrcnn train: error: schedule.summary_interval (75) must be a positive "
                        "multiple of schedule.steps_per_loop (50)")
  assert "Traceback" not in err


def test_eval_mode_without_checkpoint(tmp_path, capsys):
  status = main(["train", "--gin_file=maskrcnn_shapes_r18_cpu",
                 f"--model_dir={tmp_path / 'empty'}", "--mode=eval"])
  assert status == 2
  assert "--mode=eval needs a checkpoint in" in capsys.readouterr().err


def test_unknown_strategy_names_the_registered_ones(tmp_path, capsys):
  status = main(["train", "--gin_file=maskrcnn_shapes_r18_cpu",
                 "--gin_param=runtime.strategy = @strategies.mirored",
                 f"--model_dir={tmp_path / 'run'}"])
  err = capsys.readouterr().err
  assert status == 2
  assert "strategies.mirrored" in err
