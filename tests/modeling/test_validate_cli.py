"""`maskrcnn validate` through the CLI entry point."""

from maskrcnn_plugin.cli.main import main


def test_validate_prints_parameters_and_shapes(capsys):
  status = main(["validate", "--gin_file=maskrcnn_shapes_r18_cpu",
                 "--gin_param=IMAGE_SIZE = [64, 64]"])
  out = capsys.readouterr().out
  assert status == 0
  assert "Mask R-CNN for 64x64 images, 4 classes (with background)" in out
  assert "trainable" in out and "parameters:" in out
  assert "level  2  stride   4  [1, 16, 16, 64]" in out  # backbone and FPN level 2
  assert "level  5  stride  32  [1, 2, 2, 512]" in out    # ResNet-18's last stage
  assert "detection_masks    [1, 20, 28, 28]" in out


def test_broken_gin_is_one_message_and_exit_2(capsys):
  status = main(["validate", "--gin_file=maskrcnn_shapes_r18_cpu",
                 "--gin_param=maskrcnn.build_maskrcnn.backbone = @backbones.resnt"])
  err = capsys.readouterr().err
  assert status == 2
  assert err.startswith("maskrcnn validate: error: No configurable matching reference "
                        "'@backbones.resnt'")
  assert "Did you mean 'backbones.resnet'?" in err
  assert "Traceback" not in err


def test_build_failure_is_one_message_and_exit_2(capsys):
  status = main(["validate", "--gin_file=maskrcnn_shapes_r18_cpu",
                 "--gin_param=IMAGE_SIZE = [100, 100]"])
  err = capsys.readouterr().err
  assert status == 2
  assert err.count("\n") == 1 and "Traceback" not in err
  assert "maskrcnn.build_maskrcnn.image_size = [100, 100] must be divisible by" in err
  assert "Use e.g. IMAGE_SIZE = [128, 128]." in err
