"""Code shared by the tests, imported by name: `from helpers.tiny_models import ...`.

pyproject.toml puts tests/ on sys.path, so this works for any selection of
test folders; nothing is imported through a `conftest` module.

  fixtures               pytest fixtures of several folders (shapes datasets),
                         registered by tests/conftest.py
  tiny_models            the tiny Mask R-CNN from gin, inputs for it, and
                         tiny_training.gin for whole `maskrcnn train` runs
  model_garden_training  a tiny model, records and inputs from Model Garden's
                         own factory and parser, for the trainer tests
  records                writing TFRecords and the evaluation input over them
  training_input         `maskrcnn train` that reads its input instead of training
  run_folders            a training folder of an untrained model, its export
  via_labelme            small VIA and LabelMe datasets
"""
