"""Config mistakes through `maskrcnn validate|train`: one message, exit 2, no traceback.

Each case is a broken user gin file (the bad line is line 4, after the shipped
shapes config, a 64 px image size and the data folder) or a broken
--gin_param binding. The message must name the file and line, or the binding,
or the configurable and parameter, and say how to fix it. VALUE_CASES are
values outside the range or choices declared beside their parameter (one per
kind of constraint and component) and scopes nothing enters; ASSEMBLY_CASES
are parts that do not fit together, found when the model is assembled, and
settings only training reads, found by validate's training pass. Cases already
covered elsewhere are not repeated here: parse errors of parse_gin itself
(tests/config/test_gin_config.py), `@backbones.resnt` and IMAGE_SIZE
[100, 100] as bindings (tests/modeling/test_validate_cli.py),
summary_interval and an unknown strategy (tests/training/test_cli.py).
"""

import re

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
     ["backbones.resnet.model_id = 'eighteen' is not valid: it must be one of 10, 18"]),
    ("unsupported_depth", "validate", "backbones.resnet.model_id = 19",
     ["backbones.resnet.model_id = 19 is not valid: it must be one of 10, 18", "{file}:4:"]),
    ("string_for_filters", "validate", "decoders.fpn.num_filters = 'wide'",
     ["decoders.fpn.num_filters = 'wide' is not valid: it must be an int >= 1",
      "{file}:4: decoders.fpn.num_filters = 'wide'"]),
    ("image_size_not_a_pair", "validate", "IMAGE_SIZE = 64",
     ["parsers.maskrcnn.output_size = 64 is not valid: it must be a list of 2 values each >= 1",
      "base/data.gin:29: parsers.maskrcnn.output_size = %IMAGE_SIZE"]),
    ("image_size_not_divisible_by_stride", "train", "IMAGE_SIZE = [100, 100]",
     ["image_size = [100, 100] must be divisible by", "Use e.g. IMAGE_SIZE = [128, 128]."]),
    ("one_class", "validate", "NUM_CLASSES = 1",
     ["data.input_pipeline.num_classes = 1 is not valid: it must be an int >= 2 (the classes "
      "including background, 91 for COCO) or None", "base/data.gin:14:"]),
    ("anchor_levels_reversed", "validate", "maskrcnn.AnchorSettings.min_level = 6",
     ["AnchorSettings needs 1 <= min_level <= max_level", "min_level=6"]),
    ("missing_required_value", "train",
     "optimization.build_optimizer.optimizer = @optimizers.sgd()",
     ["Calling gin configurable optimizers.sgd failed", "'learning_rate'",
      "Bind the missing value, e.g. `optimizers.sgd.learning_rate = ...`", "{file}:4:"]),
    ("missing_file_pattern", "train", "TRAIN_FILE_PATTERN = None",
     ["data.input_pipeline.file_pattern is not set", "data/train-*.tfrecord"]),
    ("string_for_warmup_steps", "train", "lr_schedules.linear_warmup.warmup_steps = 'x'",
     ["lr_schedules.linear_warmup.warmup_steps = 'x' is not valid: it must be an int >= 0",
      "{file}:4: lr_schedules.linear_warmup.warmup_steps = 'x'"]),
    ("library_rejects_a_value", "train",
     "optimization.build_optimizer.optimizer = @optimizers.adamw\n"
     "optimizers.adamw.exclude_from_weight_decay = 3",
     ["Calling gin configurable optimizers.adamw failed: TypeError: 'int' object is not "
      "iterable", "{file}:5: optimizers.adamw.exclude_from_weight_decay = 3"]),
    ("unknown_precision", "train", "runtime.mixed_precision = 'float16'",
     ["runtime.mixed_precision = 'float16' is not valid: it must be one of 'float32', "
      "'mixed_float16', 'mixed_bfloat16'", "{file}:4:"]),
    ("float16_without_gpu", "train", "runtime.mixed_precision = 'mixed_float16'",
     ["needs a GPU", "'mixed_bfloat16' on CPU"]),
    ("strategy_as_string", "train", "runtime.strategy = 'mirrored'",
     ["runtime.strategy must name a strategy factory such as @strategies.mirrored",
      "Registered: mirrored"]),
    ("multi_worker_without_tf_config", "train",
     "runtime.strategy = @strategies.multi_worker_mirrored",
     ["strategies.multi_worker_mirrored needs the TF_CONFIG environment variable"]),
    ("unknown_bad_record_policy", "train", "data.input_pipeline.bad_records = 'ignore'",
     ["data.input_pipeline.bad_records = 'ignore' is not valid: it must be one of 'error', "
      "'skip'", "{file}:4:"]),
    ("zero_batch", "train", "TRAIN_BATCH_SIZE = 0",
     ["train/data.input_pipeline.global_batch_size = 0 is not valid: it must be an int >= 1",
      "base/data.gin:21: train/data.input_pipeline.global_batch_size = %TRAIN_BATCH_SIZE"]),
    ("zero_train_steps", "train", "schedule.train_steps = 0",
     ["schedule.train_steps = 0 is not valid: it must be an int >= 1", "{file}:4:"]),
    ("string_checkpoint_interval", "train", "schedule.checkpoint_interval = 'often'",
     ["schedule.checkpoint_interval = 'often' is not valid: it must be an int >= 1"]),
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
     ["schedule.train_steps = 'ten' is not valid: it must be an int >= 1",
      "binding \"schedule.train_steps = 'ten'\""]),
    ("binding_wrong_nccl_name", "train",
     ["runtime.strategy = @strategies.mirrored", "strategies.mirrored.cross_device_ops = 'nccll'"],
     ["strategies.mirrored.cross_device_ops = 'nccll' is not valid: it must be one of None, "
      "'nccl', 'hierarchical_copy'. Did you mean 'nccl'?",
      "binding \"strategies.mirrored.cross_device_ops = 'nccll'\""]),
    ("binding_fraction_above_one", "validate",
     ["roi_samplers.roi_sampler.foreground_fraction = 1.5"],
     ["roi_samplers.roi_sampler.foreground_fraction = 1.5 is not valid: it must be a number in "
      "(0, 1]", "binding 'roi_samplers.roi_sampler.foreground_fraction = 1.5'"]),
    ("binding_misspelled_scope", "validate", ["evl/data.input_pipeline.global_batch_size = 2"],
     ["Gin scope 'evl' is never entered", "Did you mean 'eval'?",
      "binding 'evl/data.input_pipeline.global_batch_size = 2'"]),
]

