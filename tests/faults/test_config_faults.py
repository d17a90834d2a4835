"""Config mistakes through `maskrcnn validate|train`: one message, exit 2, no traceback.

Each case is a broken user gin file (the bad line is line 4, after the shipped
shapes config, a 64 px image size and the data folder) or a broken
--gin_param binding. The message must name the file and line, or the binding,
or the configurable and parameter, and say how to fix it. Cases already
covered elsewhere are not repeated here: parse errors of parse_gin itself
(tests/config/test_gin_config.py), `@backbones.resnt` and IMAGE_SIZE
[100, 100] as bindings (tests/modeling/test_validate_cli.py),
summary_interval and an unknown strategy (tests/training/test_cli.py).
"""

import pytest

# (case id, command, bad line of the user file, fragments the message must hold).
# "{file}" in a fragment stands for the user file's path.
FILE_CASES = [
    ("misspelled_configurable", "validate", "backbones.resnett.model_id = 18",
     ["No configurable matching 'backbones.resnett'", "Did you mean 'backbones.resnet'?",
      'line 4']),
    ("misspelled_module", "validate", "backbonez.resnet.model_id = 18",
     ["No configurable matching 'backbonez.resnet'", "'backbones.resnet'", "line 4"]),
    ("misspelled_parameter", "validate", "backbones.resnet.modelid = 18",
     ["doesn't have a parameter named 'modelid'", "Did you mean 'model_id'?", "line 4"]),
    ("misspelled_fpn_parameter", "validate", "decoders.fpn.num_filter = 64",
     ["Did you mean 'num_filters'?", "line 4"]),
    ("unknown_backbone_name", "validate", "maskrcnn.build_maskrcnn.backbone = @backbones.resnext()",
     ["'@backbones.resnext()'", "Registered backbones: ", "resnet", "line 4"]),
    ("unknown_optimizer_reference", "train",
     "optimization.build_optimizer.optimizer = @optimizers.sgdd",
     ["Did you mean 'optimizers.sgd'?", "Registered optimizers:", "line 4"]),
    ("unknown_schedule_reference", "train",
     "lr_schedules.linear_warmup.schedule = @lr_schedules.cosin()",
     ["Did you mean 'lr_schedules.cosine'?", "line 4"]),
    ("unknown_data_decoder", "train", "data.input_pipeline.decoder = @data_decoders.tf_exampel",
     ["Did you mean 'data_decoders.tf_example' or", "line 4"]),
    ("unknown_parser", "train", "data.input_pipeline.parser = @parsers.maskrnn",
     ["Did you mean 'parsers.maskrcnn'?", "line 4"]),
    ("undefined_macro", "validate", "NUM_CLASSES = %NUM_CLASSE",
     ["Gin macro %NUM_CLASSE is not defined", "{file}:4:", "Did you mean 'NUM_CLASSES'?"]),
    ("misspelled_macro_in_value", "validate", "maskrcnn.build_maskrcnn.image_size = %IMAGE_SZE",
     ["Gin macro %IMAGE_SZE is not defined", "{file}:4:", "Did you mean 'IMAGE_SIZE'?"]),
    ("string_for_int", "validate", "backbones.resnet.model_id = 'eighteen'",
     ["backbones.resnet", "model_id='eighteen' is not a ResNet depth", "use one of 10, 18"]),
    ("unsupported_depth", "validate", "backbones.resnet.model_id = 19",
     ["model_id=19 is not a ResNet depth", "model_id = 19"]),
    ("string_for_filters", "validate", "decoders.fpn.num_filters = 'wide'",
     ["The decoder 'decoders.fpn' could not be built", "num_filters = 'wide'"]),
    ("image_size_not_a_pair", "validate", "IMAGE_SIZE = 64",
     ["maskrcnn.build_maskrcnn.image_size = 64 is not valid", "[height, width]"]),
    ("image_size_not_divisible_by_stride", "train", "IMAGE_SIZE = [100, 100]",
     ["image_size = [100, 100] must be divisible by", "Use e.g. IMAGE_SIZE = [128, 128]."]),
    ("one_class", "validate", "NUM_CLASSES = 1",
     ["num_classes = 1 is not valid", "including background"]),
    ("anchor_levels_reversed", "validate", "maskrcnn.AnchorSettings.min_level = 6",
     ["AnchorSettings needs 1 <= min_level <= max_level", "min_level=6"]),
    ("missing_required_value", "train",
     "optimization.build_optimizer.optimizer = @optimizers.sgd()",
     ["Calling gin configurable optimizers.sgd failed", "'learning_rate'",
      "Bind the missing value, e.g. `optimizers.sgd.learning_rate = ...`", "{file}:4:"]),
    ("missing_file_pattern", "train", "TRAIN_FILE_PATTERN = None",
     ["data.input_pipeline.file_pattern is not set", "data/train-*.tfrecord"]),
    ("string_for_warmup_steps", "train", "lr_schedules.linear_warmup.warmup_steps = 'x'",
     ["Calling gin configurable lr_schedules.linear_warmup failed: TypeError",
      "{file}:4: lr_schedules.linear_warmup.warmup_steps = 'x'"]),
    ("unknown_precision", "train", "runtime.mixed_precision = 'float16'",
     ["runtime.mixed_precision must be one of float32, mixed_float16, mixed_bfloat16"]),
    ("float16_without_gpu", "train", "runtime.mixed_precision = 'mixed_float16'",
     ["needs a GPU", "'mixed_bfloat16' on CPU"]),
    ("strategy_as_string", "train", "runtime.strategy = 'mirrored'",
     ["runtime.strategy must name a strategy factory such as @strategies.mirrored",
      "Registered: mirrored"]),
    ("multi_worker_without_tf_config", "train",
     "runtime.strategy = @strategies.multi_worker_mirrored",
     ["strategies.multi_worker_mirrored needs the TF_CONFIG environment variable"]),
    ("unknown_bad_record_policy", "train", "data.input_pipeline.bad_records = 'ignore'",
     ["data.input_pipeline.bad_records must be one of ('error', 'skip'), got 'ignore'"]),
    ("zero_batch", "train", "TRAIN_BATCH_SIZE = 0",
     ["data.input_pipeline.global_batch_size must be a positive integer, got 0"]),
    ("zero_train_steps", "train", "schedule.train_steps = 0",
     ["schedule.train_steps must be a positive integer, got 0"]),
    ("string_checkpoint_interval", "train", "schedule.checkpoint_interval = 'often'",
     ["schedule.checkpoint_interval must be a positive integer, got 'often'"]),
    ("missing_warm_start_checkpoint", "train",
     "checkpoints.warm_start.checkpoint = '/no/such/backbone'",
     ["checkpoints.warm_start.checkpoint '/no/such/backbone' is not a checkpoint"]),
    ("bad_include_path", "validate", "include 'base/modle.gin'",
     ["Gin include 'base/modle.gin' not found", "Did you mean 'base/model'", "line 4"]),
    ("missing_import", "validate", "import my_missing_parts",
     ["No module named 'my_missing_parts'", "Install the module", "line 4"]),
    ("syntax_error", "validate", "backbones.resnet.model_id == 18",
     ["Gin syntax error in {file}, line 4", "expected ':' or '='"]),
    ("unclosed_bracket", "validate", "IMAGE_SIZE = [64, 64",
     ["a bracket or quote is never closed in gin file {file}"]),
    ("denylisted_parameter", "train", "data.input_pipeline.input_context = 1",
     ["denylisted kwarg 'input_context'", "line 4"]),
]

