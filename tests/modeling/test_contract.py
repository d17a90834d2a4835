"""Wiring mistakes fail before any head is built, with one message naming the part."""

import logging

from absl import logging as absl_logging
import keras as keras3
import pytest
import tensorflow as tf

from maskrcnn_plugin import BACKBONES
from maskrcnn_plugin.errors import ContractError, GinConfigError
from maskrcnn_plugin.keras_setup import model_garden_keras
from maskrcnn_plugin.modeling import build_from_gin
from helpers.tiny_models import FAST_INFERENCE, parse_tiny_shapes

keras = model_garden_keras()


def _features(strides, channels=8, keras_module=keras, keys=str):
  """A tiny model of `keras_module` whose output {keys(level): map} has the given strides."""
  inputs = keras_module.Input(shape=(64, 64, 3))
  outputs = {}
  for level, stride in strides.items():
    outputs[keys(level)] = keras_module.layers.Conv2D(channels, 3, strides=stride,
                                                      padding="same")(inputs)
  model = keras_module.Model(inputs, outputs)
  model.output_specs = {key: tensor.shape for key, tensor in outputs.items()}
  return model


def _levels_3_to_5(input_specs):
  return _features({3: 8, 4: 16, 5: 32})


def _level_3_at_stride_4(input_specs):
  return _features({2: 4, 3: 4, 4: 16, 5: 32})


def _single_tensor(input_specs):
  inputs = keras.Input(shape=(64, 64, 3))
  return keras.Model(inputs, keras.layers.Conv2D(8, 3, strides=4, padding="same")(inputs))


def _plain_dict(input_specs):
  return {"2": tf.zeros([1, 16, 16, 8])}


def _output_specs_not_a_dict(input_specs):
  model = _features({2: 4, 3: 8, 4: 16, 5: 32})
  model.output_specs = "levels 2-5"
  return model


def _functional_without_specs(input_specs):
  model = _features({2: 4, 3: 8, 4: 16, 5: 32})
  del model.output_specs
  return model


def _inferred_level_3_at_stride_4(input_specs):
  model = _level_3_at_stride_4(input_specs)
  del model.output_specs
  return model


def _int_keys(input_specs):
  return _features({2: 4, 3: 8, 4: 16, 5: 32}, keys=int)


def _keras3(input_specs):
  return _features({2: 4, 3: 8, 4: 16, 5: 32}, keras_module=keras3)


def _needs_width(input_specs, width):
  return _features({2: 4, 3: 8, 4: 16, 5: 32}, channels=width)


@pytest.fixture
def register():
  """register(name, factory): registers a backbone for one test."""
  names = []

  def add(name, factory):
    BACKBONES.register(name)(factory)
    names.append(name)

  yield add
  for name in names:
    BACKBONES.unregister(name)


def _build_error(*params, error=ContractError):
  parse_tiny_shapes(*FAST_INFERENCE, *params)
  with pytest.raises(error) as info:
    build_from_gin()
  message = str(info.value)
  assert "In call to configurable" not in message and "Traceback" not in message
  return message


@pytest.mark.smoke
@pytest.mark.parametrize("factory, expected", [
    (_levels_3_to_5, "outputs levels 3, 4, 5 but not 2: levels 2..5 are needed"),
    (_level_3_at_stride_4, "level '3' is 16x16 (stride 4) but must be 8x8 (stride 8)"),
    (_single_tensor, "returns a KerasTensor, not a dict of feature maps"),
    (_plain_dict, "is a dict, not a Keras model"),
    (_output_specs_not_a_dict, "has `output_specs` of type str, not the dict {level: shape}"),
    (_inferred_level_3_at_stride_4, "level '3' is 16x16 (stride 4) but must be 8x8 (stride 8)"),
    (_int_keys, "(use str(level) as keys)"),
    pytest.param(_keras3, "from Keras 3, but Model Garden's layers need a tf_keras (Keras 2) model",
                 marks=pytest.mark.keras3),
])
def test_backbone_contract_violation_is_one_message(register, factory, expected):
  register("faulty_net", factory)
  message = _build_error("maskrcnn.build_maskrcnn.backbone = @backbones.faulty_net")
  assert message.startswith("Backbone 'backbones.faulty_net'")
  assert expected in message


class _Subclassed(keras.Model):
  """A subclassed backbone (no functional outputs) without `output_specs`."""

  def __init__(self):
    super().__init__()
    self.convs = {str(level): keras.layers.Conv2D(4 * level, 3, strides=2**level, padding="same")
                  for level in range(2, 6)}

  def call(self, images):
    return {**{level: conv(images) for level, conv in self.convs.items()},
            "5/extra": tf.reduce_mean(images, axis=[1, 2])}