# Values checked against the range or choices declared beside each parameter
# (one case per kind of constraint and component), right after parsing: the
# message names the binding, the value, what is valid and the file and line.
VALUE_CASES = [
    ("backbone_range", "backbones.resnet.depth_multiplier = 0.0",
     "backbones.resnet.depth_multiplier = 0.0 is not valid: it must be a number > 0"),
    ("backbone_choice", "backbones.resnet.stem_type = 'v2'",
     "backbones.resnet.stem_type = 'v2' is not valid: it must be one of 'v0', 'v1'."),
    ("keras_application_name", "backbones.keras_application.model_name = 'ResNet05'",
     "backbones.keras_application.model_name = 'ResNet05' is not valid: it must be one of "
     "'ResNet50', 'ResNet101'"),
    ("data_decoder_fraction", "data_decoders.tf_example.mask_binarize_threshold = 2.0",
     "data_decoders.tf_example.mask_binarize_threshold = 2.0 is not valid: it must be a number "
     "in [0, 1] or None"),
    ("decoder_range", "decoders.fpn.num_filters = 0",
     "decoders.fpn.num_filters = 0 is not valid: it must be an int >= 1"),
    ("decoder_choice", "decoders.fpn.fusion_type = 'add'",
     "decoders.fpn.fusion_type = 'add' is not valid: it must be one of 'sum', 'concat'"),
    ("rpn_head_count", "rpn_heads.rpn_head.num_convs = -1",
     "rpn_heads.rpn_head.num_convs = -1 is not valid: it must be an int >= 0"),
    ("detection_head_count", "detection_heads.detection_head.num_fcs = -1",
     "detection_heads.detection_head.num_fcs = -1 is not valid: it must be an int >= 0"),
    ("detection_head_kernel_gradient",
     "detection_heads.detection_head.conv_kernel_gradient = 'matmull'",
     "conv_kernel_gradient = 'matmull' is not valid: it must be one of 'matmul', 'native'. Did "
     "you mean 'matmul'?"),
    ("mask_head_size", "mask_heads.mask_head.upsample_factor = 0",
     "mask_heads.mask_head.upsample_factor = 0 is not valid: it must be an int >= 1"),
    ("activation_choice", "mask_heads.mask_head.activation = 'relu7'",
     "mask_heads.mask_head.activation = 'relu7' is not valid: it must be one of 'relu', 'relu6'"),
    ("norm_momentum_range", "detection_heads.detection_head.norm_momentum = 1.0",
     "detection_heads.detection_head.norm_momentum = 1.0 is not valid: it must be a number in "
     "[0, 1)"),
    ("roi_generator_iou", "roi_generators.multilevel_roi_generator.nms_iou_threshold = 1.5",
     "roi_generators.multilevel_roi_generator.nms_iou_threshold = 1.5 is not valid: it must be "
     "a number in [0, 1]"),
    ("roi_generator_nms_kernel", "roi_generators.multilevel_roi_generator.nms_kernel = 'nativ'",
     "nms_kernel = 'nativ' is not valid: it must be one of 'native', 'model_garden'. Did you "
     "mean 'native'?"),
    ("roi_sampler_fraction", "roi_samplers.roi_sampler.foreground_fraction = 1.5",
     "roi_samplers.roi_sampler.foreground_fraction = 1.5 is not valid: it must be a number in "
     "(0, 1]"),
    ("roi_aligner_size", "roi_aligners.multilevel_roi_aligner.crop_size = 0",
     "roi_aligners.multilevel_roi_aligner.crop_size = 0 is not valid: it must be an int >= 1"),
    ("detection_generator_count", "detection_generators.detection_generator.max_num_detections = 0",
     "max_num_detections = 0 is not valid: it must be an int >= 1"),
    ("detection_generator_nms_version",
     "detection_generators.detection_generator.nms_version = 'v3'",
     "nms_version = 'v3' is not valid: it must be one of 'v2', 'v1', 'batched'."),
    ("mask_sampler_count", "mask_samplers.mask_sampler.num_sampled_masks = 0",
     "mask_samplers.mask_sampler.num_sampled_masks = 0 is not valid: it must be an int >= 1"),
    ("builder_iou_list", "maskrcnn.build_maskrcnn.cascade_iou_thresholds = [0.6, 1.2]",
     "maskrcnn.build_maskrcnn.cascade_iou_thresholds = [0.6, 1.2] is not valid: it must be a "
     "list of values each in (0, 1). Item 1.2 is not valid."),
    ("anchors_count", "maskrcnn.AnchorSettings.num_scales = 0",
     "maskrcnn.AnchorSettings.num_scales = 0 is not valid: it must be an int >= 1"),
    ("anchors_level", "maskrcnn.AnchorSettings.max_level = 12",
     "maskrcnn.AnchorSettings.max_level = 12 is not valid: it must be an int in [1, 10]"),
    ("parser_fraction", "parsers.maskrcnn.rpn_fg_fraction = 0.0",
     "parsers.maskrcnn.rpn_fg_fraction = 0.0 is not valid: it must be a number in (0, 1]"),
    ("parser_choice", "parsers.maskrcnn.dtype = 'float64'",
     "parsers.maskrcnn.dtype = 'float64' is not valid: it must be one of 'float32', 'bfloat16'"),
    ("pipeline_scoped_size", "train/data.input_pipeline.shuffle_buffer_size = 0",
     "train/data.input_pipeline.shuffle_buffer_size = 0 is not valid: it must be an int >= 1"),
    ("losses_weight", "losses.maskrcnn.mask_weight = -1.0",
     "losses.maskrcnn.mask_weight = -1.0 is not valid: it must be a number >= 0"),
    ("optimizer_range", "optimizers.sgd.momentum = 1.5",
     "optimizers.sgd.momentum = 1.5 is not valid: it must be a number in [0, 1)"),
    ("schedule_steps", "lr_schedules.cosine.decay_steps = 0",
     "lr_schedules.cosine.decay_steps = 0 is not valid: it must be an int >= 1"),
    # Names inside values, checked although the feature is off (no warm-start checkpoint).
    ("warm_start_module_name", "checkpoints.warm_start.modules = ['backbone', 'decodr']",
     "checkpoints.warm_start.modules = ['backbone', 'decodr'] is not valid: it must be a non-empty "
     "list of values each one of 'backbone', 'decoder', 'rpn_head', 'detection_head', "
     "'mask_head', 'all'. Item 'decodr' is not valid. Did you mean 'decoder'?"),
    ("freeze_stage", "freezing.freeze.backbone_stages = -1",
     "freezing.freeze.backbone_stages = -1 is not valid: it must be an int in [0, 10]"),
    ("precision_name", "runtime.mixed_precision = 'bfloat16'",
     "runtime.mixed_precision = 'bfloat16' is not valid: it must be one of 'float32'"),
    ("strategy_option_choice", "strategies.multi_worker_mirrored.communication = 'rign'",
     "strategies.multi_worker_mirrored.communication = 'rign' is not valid: it must be one of "
     "'auto', 'ring', 'nccl'. Did you mean 'ring'?"),
    # Scopes: gin accepts any scope and ignores bindings under one nothing enters.
    ("misspelled_train_scope", "trian/data.input_pipeline.shuffle_buffer_size = 16",
     "Gin scope 'trian' is never entered, so this binding would be silently ignored"),
    ("misspelled_eval_scope", "evl/parsers.maskrcnn.aug_rand_hflip = False",
     "Gin scope 'evl' is never entered"),
]

