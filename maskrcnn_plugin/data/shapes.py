"""The synthetic shapes dataset: squares, circles and triangles with occlusion.

Each image has a random background (a colour gradient with noise) and 1-5
shapes of random class, size, colour and position. The classes are
`DEFAULT_CLASSES` unless `classes` names others from `SHAPES` (e.g.
('star', 'hexagon') for a fine-tuning dataset); category ids are 1..K in the
order given. Shapes drawn later occlude
earlier ones; each instance mask is what remains visible, its box is the tight
box of the visible pixels and its area the visible pixel count. A shape is not
placed when it would leave an earlier one with less than `MIN_VISIBLE_AREA`
pixels visible, so every labelled instance can be seen.

`write_shapes_dataset` writes, for each split, TFRecord shards in Model
Garden's tf.Example layout, a COCO annotation JSON (compressed RLE masks) and
the PNG images the JSON names. Every image is drawn from its own
`numpy.random.Generator` seeded by (seed, split, index): the same seed gives
the same bytes.
"""

import io
import json
import multiprocessing
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw
from pycocotools import mask as mask_api

from maskrcnn_plugin.data import tf_example

SHAPES = ("square", "circle", "triangle", "star", "hexagon")
DEFAULT_CLASSES = ("square", "circle", "triangle")
MAX_SHAPES = 5
MIN_VISIBLE_AREA = 30
_PLACEMENT_TRIES = 10
_SPLIT_SALT = {"train": 0, "val": 1}


def categories(classes: Sequence[str] = DEFAULT_CLASSES) -> Tuple[Dict, ...]:
  """COCO categories for `classes` (ids 1..K in order); raises ValueError for unknown names."""
  unknown = [name for name in classes if name not in SHAPES]
  if unknown or not classes or len(set(classes)) != len(classes):
    raise ValueError(f"classes must be distinct names from {', '.join(SHAPES)}; got "
                     f"{', '.join(classes) or '(none)'}.")
  return tuple({"id": i + 1, "name": name} for i, name in enumerate(classes))


def _polygon_mask(size: int, points: np.ndarray) -> np.ndarray:
  """A [size, size] boolean mask of the polygon `points` ([N, 2] x, y in pixels)."""
  image = Image.new("1", (size, size))
  ImageDraw.Draw(image).polygon([tuple(p) for p in points.tolist()], fill=1)
  return np.array(image, bool)


def _shape_mask(shape: str, size: int, rng: np.random.Generator) -> np.ndarray:
  """A [size, size] boolean mask of one shape filling its box."""
  yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
  if shape == "square":
    return np.ones((size, size), bool)
  if shape == "circle":
    r = size / 2.0
    return (yy - r) ** 2 + (xx - r) ** 2 <= r * r
  if shape in ("star", "hexagon"):
    # A five-pointed star (inner radius 0.45) or a regular hexagon, randomly rotated.
    corners = 5 if shape == "star" else 6
    angles = rng.uniform(0, 2 * np.pi) + np.arange(2 * corners) * np.pi / corners
    radii = np.where(np.arange(2 * corners) % 2, 0.45 if shape == "star" else 1.0, 1.0)
    if shape == "hexagon":
      angles, radii = angles[::2], radii[::2]
    points = (size / 2) * (1 + radii[:, None] * np.stack([np.cos(angles), np.sin(angles)], 1))
    return _polygon_mask(size, points)
  # Triangle: one vertex on the top edge, two on the bottom corners, apex jittered.
  apex = rng.uniform(0.2, 0.8) * size
  corners = np.array([[apex, 0.0], [size, size], [0.0, size]], np.float32)
  inside = np.ones((size, size), bool)
  for (x0, y0), (x1, y1) in zip(corners, np.roll(corners, -1, axis=0)):
    inside &= (x1 - x0) * (yy - y0) - (y1 - y0) * (xx - x0) >= 0
  return inside


def _background(size: int, rng: np.random.Generator) -> np.ndarray:
  c0, c1 = rng.uniform(0, 255, (2, 3)).astype(np.float32)
  direction = rng.uniform(-1, 1, 2).astype(np.float32)
  yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
  t = np.clip(0.5 + direction[0] * (yy - 0.5) + direction[1] * (xx - 0.5), 0, 1)[..., None]
  image = c0 * (1 - t) + c1 * t + 8 * rng.standard_normal((size, size, 1), dtype=np.float32)
  return image


