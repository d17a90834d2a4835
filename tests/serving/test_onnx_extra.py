"""Without the optional onnx extra, ONNX commands say how to install it."""


from maskrcnn_plugin.cli.main import main as cli_main
from maskrcnn_plugin.serving import onnx_export


def test_missing_extra_is_one_message_with_the_install_command(monkeypatch, capsys, tmp_path):
  real_import = onnx_export.import_extra
  monkeypatch.setattr(onnx_export, "import_extra",
                      lambda name: real_import(f"{name}_not_installed"))
  model = tmp_path / "model.onnx"
  model.write_bytes(b"")
  (tmp_path / "a.png").write_bytes(b"")
  code = cli_main(["predict", f"--onnx={model}", f"--images={tmp_path}/*.png",
                   f"--output={tmp_path / 'out'}"])
  err = capsys.readouterr().err
  assert code == 2 and len(err.strip().splitlines()) == 1
  assert err.startswith("maskrcnn predict: error: ONNX needs the optional packages tf2onnx and "
                        "onnxruntime (No module named 'onnxruntime_not_installed')")
  assert 'pip install "maskrcnn-plugin[onnx]"' in err


def test_onnx_export_without_extra_fails_before_building_the_model(monkeypatch, capsys, tmp_path):
  real_import = onnx_export.import_extra
  monkeypatch.setattr(onnx_export, "import_extra",
                      lambda name: real_import(f"{name}_not_installed"))
  code = cli_main(["export", f"--model_dir={tmp_path / 'no_run'}",
                   f"--output={tmp_path / 'm.onnx'}", "--format=onnx"])
  assert code == 2 and "ONNX needs the optional packages" in capsys.readouterr().err
