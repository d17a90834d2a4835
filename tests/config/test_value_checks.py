"""Values checked right after parsing: declared ranges, macros, scopes; describe shows them."""

import json
from typing import Annotated

import gin
import pytest

from maskrcnn_plugin import gin_config
from maskrcnn_plugin.cli.main import main
from maskrcnn_plugin.errors import GinConfigError
from maskrcnn_plugin.params import PositiveInt
from maskrcnn_plugin.modeling import build_maskrcnn
from maskrcnn_plugin.registries import BACKBONES
from registry import ConstraintError, OneOf


@pytest.fixture(scope="module", autouse=True)
def checked_backbone():
  """A registered backbone with declared ranges, like a user's own."""

  def ranged_net(input_specs=None, *, width: PositiveInt = 16,
                 kind: Annotated[str, OneOf("plain", "dilated")] = "plain"):
    return ("ranged_net", width, kind)

  configurable = BACKBONES.register("ranged_net")(ranged_net)
  yield configurable
  BACKBONES.unregister("ranged_net")


@pytest.mark.parametrize("name", [n for n in gin_config.shipped_configs()
                                  if not n.startswith("base/")])
def test_every_shipped_config_meets_its_declared_ranges(name):
  gin_config.parse_gin([name])  # raises GinConfigError for a value out of range or a bad scope


def test_a_value_bound_through_a_macro_names_the_macro_line(tmp_path):
  path = tmp_path / "macro_width.gin"
  path.write_text("WIDTH = 0\nbackbones.ranged_net.width = %WIDTH\n")
  with pytest.raises(GinConfigError) as error:
    gin_config.parse_gin([str(path)])
  assert str(error.value) == (
      f"backbones.ranged_net.width = 0 is not valid: it must be an int >= 1. It is bound at "
      f"{path}:2: backbones.ranged_net.width = %WIDTH.")


def test_only_the_binding_that_takes_effect_is_checked():
  gin_config.parse_gin([], ["backbones.ranged_net.kind = 'plian'",
                            "backbones.ranged_net.kind = 'dilated'"])
  with pytest.raises(GinConfigError, match=r"kind = 'plian' is not valid: it must be one of "
                                           r"'plain', 'dilated'. Did you mean 'plain'\?"):
    gin_config.parse_gin([], ["backbones.ranged_net.kind = 'plian'"])


def test_a_call_in_a_value_is_left_to_the_call():
  gin_config.parse_gin([], ["W/gin.macro.value = 3",
                            "backbones.ranged_net.width = @backbones.resnet()"])


def test_scope_of_ones_own_needs_a_reference_that_enters_it():
  with pytest.raises(GinConfigError, match=r"Gin scope 'wide' is never entered"):
    gin_config.parse_gin([], ["wide/backbones.ranged_net.width = 64"])
  gin_config.parse_gin([], ["wide/backbones.ranged_net.width = 64",
                            "maskrcnn.build_maskrcnn.backbone = @wide/backbones.ranged_net"])


def test_the_builders_declared_ranges_are_checked_on_a_python_call_too():
  with pytest.raises(ConstraintError, match=r"^maskrcnn.build_maskrcnn.outer_boxes_scale = 0.5 "
                                            r"is not valid: it must be a number >= 1\."):
    build_maskrcnn(num_classes=3, image_size=[64, 64], outer_boxes_scale=0.5)


def test_describe_shows_the_valid_values(capsys):
  assert main(["describe", "detection_heads.detection_head"]) == 0
  out = capsys.readouterr().out
  assert "num_fcs: int  (default 1; valid: an int >= 0)" in out
  assert "activation: str  (default 'relu'; valid: one of 'relu', 'relu6'" in out
  assert main(["describe", "--json", "roi_samplers.roi_sampler"]) == 0
  parameters = {p["name"]: p for p in json.loads(capsys.readouterr().out)["parameters"]}
  assert parameters["foreground_fraction"]["valid"] == "a number in (0, 1]"
  assert parameters["mix_gt_boxes"]["valid"] is None