@pytest.mark.parametrize("factory, inferred_from", [
    (_functional_without_specs, "its outputs"),
    (lambda input_specs: _Subclassed(), "its output on a zero image"),
], ids=["functional", "subclassed"])
def test_missing_output_specs_are_inferred_and_logged(register, factory, inferred_from, caplog):
  register("unspecified_net", factory)
  parse_tiny_shapes("maskrcnn.build_maskrcnn.backbone = @backbones.unspecified_net")
  verbosity = absl_logging.get_verbosity()
  absl_logging.set_verbosity(absl_logging.INFO)
  try:
    with caplog.at_level(logging.INFO):
      model = build_from_gin()
  finally:
    absl_logging.set_verbosity(verbosity)
  channels = {"2": 8, "3": 12, "4": 16, "5": 20} if inferred_from.endswith("image") else (
      dict.fromkeys("2345", 8))
  assert {level: shape.as_list() for level, shape in model.backbone.output_specs.items()} == {
      level: [None, 64 // 2**int(level), 64 // 2**int(level), channels[level]]
      for level in "2345"}
  assert any(f"Backbone 'backbones.unspecified_net' has no `output_specs`: inferred "
             f"{{'2': [None, 16, 16, {channels['2']}]" in record.getMessage() and
             record.getMessage().endswith(f"from {inferred_from}.") for record in caplog.records)


def test_backbone_without_decoder_must_output_every_level():
  message = _build_error("maskrcnn.build_maskrcnn.decoder = @decoders.identity",
                         "maskrcnn.AnchorSettings.max_level = 6",
                         "maskrcnn.build_maskrcnn.image_size = [128, 128]")
  assert message.startswith("Backbone 'backbones.resnet' (used without a decoder, "
                            "'decoders.identity') outputs levels 2, 3, 4, 5 but not 6")


def test_model_garden_mobilenet_extra_output_is_not_a_level_6_without_fpn():
  # MobileNet outputs its last conv as "6" at stride 32; FPN ignores it (it is
  # not in output_specs) but without a decoder the heads would read it.
  message = _build_error("maskrcnn.build_maskrcnn.backbone = @backbones.mobilenet",
                         "maskrcnn.build_maskrcnn.decoder = @decoders.identity",
                         "maskrcnn.AnchorSettings.max_level = 6")
  assert message == (
      "Backbone 'backbones.mobilenet' (used without a decoder, 'decoders.identity') has "
      "features of the wrong shape for 64x64 images: level '6' is 2x2 (stride 32) but must be "
      "1x1 (stride 64). Level l must have stride 2**l.")


def test_missing_factory_argument_names_the_binding(register):
  register("wide_net", _needs_width)
  message = _build_error("maskrcnn.build_maskrcnn.backbone = @backbones.wide_net",
                         error=GinConfigError)
  assert "needs a value for width" in message
  assert "`backbones.wide_net.width = ...`" in message


@pytest.mark.parametrize("binding, expected", [
    ("maskrcnn.build_maskrcnn.num_classes = None",
     "maskrcnn.build_maskrcnn.num_classes is not set"),
    ("maskrcnn.build_maskrcnn.num_classes = '4'",
     "maskrcnn.build_maskrcnn.num_classes = '4' is not valid: it must be an int >= 2"),
    ("maskrcnn.build_maskrcnn.image_size = 64",
     "maskrcnn.build_maskrcnn.image_size = 64 is not valid: it must be [height, width]"),
    ("maskrcnn.build_maskrcnn.image_size = [100, 100]",
     "must be divisible by 2**max_level = 32 (maskrcnn.AnchorSettings.max_level = 5); "),
    ("maskrcnn.build_maskrcnn.cascade_iou_thresholds = [0.6]",
     "bind detection_heads.detection_head.class_agnostic_bbox_pred = True"),
])
def test_wrong_gin_value_names_the_binding(binding, expected):
  message = _build_error(binding, error=GinConfigError)
  assert expected in message


@pytest.mark.parametrize("binding, expected", [
    ("backbones.resnet.model_id = 51",
     "backbones.resnet.model_id = 51 is not valid: it must be one of 10, 18, 26, 34, 50, 101, "
     "152, 200, 270, 350, 420."),
    ("backbones.mobilenet.model_id = 'MobileNetV5'",
     "backbones.mobilenet.model_id = 'MobileNetV5' is not valid: it must be one of "
     "'MobileNetV1', 'MobileNetV2'"),
])
def test_a_backbone_model_id_model_garden_lacks_is_refused_by_its_declared_choices(binding,
                                                                                  expected):
  with pytest.raises(GinConfigError) as info:
    parse_tiny_shapes(binding)
  assert str(info.value).startswith(expected)


def test_cascade_faster_rcnn_and_a_per_part_norm_setting():
  parse_tiny_shapes(
      *FAST_INFERENCE,
      "maskrcnn.build_maskrcnn.cascade_iou_thresholds = [0.6, 0.7]",
      "maskrcnn.build_maskrcnn.include_mask = False",
      "detection_heads.detection_head.class_agnostic_bbox_pred = True",
      "maskrcnn.build_maskrcnn.norm_momentum = 0.9",
      "decoders.fpn.norm_momentum = 0.5",
      "maskrcnn.build_maskrcnn.l2_weight_decay = 0.0001")
  model = build_from_gin()
  assert [head.name for head in model.detection_head] == [
      "detection_head", "detection_head_1", "detection_head_2"]
  assert [s.get_config()["foreground_iou_threshold"] for s in model.roi_sampler] == [0.5, 0.6, 0.7]
  assert model.mask_head is None
  assert model.backbone.get_config()["norm_momentum"] == 0.9  # the builder's setting
  assert model.decoder.get_config()["norm_momentum"] == 0.5   # bound on decoders.fpn
  assert float(model.backbone.get_config()["kernel_regularizer"].l2) == pytest.approx(5e-5)
  outputs = model(tf.zeros([1, 64, 64, 3]), image_shape=tf.constant([[64.0, 64.0]]),
                  training=False)
  assert "detection_masks" not in outputs
  assert outputs["detection_boxes"].shape == (1, 10, 4)
