"""`maskrcnn train` on the shapes config at 64 px that reads its training input and stops.

For the tests of what the training input reports (bad records, instance
limits, empty data) through the real command, without the cost of training.
"""

from maskrcnn_plugin import training
from maskrcnn_plugin.training import experiment

# `maskrcnn train` on the shapes config at 64 px, batch 2; add SHAPES_DIR and a --model_dir.
SHAPES_64PX_TRAIN = ("train", "--gin_file=maskrcnn_shapes_r18_cpu",
                     "--gin_param=IMAGE_SIZE = [64, 64]", "--gin_param=TRAIN_BATCH_SIZE = 2")


def read_training_input_instead_of_training(monkeypatch, batches: int) -> None:
  """Makes `training.run` read `batches` batches of the configured training input, then return."""

  def read_batches(model_dir, mode, verbose=False):
    del model_dir, mode, verbose
    training_input = iter(experiment.plugin_inputs().train_dataset_fn(None))
    for _ in range(batches):
      next(training_input)
    return experiment.Result(step=0, metrics={}, model_dir="", checkpoint=None)

  monkeypatch.setattr(training, "run", read_batches)
