"""A non-editable wheel ships the gin configs and resolves includes from any folder."""

import pathlib
import subprocess
import sys
import textwrap

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_installed_wheel_parses_shipped_configs_from_another_folder(tmp_path):
  wheel_dir, target, elsewhere = tmp_path / "wheel", tmp_path / "site", tmp_path / "elsewhere"
  elsewhere.mkdir()
  subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheel_dir),
                  str(ROOT)], check=True, capture_output=True)
  wheel = next(wheel_dir.glob("maskrcnn_plugin-*.whl"))
  subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
                  str(target), str(wheel)], check=True, capture_output=True)
  code = textwrap.dedent("""
      import sys
      from maskrcnn_plugin import gin_config
      path = gin_config.resolve_gin_file("maskrcnn_r50_fpn_coco")
      assert path.startswith(sys.argv[1]), path
      gin_config.parse_gin(["maskrcnn_r50_fpn_coco"])
      print("ok", len(gin_config.shipped_configs()))
  """)
  # The wheel's copy must win over the source tree: run with only the target
  # folder (plus the environment's site-packages) on the path.
  result = subprocess.run([sys.executable, "-c", code, str(target)], cwd=elsewhere,
                          env={"PYTHONPATH": str(target), "TF_CPP_MIN_LOG_LEVEL": "3"},
                          capture_output=True, text=True)
  assert result.returncode == 0, result.stderr[-3000:]
  assert result.stdout.startswith("ok")
