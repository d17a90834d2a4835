"""Ranges and choices declared on a factory's parameters (registry.constraints)."""

import subprocess
import sys
from typing import Annotated, Optional, Sequence

import gin
import pytest

from registry import ConstraintError, Each, OneOf, Range, Registry, checked, parameter_specs

WIDGETS = Registry("test_constrained_widgets")


@WIDGETS.register("head")
def head(num_classes: Annotated[int, Range(min=2)], *,
         num_fcs: Annotated[int, Range(min=0)] = 1,
         fraction: Annotated[float, Range(0, 1, min_open=True)] = 0.25,
         kernel: Annotated[str, OneOf("native", "model_garden")] = "native",
         modules: Annotated[Sequence[str], Each(OneOf("backbone", "decoder"), min_length=1)] = (
             "backbone",),
         clip: Annotated[Optional[float], Range(min=0, min_open=True)] = None,
         name: str = "head"):
  """A test head."""
  return {"num_classes": num_classes, "num_fcs": num_fcs, "fraction": fraction}


@pytest.mark.parametrize("kwargs, message", [
    ({"num_fcs": -1}, "test_constrained_widgets.head.num_fcs = -1 is not valid: it must be an "
                      "int >= 0."),
    ({"num_fcs": 1.5}, "num_fcs = 1.5 is not valid: it must be an int >= 0."),
    ({"num_fcs": True}, "num_fcs = True is not valid"),
    ({"fraction": 0.0}, "fraction = 0.0 is not valid: it must be a number in (0, 1]."),
    ({"fraction": "half"}, "fraction = 'half' is not valid"),
    ({"kernel": "nativ"}, "kernel = 'nativ' is not valid: it must be one of 'native', "
                          "'model_garden'. Did you mean 'native'?"),
    ({"modules": ["decodr"]}, "Item 'decodr' is not valid. Did you mean 'decoder'?"),
    ({"modules": []}, "it must be a non-empty list of values each one of 'backbone'"),
    ({"modules": "backbone"}, "modules = 'backbone' is not valid"),
    ({"clip": 0}, "clip = 0 is not valid: it must be a number > 0 or None."),
])
def test_a_value_outside_its_declared_range_names_the_binding(kwargs, message):
  with pytest.raises(ConstraintError) as error:
    WIDGETS.get("head")(3, **kwargs)
  assert message in str(error.value)


def test_valid_values_pass_and_the_required_positional_is_checked_too():
  factory = WIDGETS.get("head")
  assert factory(2, num_fcs=0, fraction=1, clip=None, modules=["backbone", "decoder"])[
      "fraction"] == 1
  with pytest.raises(ConstraintError, match=r"head.num_classes = 1 is not valid: it must be an "
                                            r"int >= 2"):
    factory(1)


def test_values_bound_in_gin_are_checked_and_the_scope_is_named():
  gin.parse_config("train/test_constrained_widgets.head.num_fcs = -2")
  with gin.config_scope("train"):
    with pytest.raises(ConstraintError,
                       match=r"train/test_constrained_widgets.head.num_fcs = -2 is not valid"):
      WIDGETS.get("head")(3)


def test_gin_still_knows_the_parameters_of_a_checked_factory():
  with pytest.raises(ValueError, match="doesn't have a parameter named 'numfcs'"):
    gin.parse_config("test_constrained_widgets.head.numfcs = 2")
  gin.parse_config("test_constrained_widgets.head.num_fcs = 3")
  assert WIDGETS.get("head")(2)["num_fcs"] == 3


def test_describe_shows_each_range_and_the_plain_type():
  text = str(WIDGETS.describe("head"))
  assert "num_fcs: int  (default 1; valid: an int >= 0)" in text
  assert "fraction: float  (default 0.25; valid: a number in (0, 1])" in text
  assert "kernel: str  (default 'native'; valid: one of 'native', 'model_garden')" in text
  assert "clip: Optional[float]  (default None; valid: a number > 0 or None)" in text
  assert "name: str  (default 'head')" in text
  assert [p.name for p in WIDGETS.describe("head").parameters if p.valid] == [
      "num_classes", "num_fcs", "fraction", "kernel", "modules", "clip"]


def test_checked_classes_and_functions_outside_a_registry():
  class Settings:
    def __init__(self, size: Annotated[int, Range(min=1)] = 4):
      self.size = size

  Checked = checked(Settings, "test.Settings")
  assert Checked(size=2).size == 2 and isinstance(Checked(), Settings)
  with pytest.raises(ConstraintError, match=r"test.Settings.size = 0 is not valid"):
    Checked(size=0)
  assert set(parameter_specs(Checked)) == {"size"}

  def plain(x: int = 1):
    return x
  assert checked(plain, "test.plain") is plain  # nothing declared: not wrapped


def test_the_registry_package_still_imports_no_tensorflow():
  code = "import sys, registry, registry.constraints; sys.exit('tensorflow' in sys.modules)"
  assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
