"""Registry behaviour: registration, lookup, errors, describe, gin bridge."""

import subprocess
import sys

import gin
import pytest

import registry
from registry import DuplicateNameError, Registry, UnknownNameError


@pytest.fixture
def widgets():
  """A fresh registry whose gin registrations are removed afterwards."""
  reg = Registry("test_widgets")
  yield reg
  for name in reg.names():
    reg.unregister(name)


def test_importing_registry_does_not_import_tensorflow():
  code = "import sys, registry; assert 'tensorflow' not in sys.modules, sorted(sys.modules)"
  subprocess.run([sys.executable, "-c", code], check=True)


def test_register_with_explicit_name_and_with_function_name(widgets):

  @widgets.register("big")
  def make_big(size=10):
    return size

  @widgets.register()
  def small(size=1):
    return size

  @widgets.register
  def tiny(size=0):
    return size

  assert widgets.names() == ["big", "small", "tiny"]
  assert "big" in widgets and "make_big" not in widgets
  assert len(widgets) == 3
  assert widgets.get("big")() == 10
  assert widgets.get("small") is small
  assert widgets.name_of(make_big) == "big"


def test_registering_a_class(widgets):

  @widgets.register("box")
  class Box:
    """A box."""

    def __init__(self, width=2):
      self.width = width

  gin.parse_config("test_widgets.box.width = 7")
  assert widgets.get("box")().width == 7
  assert isinstance(widgets.get("box")(), widgets.get_original("box"))


def test_registered_factory_is_gin_configurable_under_the_kind(widgets):

  @widgets.register("gear")
  def gear(teeth=12):
    return teeth

  @gin.configurable("holder", module="test_widgets_user")
  def holder(factory=None, made=None):
    return factory, made

  gin.parse_config("""
      test_widgets.gear.teeth = 40
      test_widgets_user.holder.factory = @test_widgets.gear
      test_widgets_user.holder.made = @test_widgets.gear()
  """)
  factory, made = holder()
  assert made == 40
  assert factory() == 40
  assert factory(teeth=3) == 3  # explicit arguments win over gin bindings


def test_unknown_name_lists_close_matches_and_available_names(widgets):
  widgets.register("resnet")(lambda: None)
  widgets.register("mobilenet")(lambda: None)
  with pytest.raises(UnknownNameError) as info:
    widgets.get("resnt")
  message = str(info.value)
  assert "No test_widget named 'resnt' in registry 'test_widgets'" in message
  assert "Did you mean 'resnet'?" in message
  assert "Available: mobilenet, resnet." in message
  assert isinstance(info.value, KeyError)


def test_unknown_name_without_close_match_has_no_suggestion(widgets):
  widgets.register("resnet")(lambda: None)
  with pytest.raises(UnknownNameError) as info:
    widgets.get("zzzzzz")
  assert "Did you mean" not in str(info.value)
  assert "Available: resnet." in str(info.value)


def test_duplicate_name_is_an_error_unless_override(widgets):

  @widgets.register("net")
  def first():
    return 1

  def second():
    return 2

  with pytest.raises(DuplicateNameError, match="'net' is already registered in 'test_widgets'.*override=True"):
    widgets.register("net")(second)
  assert widgets.get("net")() == 1

  widgets.register("net", override=True)(second)
  assert widgets.get("net")() == 2


def test_override_rebinds_gin_to_the_new_factory(widgets):

  @widgets.register("net")
  def first(depth=1):
    return ("first", depth)

  @widgets.register("net", override=True)
  def second(depth=1):
    return ("second", depth)

  gin.parse_config("test_widgets.net.depth = 5")
  assert gin.query_parameter("test_widgets.net.depth") == 5
  assert widgets.get("net")() == ("second", 5)


def test_registering_the_same_object_twice_is_a_no_op(widgets):

  def net():
    return 1

  first = widgets.register("net")(net)
  again = widgets.register("net")(net)
  assert first is again
  assert widgets.register("net")(first) is first


def test_invalid_names_and_objects_are_rejected(widgets):
  with pytest.raises(ValueError, match="Python identifiers"):
    widgets.register("my-net")(lambda: None)
  with pytest.raises(TypeError, match="Only functions and classes"):
    widgets.register("number")(42)
  with pytest.raises(TypeError, match="takes a name string"):
    widgets.register(3)
  with pytest.raises(ValueError, match="identifier"):
    Registry("not a kind")


def test_describe_reports_signature_defaults_and_first_doc_line(widgets):

  @widgets.register("resnet")
  def resnet(input_specs, *, model_id: int = 50, activation="relu"):
    """Builds a ResNet.

    Longer text.
    """
    del input_specs, model_id, activation

  description = widgets.describe("resnet")
  assert description.gin_name == "test_widgets.resnet"
  assert description.summary == "Builds a ResNet."
  params = {p.name: p for p in description.parameters}
  assert params["input_specs"].required
  assert params["model_id"].default == "50" and params["model_id"].annotation == "int"
  assert params["model_id"].keyword_only
  assert params["activation"].default == "'relu'"
  text = str(description)
  assert "model_id: int  (default 50)" in text and "input_specs  (required)" in text


def test_contract_is_stated_on_the_registry_without_its_indentation():
  gadgets = Registry("test_gadgets", contract="""
      Called as `factory(size)`.
      Returns a gadget of that size.""")
  assert gadgets.contract == "Called as `factory(size)`.\nReturns a gadget of that size."
  assert gadgets.__doc__ == gadgets.contract
  assert Registry("test_plain").contract == ""
  with pytest.raises(TypeError, match="Registry 'test_bad': contract must be a text, got int"):
    Registry("test_bad", contract=3)


def test_unregister_unknown_name_raises(widgets):
  with pytest.raises(UnknownNameError):
    widgets.unregister("nothing")


def test_close_matches_ignores_case_and_module_prefix():
  assert registry.close_matches("ResNt", ["resnet", "mobilenet"]) == ["resnet"]
  assert registry.close_matches("resnt", ["backbones.resnet", "decoders.fpn"]) == ["backbones.resnet"]
  assert registry.did_you_mean("qqq", ["resnet"]) == ""
