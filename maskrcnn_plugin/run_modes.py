"""The modes of a run (`maskrcnn train --mode`, `training.run(model_dir, mode)`).

Kept apart from training/ so that the command line offers them without
importing TensorFlow.
"""

MODES = ("train", "eval", "train_and_eval", "continuous_eval")
