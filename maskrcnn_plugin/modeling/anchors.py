"""Anchor settings shared by the model and the input parser.

Both `maskrcnn.build_maskrcnn` and the Mask R-CNN parser read one
`maskrcnn.AnchorSettings`, so anchors used to label RPN targets in the input
pipeline are the ones the model generates. In gin:

    maskrcnn.AnchorSettings.anchor_size = 3.0
"""

import dataclasses
from typing import Annotated, Tuple

import gin

from maskrcnn_plugin.params import Level, Positive, PositiveInt
from registry import Each, Range
from registry.constraints import constraint


@gin.configurable(module="maskrcnn")
@constraint("maskrcnn.AnchorSettings")
@dataclasses.dataclass(frozen=True)
class AnchorSettings:
  """Multilevel anchor settings (Model Garden's `Anchor` config plus levels).

  Attributes:
    min_level: Finest feature level (stride 2**min_level).
    max_level: Coarsest feature level.
    num_scales: Anchor scales per octave.
    aspect_ratios: Height/width ratios of the anchors at each location.
    anchor_size: Anchor size relative to the stride of its level.
  """
  min_level: Level = 2
  max_level: Level = 6
  num_scales: PositiveInt = 1
  aspect_ratios: Annotated[Tuple[float, ...], Each(Range(min=0, min_open=True), min_length=1)] = (
      0.5, 1.0, 2.0)
  anchor_size: Positive = 8.0

  def __post_init__(self):
    if not 1 <= self.min_level <= self.max_level:
      raise ValueError(f"AnchorSettings needs 1 <= min_level <= max_level, got "
                       f"min_level={self.min_level}, max_level={self.max_level}.")
    object.__setattr__(self, "aspect_ratios", tuple(float(r) for r in self.aspect_ratios))

  @property
  def num_anchors_per_location(self) -> int:
    return self.num_scales * len(self.aspect_ratios)