# Relations between components, checked when the model is assembled; and
# training-only settings, which `validate` reaches with its training pass.
ASSEMBLY_CASES = [
    ("masks_beyond_foreground_rois", "mask_samplers.mask_sampler.num_sampled_masks = 200",
     ["mask_samplers.mask_sampler.num_sampled_masks = 200 is more than the foreground ROIs",
      "num_sampled_rois 128 x foreground_fraction 0.25 = 32", "Use num_sampled_masks <= 32"]),
    ("proposals_beyond_pre_nms_boxes",
     "roi_generators.multilevel_roi_generator.test_num_proposals = 600",
     ["test_num_proposals = 600 is more than the boxes kept before NMS in inference",
      "test_pre_nms_top_k = 256 per level", "Use test_num_proposals <= 508"]),
    ("anchor_levels_outside_backbone", "maskrcnn.AnchorSettings.min_level = 1",
     ["Backbone 'backbones.resnet' outputs levels 2, 3, 4, 5 but not 1"]),
    ("parser_size_differs", "train/parsers.maskrcnn.output_size = [128, 128]",
     ["parsers.maskrcnn.output_size = [128, 128] differs from maskrcnn.build_maskrcnn.image_size"
      " = [64, 64]"]),
    ("mask_crop_below_target", "parsers.maskrcnn.mask_crop_size = 14",
     ["parsers.maskrcnn.mask_crop_size = 14 is smaller than the mask targets (28x28",
      "Use mask_crop_size >= 28"]),
    ("parser_without_masks", "parsers.maskrcnn.include_mask = False",
     ["parsers.maskrcnn.include_mask = False, but the model has a mask head"]),
    ("data_classes_differ", "train/data.input_pipeline.num_classes = 6",
     ["train/data.input_pipeline.num_classes = 6 differs from maskrcnn.build_maskrcnn.num_classes"
      " = 4"]),
    ("outer_boxes_differ", "parsers.maskrcnn.outer_boxes_scale = 1.25",
     ["parsers.maskrcnn.outer_boxes_scale = 1.25 differs from maskrcnn.build_maskrcnn."
      "outer_boxes_scale = 1"]),
    ("sampler_ious_out_of_order", "roi_samplers.roi_sampler.background_iou_high_threshold = 0.6",
     ["roi_samplers.roi_sampler needs background_iou_low_threshold < "
      "background_iou_high_threshold <= foreground_iou_threshold, got 0, 0.6 and 0.5"]),
    ("parser_scales_out_of_order", "train/parsers.maskrcnn.aug_scale_min = 2.0",
     ["parsers.maskrcnn.aug_scale_min = 2 is above parsers.maskrcnn.aug_scale_max = 1"]),
    ("loss_class_weights_length", "losses.maskrcnn.class_weights = [1.0, 2.0]",
     ["the losses (losses.maskrcnn) failed on a synthetic training example: ValueError: Length "
      "of class_weights should be 4"]),
    ("stepwise_schedule_lengths",
     "lr_schedules.linear_warmup.schedule = @lr_schedules.stepwise()\n"
     "lr_schedules.stepwise.boundaries = [10]\nlr_schedules.stepwise.values = [0.1]",
     ["lr_schedules.stepwise needs one more value than boundaries, got 1 boundaries [10] and 1 "
      "values [0.1]"]),
]


