"""Entry-point discovery: an installed package registers without an import line."""

import pathlib
import subprocess
import sys
import textwrap


def _install_fake_distribution(root, group, entry_points):
  """Writes a minimal installed distribution (dist-info) under `root`."""
  dist_info = root / "fake_components-1.0.dist-info"
  dist_info.mkdir()
  (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-components\nVersion: 1.0\n")
  lines = "\n".join(f"{name} = {value}" for name, value in entry_points.items())
  (dist_info / "entry_points.txt").write_text(f"[{group}]\n{lines}\n")


def _run(root, code):
  return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=root,
                        env={"PYTHONPATH": str(root)}, capture_output=True, text=True)


def test_entry_point_module_and_function_register_on_first_lookup(tmp_path):
  (tmp_path / "fake_components.py").write_text(textwrap.dedent("""
      from shared_registry import WIDGETS

      @WIDGETS.register("from_module")
      def from_module():
        return "module"

      def register_more():
        WIDGETS.register("from_function")(lambda: "function")
  """))
  (tmp_path / "shared_registry.py").write_text(
      "from registry import Registry, load_entry_points\nWIDGETS = Registry('ep_widgets', loader=lambda: load_entry_points('fake.group'))\n")
  _install_fake_distribution(tmp_path, "fake.group", {
      "mod": "fake_components", "fn": "fake_components:register_more"})
  result = _run(tmp_path, """
      import sys
      sys.path.insert(0, %r)
      from shared_registry import WIDGETS
      assert "fake_components" not in sys.modules
      print(WIDGETS.names())
      print(WIDGETS.get("from_module")(), WIDGETS.get("from_function")())
  """ % str(_repo_root()))
  assert result.returncode == 0, result.stderr
  assert result.stdout.split("\n")[:2] == ["['from_function', 'from_module']", "module function"]


def test_broken_entry_point_is_reported_by_name_and_others_still_load(tmp_path):
  (tmp_path / "good_components.py").write_text(
      "from registry import Registry, load_entry_points\nWIDGETS = Registry('ep_widgets', loader=lambda: load_entry_points('fake.group'))\n"
      "WIDGETS.register('good')(lambda: 1)\n")
  _install_fake_distribution(tmp_path, "fake.group", {
      "broken": "missing_module_xyz", "good": "good_components"})
  result = _run(tmp_path, """
      import sys, warnings
      sys.path.insert(0, %r)
      import registry
      with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        print(registry.load_entry_points("fake.group"))
      print(caught[0].message)
      try:
        registry.entry_points.reset_loaded_groups()
        registry.load_entry_points("fake.group", strict=True)
      except registry.PluginLoadError as error:
        print("strict:", error)
  """ % str(_repo_root()))
  assert result.returncode == 0, result.stderr
  lines = result.stdout.splitlines()
  assert lines[0] == "['good']"
  assert "'broken = missing_module_xyz'" in lines[1] and "fake-components 1.0" in lines[1]
  assert "No module named 'missing_module_xyz'" in lines[1]
  assert lines[2].startswith("strict: Plugin entry point 'broken = missing_module_xyz'")


def _repo_root():
  return pathlib.Path(__file__).resolve().parents[2]
