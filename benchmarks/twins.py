"""The same Mask R-CNN twice: from the plugin's gin config and from Model Garden's experiment.

Shared by `compare_model_garden.py` (speed, memory) and `accuracy_parity.py`
(mask AP after the same training budget). A `Setting` names one architecture,
image size and batch; `plugin_gin(setting, data_dir)` gives the plugin's gin
files and bindings, `model_garden_config(setting, data_dir)` Model Garden's
`maskrcnn_resnetfpn_coco` experiment config with the same overrides, built
through Model Garden's own task (`official.vision.tasks.maskrcnn`).
`assert_same_architecture` checks that both models have the same weights, in
the same order, so weights can be copied from one to the other.
"""

import dataclasses
import os
from typing import Dict, List, Sequence, Tuple

import numpy as np

# The shapes demo's schedule (gin_configs/base/shapes_schedule.gin), also
# given to Model Garden's optimizer config: SGD momentum 0.9, clip norm 10,
# linear warmup from 0.006 over 50 steps, cosine decay from 0.06.
SHAPES_LR = 0.06
SHAPES_WARMUP_STEPS = 50
SHAPES_WARMUP_LR = 0.006
SHAPES_CLIPNORM = 10.0

# Model Garden's default box head (4 convs of 256 filters, 1 fc of 1024).
FOUR_CONV_HEAD = {"num_convs": 4, "num_filters": 256, "num_fcs": 1, "fc_dims": 1024}


@dataclasses.dataclass(frozen=True)
class Setting:
  """One compared architecture.

  Attributes:
    name: Short name used on the command line and in the table.
    model: 'shapes' (the demo's ResNet-18 + FPN(64), 4 classes) or 'r50'
      (Model Garden's COCO R50-FPN, 91 classes).
    image_size: Square input size in pixels.
    batch_size: Training and inference batch.
    box_head: '2fc' (no convs, 2 fcs) or '4conv' (4 convs + 1 fc).
    fc_dims: Units of each fc of the 2-fc head.
  """
  name: str
  model: str
  image_size: int
  batch_size: int
  box_head: str
  fc_dims: int

  @property
  def uses_demo_checkpoint(self) -> bool:
    """The shapes demo is trained with this very architecture (its 2-fc head)."""
    return self.model == "shapes" and self.box_head == "2fc"


SETTINGS = {s.name: s for s in (
    Setting("shapes_2fc", "shapes", 128, 8, "2fc", 256),
    Setting("shapes_4conv", "shapes", 128, 8, "4conv", 256),
    Setting("r50_2fc", "r50", 256, 2, "2fc", 1024),
    Setting("r50_4conv", "r50", 256, 2, "4conv", 1024),
)}


def plugin_gin(setting: Setting, data_dir: str,
               extra: Sequence[str] = ()) -> Tuple[List[str], List[str]]:
  """(gin files, gin bindings) of the plugin for `setting` on the shapes data in data_dir."""
  if setting.model == "shapes":
    files = ["maskrcnn_shapes_r18_cpu"]
    params = [f"SHAPES_DIR = '{data_dir}'"]
  else:
    files = ["maskrcnn_r50_fpn_coco"]
    params = [f"IMAGE_SIZE = [{setting.image_size}, {setting.image_size}]",
              f"TRAIN_FILE_PATTERN = '{os.path.join(data_dir, 'train-*.tfrecord')}'",
              f"EVAL_FILE_PATTERN = '{os.path.join(data_dir, 'val-*.tfrecord')}'",
              f"TRAIN_BATCH_SIZE = {setting.batch_size}",
              f"EVAL_BATCH_SIZE = {setting.batch_size}"]
  head = ({"num_convs": 0, "num_fcs": 2, "fc_dims": setting.fc_dims} if setting.box_head == "2fc"
          else FOUR_CONV_HEAD)
  params += [f"detection_heads.detection_head.{key} = {value}" for key, value in head.items()]
  return files, params + list(extra)


