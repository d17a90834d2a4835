"""The in-graph mask pasting equals Model Garden's COCO evaluator pasting."""

import numpy as np

from official.vision.ops import mask_ops

from maskrcnn_plugin.serving.mask_paste import paste_instance_masks


def test_paste_matches_the_evaluator_pixel_for_pixel():
  rng = np.random.default_rng(0)
  height, width, count = 97, 131, 24
  grid_y, grid_x = np.mgrid[0:28, 0:28]
  masks = []
  for _ in range(count):
    center_y, center_x, radius = rng.uniform(8, 20), rng.uniform(8, 20), rng.uniform(4, 12)
    masks.append(1.0 / (1.0 + np.exp(np.hypot(grid_y - center_y, grid_x - center_x) - radius)))
  masks = np.asarray(masks, np.float32)
  # Boxes partly outside the image, thin, and large.
  ymin, xmin = rng.uniform(-10, height - 5, count), rng.uniform(-10, width - 5, count)
  boxes = np.stack([ymin, xmin, ymin + rng.uniform(1, 60, count),
                    xmin + rng.uniform(1, 80, count)], axis=-1).astype(np.float32)

  pasted = paste_instance_masks(masks[np.newaxis], boxes[np.newaxis], [height, width])[0].numpy()

  xywh = np.stack([boxes[:, 1], boxes[:, 0], boxes[:, 3] - boxes[:, 1],
                   boxes[:, 2] - boxes[:, 0]], axis=-1)
  expected = mask_ops.paste_instance_masks(masks, xywh, height, width)
  assert pasted.shape == (count, height, width)
  assert expected.sum() > 1000
  np.testing.assert_array_equal(pasted > 0.5, expected > 0)