# (case id, command, bindings, fragments).
BINDING_CASES = [
    ("binding_misspelled_parameter", "validate", ["backbones.resnet.widht = 2"],
     ["doesn't have a parameter named 'widht'", "Parameters of backbones.resnet:",
      "backbones.resnet.widht = 2"]),
    ("binding_syntax_error", "validate", ["decoders.fpn.num_filters 64"],
     ["Gin syntax error in a binding", "decoders.fpn.num_filters 64"]),
    ("binding_undefined_macro", "validate", ["NUM_CLASSES = %NUM_CLASS"],
     ["Gin macro %NUM_CLASS is not defined", "binding 'NUM_CLASSES = %NUM_CLASS'"]),
    ("binding_string_for_steps", "train", ["schedule.train_steps = 'ten'"],
     ["schedule.train_steps must be a positive integer, got 'ten'"]),
    ("binding_wrong_nccl_name", "train",
     ["runtime.strategy = @strategies.mirrored", "strategies.mirrored.cross_device_ops = 'nccll'"],
     ["strategies.mirrored.cross_device_ops must be one of 'nccl', 'hierarchical_copy' or None"]),
]


def _check(status, err, fragments, path=""):
  assert status == 2, err
  assert err.count("maskrcnn ") == 1 and "error: " in err, err
  assert "Traceback" not in err and "In call to configurable" not in err, err
  for fragment in fragments:
    assert fragment.format(file=path) in err, err


