"""torchvision's Mask R-CNN as one side of `compare_torchvision.py`.

    .venv-torch/bin/python benchmarks/torchvision_side.py CONFIG.json

Runs in a virtual environment of its own (torch, torchvision, numpy, pillow;
nothing of the plugin, and the plugin never imports torch). CONFIG.json is
written by `compare_torchvision.py` from the plugin's parsed gin config:

    model:           keyword arguments of maskrcnn_resnet50_fpn (num_classes,
                     min_size/max_size = the image size, rpn_* and box_* counts
                     and thresholds, image_mean/image_std)
    anchor_sizes:    one anchor size per FPN level (P2-P6), in pixels
    aspect_ratios:   anchor aspect ratios, the same on every level
    optimizer:       SGD lr, momentum, weight_decay
    clip_norm:       the gradient's global norm is clipped to it
    paste_masks:     False: inference returns the 28x28 mask of each detection,
                     as the plugin's model does, instead of pasting it into the image
    precision:       'float32', or 'bfloat16' (CPU autocast around the forward pass)
    threads:         torch.set_num_threads
    data:            the .npz written by compare_torchvision.py: train_images
                     uint8 [N, S, S, 3], train_counts [N], train_boxes float32
                     [T, 4] (x1, y1, x2, y2 pixels), train_labels [T],
                     train_masks uint8 [T, S, S]; val_images float32
                     [M, S, S, 3] in [0, 1] (the plugin's eval inputs)
    batch_size, warmup_steps, seed

The model is `maskrcnn_resnet50_fpn(weights=None, weights_backbone=None)`: no
download, random weights, trainable batch norm in the whole backbone (with no
weights torchvision uses nn.BatchNorm2d and all 5 stages trainable), its
TwoMLPHead (2 fcs of 1024) and its 4-conv mask head. It then serves the
commands of `side_server.py`.
"""

import json
import os
import sys
import time
from typing import Dict, List, Tuple

import numpy as np
import torch
import torchvision
from torchvision.models.detection import maskrcnn_resnet50_fpn
from torchvision.models.detection.anchor_utils import AnchorGenerator

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import side_server  # noqa: E402  pylint: disable=wrong-import-position


def build_model(config: Dict) -> torch.nn.Module:
  """torchvision's Mask R-CNN R50-FPN with the counts of `config['model']`, random weights."""
  levels = len(config["anchor_sizes"])
  anchors = AnchorGenerator(sizes=tuple((size,) for size in config["anchor_sizes"]),
                            aspect_ratios=(tuple(config["aspect_ratios"]),) * levels)
  return maskrcnn_resnet50_fpn(weights=None, weights_backbone=None, rpn_anchor_generator=anchors,
                               **config["model"])


def load_data(path: str) -> Tuple[List[Tuple[torch.Tensor, Dict]], List[torch.Tensor]]:
  """([(image [3, S, S] in [0, 1], target)] for training, [image [3, S, S]] for inference)."""
  data = np.load(path)
  train, first = [], 0
  for image, count in zip(data["train_images"], data["train_counts"]):
    last = first + int(count)
    target = {"boxes": torch.from_numpy(data["train_boxes"][first:last]),
              "labels": torch.from_numpy(data["train_labels"][first:last]).long(),
              "masks": torch.from_numpy(data["train_masks"][first:last])}
    train.append((torch.from_numpy(image).permute(2, 0, 1).float() / 255.0, target))
    first = last
  val = [torch.from_numpy(image).permute(2, 0, 1).contiguous() for image in data["val_images"]]
  return train, val


class TorchvisionSide:
  """Training and inference windows of one model, cycling through the data."""

  def __init__(self, config: Dict):
    torch.manual_seed(config["seed"])
    self.model = build_model(config)
    if not config["paste_masks"]:
      # Images are not resized (min_size = max_size = their size): the
      # transform's postprocess would only paste masks into the image.
      self.model.transform.postprocess = lambda result, image_sizes, original_sizes: result
    self.optimizer = torch.optim.SGD(self.model.parameters(), **config["optimizer"])
    self.clip_norm = config["clip_norm"]
    self.batch_size = config["batch_size"]
    self.bfloat16 = config["precision"] == "bfloat16"
    self.train_data, self.val_data = load_data(config["data"])
    self._train_next = 0
    self._val_next = 0

  def _autocast(self):
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bfloat16)

  def _take(self, items: List, start: int) -> Tuple[List, int]:
    chosen = [items[(start + i) % len(items)] for i in range(self.batch_size)]
    return chosen, (start + self.batch_size) % len(items)

  def train(self, steps: int) -> float:
    """`steps` SGD steps on batches of the training images; returns images/s."""
    self.model.train()
    start = time.perf_counter()
    for _ in range(steps):
      batch, self._train_next = self._take(self.train_data, self._train_next)
      with self._autocast():
        losses = self.model([image for image, _ in batch], [target for _, target in batch])
        loss = sum(losses.values())
      self.optimizer.zero_grad(set_to_none=True)
      loss.backward()
      torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip_norm)
      self.optimizer.step()
    if not torch.isfinite(loss):
      raise FloatingPointError(f"torchvision's training loss is {float(loss)}")
    return steps * self.batch_size / (time.perf_counter() - start)

  def infer(self, batches: int) -> Tuple[float, List[int]]:
    """`batches` batches of the validation images in eval mode; (images/s, detections per image)."""
    self.model.eval()
    detections = []
    with torch.inference_mode(), self._autocast():
      start = time.perf_counter()
      for _ in range(batches):
        images, self._val_next = self._take(self.val_data, self._val_next)
        outputs = self.model(images)
        detections += [int(output["boxes"].shape[0]) for output in outputs]
      elapsed = time.perf_counter() - start
    return batches * self.batch_size / elapsed, detections


def main() -> None:
  answers = side_server.protocol_stdout()
  with open(sys.argv[1], encoding="utf-8") as file:
    config = json.load(file)
  torch.set_num_threads(config["threads"])
  side = TorchvisionSide(config)
  answers.write(json.dumps({
      "torch": torch.__version__, "torchvision": torchvision.__version__,
      "threads": torch.get_num_threads(),
      "cpu_capability": torch.backends.cpu.get_cpu_capability(),
      "parameters": sum(p.numel() for p in side.model.parameters())}) + "\n")
  side.train(config["warmup_steps"])  # Warm-up: allocator, first-call paths.
  side.infer(1)
  answers.write(json.dumps({"ready": True}) + "\n")
  side_server.serve(answers, side.train, side.infer)


if __name__ == "__main__":
  main()