def model_garden_config(setting: Setting, data_dir: str, *, train_steps: int = 1000):
  """Model Garden's `maskrcnn_resnetfpn_coco` config overridden to match `plugin_gin`."""
  # pylint: disable=import-outside-toplevel
  from official.core import exp_factory
  import official.vision.configs.maskrcnn  # noqa: F401  (registers the experiment)

  config = exp_factory.get_exp_config("maskrcnn_resnetfpn_coco")
  size = setting.image_size
  config.runtime.mixed_precision_dtype = "float32"
  config.runtime.enable_xla = False
  task = config.task
  task.init_checkpoint = None
  model = task.model
  model.input_size = [size, size, 3]
  data = {"input_path": "", "global_batch_size": setting.batch_size, "dtype": "float32"}
  parser: Dict[str, object] = {}
  if setting.model == "shapes":
    # maskrcnn_shapes_r18_cpu.gin, binding for binding.
    model.num_classes = 4
    model.max_level = 5
    model.anchor.anchor_size = 3.0
    model.backbone.resnet.model_id = 18
    model.decoder.fpn.num_filters = 64
    model.norm_activation.use_sync_bn = False
    model.norm_activation.norm_momentum = 0.99
    model.rpn_head.num_filters = 64
    model.roi_generator.pre_nms_top_k = 512
    model.roi_generator.num_proposals = 256
    model.roi_generator.test_pre_nms_top_k = 256
    model.roi_generator.test_num_proposals = 100
    model.roi_sampler.num_sampled_rois = 128
    model.mask_sampler.num_sampled_masks = 32
    model.mask_head.num_convs = 4
    model.mask_head.num_filters = 64
    model.detection_generator.pre_nms_top_k = 500
    model.detection_generator.max_num_detections = 20
    data["shuffle_buffer_size"] = 256
    parser = {"max_num_instances": 8, "mask_crop_size": 56, "aug_scale_min": 1.0,
              "aug_scale_max": 1.0}
    optimizer = config.trainer.optimizer_config
    optimizer.optimizer.sgd.global_clipnorm = SHAPES_CLIPNORM
    optimizer.learning_rate.type = "cosine"
    optimizer.learning_rate.cosine.initial_learning_rate = SHAPES_LR
    optimizer.learning_rate.cosine.decay_steps = train_steps
    optimizer.warmup.linear.warmup_steps = SHAPES_WARMUP_STEPS
    optimizer.warmup.linear.warmup_learning_rate = SHAPES_WARMUP_LR
  else:
    data["shuffle_buffer_size"] = 1000
  head = ({"num_convs": 0, "num_fcs": 2, "fc_dims": setting.fc_dims} if setting.box_head == "2fc"
          else FOUR_CONV_HEAD)
  for key, value in head.items():
    setattr(model.detection_head, key, value)
  for split, pattern in (("train_data", "train-*.tfrecord"), ("validation_data", "val-*.tfrecord")):
    split_config = getattr(task, split)
    for key, value in {**data, "input_path": os.path.join(data_dir, pattern)}.items():
      setattr(split_config, key, value)
    for key, value in parser.items():
      setattr(split_config.parser, key, value)
  task.validation_data.drop_remainder = False
  task.annotation_file = os.path.join(data_dir, "instances_val.json")
  config.trainer.train_steps = train_steps
  return config


def assert_same_architecture(plugin_model, model_garden_model) -> int:
  """Raises AssertionError unless both models hold the same weights in order; returns the count."""
  ours = [tuple(w.shape) for w in plugin_model.weights]
  theirs = [tuple(w.shape) for w in model_garden_model.weights]
  if ours != theirs:
    first = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours),
                                                                                  len(theirs)))
    raise AssertionError(
        f"The plugin's and Model Garden's models differ: {len(ours)} vs {len(theirs)} weights; "
        f"first difference at weight {first}: "
        f"{plugin_model.weights[first].name if first < len(ours) else '-'} "
        f"{ours[first] if first < len(ours) else '-'} vs "
        f"{model_garden_model.weights[first].name if first < len(theirs) else '-'} "
        f"{theirs[first] if first < len(theirs) else '-'}")
  return sum(int(np.prod(shape)) for shape in ours)


def missing_inputs_message(data_dir: str, checkpoint: str) -> str:
  """What to run when the shapes data or the demo checkpoint are missing."""
  return (f"The benchmark needs the shapes dataset in {data_dir} and the trained shapes demo in "
          f"{checkpoint}. Create both with `make demo` (about 12 minutes on 2 cores), or with\n"
          f"  maskrcnn data make-shapes --output {data_dir}\n"
          f"  maskrcnn train --gin_file=maskrcnn_shapes_r18_cpu --model_dir={checkpoint} "
          f"--gin_param=\"SHAPES_DIR = '{data_dir}'\"\n"
          "or point --data_dir/--checkpoint at them.")
