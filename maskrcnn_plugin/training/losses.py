"""Mask R-CNN training losses: Model Garden's, with weights bound in gin.

    losses.maskrcnn.mask_weight = 2.0
    losses.maskrcnn.frcnn_class_loss_top_k_percent = 0.5

The loss terms are computed by Model Garden's own `MaskRCNNTask.build_losses`
(official/vision/tasks/maskrcnn.py), called on a task that holds only a
`Losses` config and the two model fields the losses read (cascade IoUs and
class-agnostic box prediction, taken from the built model). Nothing of the
task's data or model building runs.
"""

from typing import Dict, Mapping, Optional, Sequence

import gin
import tensorflow as tf

from official.vision.configs import maskrcnn as maskrcnn_config
from official.vision.tasks import maskrcnn as maskrcnn_task

from maskrcnn_plugin.params import NonNegative, OpenFraction, Positive
from registry.constraints import constraint

LOSS_TERMS = ("total_loss", "rpn_score_loss", "rpn_box_loss", "frcnn_cls_loss",
              "frcnn_box_loss", "mask_loss", "model_loss")


@gin.configurable("maskrcnn", module="losses")
@constraint("losses.maskrcnn")
class MaskRCNNLosses:
  """Weighted sum of Model Garden's RPN, Fast R-CNN and mask losses.

  Parameters are the fields of Model Garden's `Losses` config (same names and
  defaults), except `l2_weight_decay`: weight decay is the kernel
  regularization the model is built with (`maskrcnn.build_maskrcnn.l2_weight_decay`),
  whose terms (`model.losses`) are added to the total as Model Garden does.
  """

  def __init__(self, model, *, rpn_score_weight: NonNegative = 1.0,
               rpn_box_weight: NonNegative = 1.0, frcnn_class_weight: NonNegative = 1.0,
               frcnn_box_weight: NonNegative = 1.0, mask_weight: NonNegative = 1.0,
               loss_weight: NonNegative = 1.0, rpn_huber_loss_delta: Positive = 1. / 9.,
               frcnn_huber_loss_delta: Positive = 1.,
               frcnn_class_use_binary_cross_entropy: bool = False,
               frcnn_class_loss_top_k_percent: OpenFraction = 1.,
               class_weights: Optional[Sequence[float]] = None):
    model_config = model.get_config()
    # Model Garden 2.14's Losses config has no class_weights field.
    optional = {"class_weights": list(class_weights)} if class_weights else {}
    losses = maskrcnn_config.Losses(
        loss_weight=loss_weight, rpn_huber_loss_delta=rpn_huber_loss_delta,
        frcnn_huber_loss_delta=frcnn_huber_loss_delta,
        frcnn_class_use_binary_cross_entropy=frcnn_class_use_binary_cross_entropy,
        frcnn_class_loss_top_k_percent=frcnn_class_loss_top_k_percent,
        rpn_score_weight=rpn_score_weight, rpn_box_weight=rpn_box_weight,
        frcnn_class_weight=frcnn_class_weight, frcnn_box_weight=frcnn_box_weight,
        mask_weight=mask_weight, **optional)
    # Model Garden counts detection heads as 1 + len(cascade IoU thresholds).
    cascade_ious = [sampler.get_config()["foreground_iou_threshold"]
                    for sampler in model.roi_sampler[1:]]
    task_config = maskrcnn_config.MaskRCNNTask(
        losses=losses,
        model=maskrcnn_config.MaskRCNN(
            include_mask=model_config.get("mask_head") is not None,
            roi_sampler=maskrcnn_config.ROISampler(
                cascade_iou_thresholds=list(cascade_ious) if cascade_ious else None),
            detection_head=maskrcnn_config.DetectionHead(
                class_agnostic_bbox_pred=bool(model_config.get("class_agnostic_bbox_pred")))))
    self._task = maskrcnn_task.MaskRCNNTask(task_config)
    self.include_mask = task_config.model.include_mask

  def __call__(self, outputs: Mapping[str, tf.Tensor], labels: Mapping[str, tf.Tensor],
               regularization_losses: Sequence[tf.Tensor] = ()) -> Dict[str, tf.Tensor]:
    """The loss terms of one replica's batch.

    Args:
      outputs: The model's training outputs (float32).
      labels: The parser's labels (rpn_score_targets, rpn_box_targets, ...).
      regularization_losses: The model's weight-decay terms (`model.losses`).

    Returns:
      Scalars keyed by LOSS_TERMS; `total_loss` includes regularization.
    """
    return self._task.build_losses(outputs=outputs, labels=labels,
                                   aux_losses=list(regularization_losses) or None)
