"""Training and evaluation on Orbit: trainer, COCO evaluator, optimizers, strategies.

Importing this package registers the optimizers (`optimizers.sgd`,
`optimizers.adamw`), learning-rate schedules (`lr_schedules.stepwise`,
`cosine`, `constant`, `linear_warmup`) and strategies (`strategies.one_device`,
`mirrored`, `multi_worker_mirrored`, `tpu`), and the gin configurables
`schedule`, `runtime`, `losses.maskrcnn`, `optimization.build_optimizer`,
`evaluation.coco_metric`, `checkpoints.warm_start` and `freezing.freeze`.
"""

from maskrcnn_plugin.training import (evaluator, freezing, losses, optimization,  # noqa: F401
                                      run_dir, runtime, warm_start)
from maskrcnn_plugin.training.experiment import MODES, Inputs, Result, Schedule, run  # noqa: F401
from maskrcnn_plugin.training.trainer import NonFiniteLossError  # noqa: F401
