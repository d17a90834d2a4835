"""Gin parsing: short names, includes from any folder, errors with fixes."""

import os
import textwrap

import gin
import pytest

from maskrcnn_plugin import gin_config
from maskrcnn_plugin.errors import GinConfigError
from maskrcnn_plugin.registries import BACKBONES


@gin.configurable("assemble", module="test_config")
def assemble(backbone=None, num_classes=None, image_size=None):
  return backbone, num_classes, image_size


@pytest.fixture(scope="module", autouse=True)
def toy_backbone():
  """A registered backbone the gin files below refer to."""

  def toy_net(input_specs=None, *, depth=18, width=32):
    return ("toy_net", depth, width)

  configurable = BACKBONES.register("toy_net")(toy_net)
  yield configurable
  BACKBONES.unregister("toy_net")


@pytest.fixture
def shipped(tmp_path, monkeypatch):
  """A fake shipped gin_configs folder with a base and a variant."""
  root = tmp_path / "shipped"
  (root / "base").mkdir(parents=True)
  (root / "base" / "toy_model.gin").write_text(textwrap.dedent("""
      NUM_CLASSES = 91
      test_config.assemble.backbone = @backbones.toy_net()
      test_config.assemble.num_classes = %NUM_CLASSES
      backbones.toy_net.depth = 50
  """))
  (root / "toy_variant.gin").write_text(textwrap.dedent("""
      include 'base/toy_model.gin'
      NUM_CLASSES = 4
  """))
  monkeypatch.setattr(gin_config, "gin_configs_dir", lambda: root)
  return root


def _write(folder, name, text):
  path = folder / name
  path.write_text(textwrap.dedent(text))
  return str(path)


@pytest.mark.smoke
def test_short_name_and_include_resolve_from_any_folder(shipped, tmp_path, monkeypatch):
  elsewhere = tmp_path / "elsewhere"
  elsewhere.mkdir()
  monkeypatch.chdir(elsewhere)
  for name in ("toy_variant", "toy_variant.gin", str(shipped / "toy_variant.gin")):
    gin_config.parse_gin([name])
    assert assemble() == (("toy_net", 50, 32), 4, None)


def test_params_override_files_in_order(shipped, tmp_path):
  user = _write(tmp_path, "user.gin", """
      include 'toy_variant.gin'
      backbones.toy_net.width = 64
  """)
  gin_config.parse_gin([user], ["backbones.toy_net.depth = 101", "NUM_CLASSES = 3"])
  assert assemble() == (("toy_net", 101, 64), 3, None)


def test_user_file_includes_a_sibling_and_imports_a_module_beside_it(shipped, tmp_path, monkeypatch):
  folder = tmp_path / "project"
  folder.mkdir()
  _write(folder, "my_parts.py", """
      from maskrcnn_plugin import register_backbone

      @register_backbone("sibling_net")
      def sibling_net(input_specs=None, width=8):
        return ("sibling_net", width)
  """)
  _write(folder, "common.gin", "backbones.sibling_net.width = 16\n")
  user = _write(folder, "main.gin", """
      import my_parts
      include 'common.gin'
      test_config.assemble.backbone = @backbones.sibling_net()
  """)
  monkeypatch.chdir(tmp_path)
  try:
    gin_config.parse_gin([user])
    assert assemble()[0] == ("sibling_net", 16)
  finally:
    if "sibling_net" in BACKBONES:
      BACKBONES.unregister("sibling_net")


def test_unknown_gin_file_suggests_shipped_names(shipped):
  with pytest.raises(GinConfigError) as info:
    gin_config.parse_gin(["toy_varient"])
  message = str(info.value)
  assert "Gin file 'toy_varient' not found" in message
  assert "Did you mean 'toy_variant'?" in message
  assert "Shipped configs: base/toy_model, toy_variant." in message