@pytest.fixture
def user_gin(tmp_path, shapes_dir):
  """Writes `<case>.gin`: the shapes config at 64 px on `shapes_dir`, then `line` (line 4)."""

  def write(case, line):
    path = tmp_path / f"{case}.gin"  # unique name: gin's include search path is global
    path.write_text(f"include 'maskrcnn_shapes_r18_cpu.gin'\nIMAGE_SIZE = [64, 64]\n"
                    f"SHAPES_DIR = '{shapes_dir}'\n{line}\n")
    return str(path)
  return write


def _command(command, tmp_path):
  extra = ([f"--model_dir={tmp_path / 'run'}", "--mode=train"] if command == "train" else [])
  return [command] + extra


@pytest.mark.parametrize("case, command, line, fragments", FILE_CASES,
                         ids=[case[0] for case in FILE_CASES])
def test_broken_gin_file(cli, user_gin, tmp_path, case, command, line, fragments):
  path = user_gin(case, line)
  status, err = cli(*_command(command, tmp_path), f"--gin_file={path}")
  _check(status, err, fragments, path)


@pytest.mark.parametrize("case, command, bindings, fragments", BINDING_CASES,
                         ids=[case[0] for case in BINDING_CASES])
def test_broken_binding(cli, user_gin, tmp_path, case, command, bindings, fragments):
  path = user_gin(case, "")
  status, err = cli(*_command(command, tmp_path), f"--gin_file={path}",
                    *[f"--gin_param={b}" for b in bindings])
  _check(status, err, fragments)


def test_misspelled_shipped_config_name(cli, tmp_path):
  status, err = cli("validate", "--gin_file=maskrcnn_shapes_r18_cpuu")
  _check(status, err, ["Gin file 'maskrcnn_shapes_r18_cpuu' not found",
                       "Did you mean 'maskrcnn_shapes_r18_cpu'"])


def test_circular_include_names_the_chain(cli, tmp_path):
  first, second = tmp_path / "loop_first.gin", tmp_path / "loop_second.gin"
  first.write_text("include 'maskrcnn_shapes_r18_cpu.gin'\ninclude 'loop_second.gin'\n")
  second.write_text("# loops back\ninclude 'loop_first.gin'\n")
  status, err = cli("validate", f"--gin_file={first}")
  _check(status, err, [f"Circular gin include: {first} includes {second} includes {first}",
                       "Remove one of these include lines", "line 2"])


def test_verbose_shows_the_traceback(user_gin, tmp_path):
  from maskrcnn_plugin.cli.main import main  # pylint: disable=import-outside-toplevel
  path = user_gin("verbose", "lr_schedules.linear_warmup.warmup_steps = 'x'")
  with pytest.raises(TypeError, match="not supported between instances of 'str' and 'int'"):
    main(["--verbose", "train", f"--gin_file={path}", f"--model_dir={tmp_path / 'run'}",
          "--mode=train"])