def draw_image(size: int, rng: np.random.Generator,
               classes: Sequence[str] = DEFAULT_CLASSES) -> Tuple[np.ndarray, List[Dict]]:
  """Draws one image with shapes of `classes` (category id = index in `classes` + 1).

  Returns:
    (image, instances): a uint8 [size, size, 3] image and, per visible shape,
    a dict with `category_id`, `mask` (bool [size, size]), `bbox` ([x, y, w, h])
    and `area`.
  """
  image = _background(size, rng)
  masks, category_ids, colours = [], [], []
  for _ in range(int(rng.integers(1, MAX_SHAPES + 1))):
    for _ in range(_PLACEMENT_TRIES):
      category_id = int(rng.integers(1, len(classes) + 1))
      extent = int(rng.integers(max(8, size // 8), max(9, size // 2)))
      x0, y0 = rng.integers(0, size - extent + 1, 2)
      full = np.zeros((size, size), bool)
      full[y0:y0 + extent, x0:x0 + extent] = _shape_mask(classes[category_id - 1], extent, rng)
      if all((m & ~full).sum() >= MIN_VISIBLE_AREA for m in masks):
        masks = [m & ~full for m in masks] + [full]
        category_ids.append(category_id)
        colours.append(rng.uniform(0, 255, 3).astype(np.float32))
        break
  instances = []
  for m, category_id, colour in zip(masks, category_ids, colours):
    image[m] = colour
    ys, xs = np.nonzero(m)
    instances.append({
        "category_id": category_id, "mask": m, "area": int(m.sum()),
        "bbox": [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1),
                 int(ys.max() - ys.min() + 1)]})
  return np.clip(image, 0, 255).astype(np.uint8), instances


def _encode_png(image: np.ndarray) -> bytes:
  buffer = io.BytesIO()
  Image.fromarray(image).save(buffer, format="PNG", compress_level=1)
  return buffer.getvalue()


def _coco_rle(mask: np.ndarray) -> Dict:
  rle = mask_api.encode(np.asfortranarray(mask.astype(np.uint8)))
  return {"size": list(rle["size"]), "counts": rle["counts"].decode("ascii")}


def _render(job: Tuple[int, int, int, int, Tuple[str, ...]]) -> Tuple[bytes, List[Dict]]:
  """Draws and encodes image `index` of a split: (PNG bytes, shapes with mask PNG and RLE)."""
  seed, salt, index, image_size, classes = job
  image, shapes = draw_image(image_size, np.random.default_rng([seed, salt, index]), classes)
  for s in shapes:
    mask = s.pop("mask")
    s["mask_png"] = tf_example.encode_mask_png(mask)
    s["rle"] = _coco_rle(mask)
  return _encode_png(image), shapes


def write_split(output_dir: str, split: str, num_images: int, num_shards: int,
                image_size: int, seed: int, write_images: bool = True,
                workers: int = 1, classes: Sequence[str] = DEFAULT_CLASSES) -> Dict:
  """Writes one split of shapes of `classes`; returns a summary dict (paths and counts).

  Images are drawn by `workers` processes (1: in this process); the output
  does not depend on the number of workers.
  """
  num_shards = max(1, min(num_shards, num_images))
  paths = tf_example.shard_paths(os.path.join(output_dir, split), num_shards)
  image_dir = os.path.join(output_dir, "images", split)
  if write_images:
    os.makedirs(image_dir, exist_ok=True)
  classes = tuple(classes)
  category_list = categories(classes)
  names = {c["id"]: c["name"] for c in category_list}
  description = f"maskrcnn_plugin synthetic shapes, {split}, seed {seed}"
  if classes != DEFAULT_CLASSES:
    description += f", classes {','.join(classes)}"
  coco = {"info": {"description": description},
          "images": [], "annotations": [], "categories": [dict(c) for c in category_list]}
  jobs = [(seed, _SPLIT_SALT[split], index, image_size, classes) for index in range(num_images)]
  pool = multiprocessing.get_context("fork").Pool(workers) if workers > 1 else None
  with tf_example.sharded_writer(paths, pool) as write:
    rendered = pool.imap(_render, jobs, chunksize=8) if pool else map(_render, jobs)
    for index, (encoded, shapes) in enumerate(rendered):
      image_id = index + 1
      filename = f"{split}/{image_id:06d}.png"
      if write_images:
        with open(os.path.join(output_dir, "images", filename), "wb") as f:
          f.write(encoded)
      instances = [tf_example.Instance(
          bbox=s["bbox"], category_id=s["category_id"], category_name=names[s["category_id"]],
          area=s["area"], mask_png=s["mask_png"]) for s in shapes]
      example = tf_example.build_example(
          encoded_image=encoded, image_format="png", height=image_size, width=image_size,
          image_id=image_id, filename=filename, instances=instances)
      write(index, example.SerializeToString(deterministic=True))
      coco["images"].append({"id": image_id, "file_name": filename, "height": image_size,
                             "width": image_size})
      for s in shapes:
        coco["annotations"].append({
            "id": len(coco["annotations"]) + 1, "image_id": image_id,
            "category_id": s["category_id"], "bbox": s["bbox"], "area": s["area"],
            "iscrowd": 0, "segmentation": s["rle"]})
  annotation_file = os.path.join(output_dir, f"instances_{split}.json")
  with open(annotation_file, "w") as f:
    json.dump(coco, f, separators=(",", ":"))
  return {"split": split, "images": num_images, "instances": len(coco["annotations"]),
          "tfrecords": paths, "annotations": annotation_file}


def write_shapes_dataset(output_dir: str, *, num_train: int = 1000, num_val: int = 200,
                         image_size: int = 128, seed: int = 0, train_shards: int = 4,
                         val_shards: int = 2, write_images: bool = True,
                         workers: Optional[int] = None,
                         classes: Sequence[str] = DEFAULT_CLASSES) -> List[Dict]:
  """Writes the train and val splits into `output_dir`; returns their summaries.

  `workers` processes draw the images (default: the number of CPUs). `classes`
  names the shapes drawn (from SHAPES), category ids 1..K in that order.

  Layout: {train,val}-NNNNN-of-NNNNN.tfrecord, instances_{train,val}.json and
  images/{train,val}/NNNNNN.png (unless `write_images` is False).
  """
  if image_size < 32:
    raise ValueError(f"image_size must be at least 32 pixels, got {image_size}.")
  categories(classes)
  os.makedirs(output_dir, exist_ok=True)
  workers = os.cpu_count() if workers is None else workers
  summaries = []
  for split, count, shards in (("train", num_train, train_shards), ("val", num_val, val_shards)):
    if count > 0:
      summaries.append(write_split(output_dir, split, count, shards, image_size, seed,
                                   write_images, workers, classes))
  return summaries