@pytest.mark.parametrize("text, expected", [
    ("test_config.assemble.backbone = @backbones.toy_nett()",
     ["No configurable matching reference '@backbones.toy_nett()'",
      "Did you mean 'backbones.toy_net'?", "Registered backbones:", "line 2"]),
    ("backbones.toy_net.dept = 3",
     ["doesn't have a parameter named 'dept'", "Did you mean 'depth'?",
      "Parameters of backbones.toy_net: input_specs, depth, width", "line 2"]),
    ("test_config.asemble.num_classes = 3",
     ["No configurable matching 'test_config.asemble'", "Did you mean 'test_config.assemble'?"]),
    ("backbonez.toy_net.depth = 3",
     ["No configurable matching 'backbonez.toy_net'", "backbones.toy_net"]),
    ("include 'base/toy_modle.gin'",
     ["Gin include 'base/toy_modle.gin' not found", "Did you mean 'base/toy_model'?", "line 2"]),
    ("import no_such_module_abc",
     ["No module named 'no_such_module_abc'", "Install the module", "line 2"]),
    ("backbones.toy_net.depth = 3 3",
     ["Gin syntax error in", "line 2", "Expected newline", "depth = 3 3"]),
    ("backbones.toy_net.depth = (3,",
     ["Gin syntax error: a bracket or quote is never closed in gin file"]),
])
def test_gin_mistakes_become_one_message_with_location_and_fix(shipped, tmp_path, text, expected):
  path = _write(tmp_path, "broken.gin", "# A broken config.\n" + text + "\n")
  with pytest.raises(GinConfigError) as info:
    gin_config.parse_gin([path])
  message = str(info.value)
  for fragment in expected:
    assert fragment in message, message
  assert "broken.gin" in message


def test_mistake_in_a_binding_names_the_binding(shipped):
  with pytest.raises(GinConfigError) as info:
    gin_config.parse_gin(["toy_variant"], ["backbones.toy_net.widht = 3"])
  message = str(info.value)
  assert "widht" in message and "Did you mean 'width'?" in message


def test_failed_parse_leaves_gin_unlocked_and_empty(shipped, tmp_path):
  path = _write(tmp_path, "broken.gin", "backbones.toy_net.dept = 3\n")
  with pytest.raises(GinConfigError):
    gin_config.parse_gin([path])
  gin.parse_config("backbones.toy_net.depth = 7")  # would raise if the config were locked
  assert gin.query_parameter("backbones.toy_net.depth") == 7


def test_shipped_folder_holds_the_documented_configs():
  names = gin_config.shipped_configs()
  for name in ("maskrcnn_r50_fpn_coco", "maskrcnn_r101_fpn_coco", "maskrcnn_mobilenet_coco",
               "maskrcnn_spinenet49_coco", "maskrcnn_shapes_r18_cpu", "base/model"):
    assert name in names
  assert os.path.isfile(gin_config.resolve_gin_file("maskrcnn_r50_fpn_coco"))


def test_bound_value_follows_macros_and_outer_scopes_when_asked():
  gin.parse_config(textwrap.dedent("""
      SIDE = 64
      test_config.assemble.image_size = [%SIDE, %SIDE]
      test_config.assemble.backbone = @backbones.toy_net()
      eval/test_config.assemble.num_classes = 3
  """))
  assert gin_config.bound_value("test_config.assemble.image_size") == [64, 64]
  assert gin_config.bound_value("eval/test_config.assemble.image_size") is None
  assert gin_config.bound_value("eval/test_config.assemble.image_size",
                                inherit_scopes=True) == [64, 64]
  assert gin_config.bound_value("eval/test_config.assemble.num_classes", inherit_scopes=True) == 3
  assert gin_config.bound_value("test_config.assemble.num_classes", inherit_scopes=True) is None
  assert gin_config.bound_value("test_config.assemble.backbone") is None  # A reference.


def test_bindings_keep_references_unevaluated():
  gin.parse_config(textwrap.dedent("""
      test_config.assemble.backbone = @backbones.toy_net()
      eval/test_config.assemble.num_classes = 3
  """))
  bound = gin_config.bindings("test_config.assemble")
  assert list(bound) == ["backbone"]
  assert isinstance(bound["backbone"], gin.config.ConfigurableReference)
  assert bound["backbone"].selector == "backbones.toy_net" and bound["backbone"].evaluate
  assert gin_config.bindings("eval/test_config.assemble")["num_classes"] == 3
  assert gin_config.bindings("test_config.no_such_configurable") == {}