def _check(status, err, fragments, path=""):
  assert status == 2, err
  assert err.count("maskrcnn ") == 1 and "error: " in err, err
  assert "Traceback" not in err and "In call to configurable" not in err, err
  for fragment in fragments:
    assert fragment.format(file=path) in err, err


@pytest.fixture
def user_gin(tmp_path, one_shard_shapes_dir):
  """Writes `<case>.gin`: the shapes config at 64 px on the shapes data, then `line` (line 4)."""

  def write(case, line):
    path = tmp_path / f"{case}.gin"  # unique name: gin's include search path is global
    path.write_text(f"include 'maskrcnn_shapes_r18_cpu.gin'\nIMAGE_SIZE = [64, 64]\n"
                    f"SHAPES_DIR = '{one_shard_shapes_dir}'\n{line}\n")
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


@pytest.mark.parametrize("case, line, fragment", VALUE_CASES, ids=[c[0] for c in VALUE_CASES])
def test_value_out_of_range_or_choices(cli, user_gin, case, line, fragment):
  path = user_gin(case, line)
  status, err = cli("validate", f"--gin_file={path}")
  _check(status, err, [fragment, "{file}:4: " + line], path)


@pytest.mark.parametrize("case, lines, fragments", ASSEMBLY_CASES,
                         ids=[c[0] for c in ASSEMBLY_CASES])
