"""benchmarks/roi_align.py: its CropAndResize candidate reads Model Garden's crops."""

import os
import sys

import numpy as np
import pytest
import tensorflow as tf
from official.vision.ops import spatial_transform_ops

BENCHMARKS = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "benchmarks")
sys.path.insert(0, os.path.abspath(BENCHMARKS))
import roi_align  # noqa: E402  pylint: disable=wrong-import-position

SIZE = 512  # levels 2-5: 128x128 to 16x16, and boxes of all four (sqrt(area) 448 is level 5)


def _boxes(batch=2, count=40, seed=1):
  """Boxes of every level, with the cases at the edges of the image and of the level rule."""
  rng = np.random.default_rng(seed)
  top_left = rng.uniform(0, SIZE - 2, [batch, count, 2])
  sides = rng.uniform(1, SIZE, [batch, count, 2])
  boxes = np.concatenate([top_left, np.minimum(top_left + sides, SIZE)], axis=-1)
  boxes[:, :6] = [[0, 0, SIZE, SIZE],                     # the whole image (level 5)
                  [SIZE - 3, SIZE - 9, SIZE, SIZE],       # the bottom-right corner
                  [0, SIZE - 30, 4, SIZE],                # a thin strip on the right edge
                  [10, 10, 10, 10],                       # zero area (lowest level)
                  [0, 0, 0, 0],                           # padding
                  [20.25, 30.5, 20.75, 90.0]]             # less than a pixel high
  return tf.constant(boxes, tf.float32)


@pytest.mark.parametrize("crop_size,sample_offset", [(7, 0.5), (14, 0.5), (7, 0.0), (1, 0.5)])
def test_the_candidate_reads_model_gardens_crops(crop_size, sample_offset):
  rng = np.random.default_rng(0)
  features = {str(level): tf.constant(rng.normal(size=[2, SIZE // 2**level, SIZE // 2**level, 8]),
                                      tf.float32) for level in range(2, 6)}
  boxes = _boxes()
  crops = roi_align.crop_and_resize_align(features, boxes, crop_size, sample_offset)
  expected = spatial_transform_ops.multilevel_crop_and_resize(
      features, boxes, output_size=crop_size, sample_offset=sample_offset)
  assert crops.shape == expected.shape == (2, 40, crop_size, crop_size, 8)
  # Sample positions of up to 128 feature pixels differ by float32 rounding
  # (about 1e-5 px), the values by that times the features' slope.
  np.testing.assert_allclose(crops.numpy(), expected.numpy(), rtol=1e-5, atol=2e-4)
  assert (np.abs(expected.numpy()).reshape(80, -1).max(axis=1)[[0, 1, 2, 5]] > 0.1).all()