def test_parts_that_do_not_fit_or_fail_in_training(cli, user_gin, case, lines, fragments):
  status, err = cli("validate", f"--gin_file={user_gin(case, lines)}")
  _check(status, err, fragments)


def test_a_scope_of_ones_own_is_fine_where_a_reference_enters_it(cli, user_gin, capsys):
  path = user_gin("own_scope", "flipless/parsers.maskrcnn.aug_rand_hflip = False\n"
                               "train/data.input_pipeline.parser = @flipless/parsers.maskrcnn")
  status, err = cli("validate", f"--gin_file={path}")
  assert status == 0, err


def test_validate_reports_the_training_pass_beside_the_inference_pass(user_gin, capsys):
  from maskrcnn_plugin.cli.main import main  # pylint: disable=import-outside-toplevel
  assert main(["validate", f"--gin_file={user_gin('training_pass', '')}"]) == 0
  last = capsys.readouterr().out.strip().splitlines()[-1]
  assert re.fullmatch(r"built in [\d.]+ s; one inference pass \(batch 1\) in [\d.]+ s; one "
                      r"training pass \(parser, samplers, losses, optimizer; batch 1\) in "
                      r"[\d.]+ s", last), last


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
  path = user_gin("verbose", "optimization.build_optimizer.optimizer = @optimizers.adamw\n"
                             "optimizers.adamw.exclude_from_weight_decay = 3")
  with pytest.raises(TypeError, match="'int' object is not iterable"):
    main(["--verbose", "train", f"--gin_file={path}", f"--model_dir={tmp_path / 'run'}",
          "--mode=train"])
