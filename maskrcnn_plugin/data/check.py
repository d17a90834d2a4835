"""`maskrcnn data check`: decode every record, count, flag inconsistencies, render.

Each record is checked like the input pipeline checks it (`dataloaders.
record_checks`: image bytes, box/class/mask counts, class range, zero-area and
outside boxes; for decoders with `summarize(record)`), then decoded with the
decoder the gin config selects (`data.input_pipeline.decoder`, Model Garden's
TfExampleDecoder by default); a decoding error, or an image or mask whose
size differs from the decoded height and width, is flagged too. Truncated
TFRecord files are flagged with the index of their first incomplete record.
Rendered records are drawn with Model Garden's visualization utilities, as
`maskrcnn predict` draws detections (`serving.visualize`).

It also reports, without changing anything: the largest instance count of an
image and the images holding more than `max_instances` (what
`parsers.maskrcnn.max_num_instances` would cut), and probable double
annotations: two instances of one image and class whose masks overlap with
IoU >= DUPLICATE_IOU. Class names come from `PREFIX_classes.json` beside the
records, else from image/object/class/text.
"""

import collections
import dataclasses
import os
from typing import Dict, List, Optional, Tuple

import gin
import numpy as np
import tensorflow as tf
from PIL import Image

from maskrcnn_plugin import errors
from maskrcnn_plugin.data import class_names as class_names_lib
from maskrcnn_plugin.dataloaders import decoders, files as files_lib, record_checks
from maskrcnn_plugin.errors import UserError
from maskrcnn_plugin.registries import DataDecoder, RecordSource, SummarizingDecoder
from maskrcnn_plugin.serving.visualize import draw_ground_truth

# Two masks of one image and class overlapping this much are probably one object annotated twice.
DUPLICATE_IOU = 0.9


@dataclasses.dataclass
class CheckReport:
  """What `check_records` found."""
  files: List[str]
  records: int = 0
  empty_images: int = 0
  crowd_instances: int = 0
  instances_per_class: Dict[int, int] = dataclasses.field(
      default_factory=collections.Counter)
  class_names: Dict[int, str] = dataclasses.field(default_factory=dict)
  problems: List[Tuple[str, int, str]] = dataclasses.field(default_factory=list)
  rendered: List[str] = dataclasses.field(default_factory=list)
  most_instances: int = 0
  max_instances: Optional[int] = None
  over_limit: List[Tuple[str, int, int]] = dataclasses.field(default_factory=list)
  duplicates: List[Tuple[str, int, str]] = dataclasses.field(default_factory=list)

  def lines(self, max_problems: int = 50) -> List[str]:
    """A printable report."""
    out = [f"files: {len(self.files)}", f"images: {self.records}",
           f"instances: {sum(self.instances_per_class.values())}",
           f"empty images: {self.empty_images}", f"crowd instances: {self.crowd_instances}",
           "instances per class:"]
    for class_id in sorted(self.instances_per_class):
      name = self.class_names.get(class_id, "")
      out.append(f"  {class_id:>4} {name:<20} {self.instances_per_class[class_id]}")
    out.append(f"most instances in one image: {self.most_instances}")
    if self.max_instances is not None:
      out.append(f"images with more than --max-instances {self.max_instances} instances: "
                 f"{len(self.over_limit)}")
      out += _listed([(p, i, f"{n} instances") for p, i, n in self.over_limit], max_problems)
    out.append(f"probable double annotations (same class, mask IoU >= {DUPLICATE_IOU}): "
               f"{len(self.duplicates)}")
    out += _listed(self.duplicates, max_problems)
    out.append(f"inconsistent records: {len(self.problems)}")
    out += _listed(self.problems, max_problems)
    out += [f"rendered: {path}" for path in self.rendered]
    return out


def _listed(entries: List[Tuple[str, int, str]], limit: int) -> List[str]:
  lines = [f"  {path} #{index}: {text}" for path, index, text in entries[:limit]]
  if len(entries) > limit:
    lines.append(f"  ... and {len(entries) - limit} more")
  return lines


def double_annotations(classes: np.ndarray, masks: np.ndarray,
                       names: Dict[int, str]) -> List[str]:
  """Pairs of instances of one class whose masks overlap with IoU >= DUPLICATE_IOU.

  Args:
    classes: int [N] class ids.
    masks: [N, H, W] masks (values > 0.5 are inside).
  """
  if len(classes) < 2 or masks is None or len(masks) != len(classes):
    return []
  flat = (masks.reshape(len(masks), -1) > 0.5).astype(np.float32)
  intersection = flat @ flat.T
  areas = flat.sum(axis=1)
  union = areas[:, None] + areas[None, :] - intersection
  iou = np.where(union > 0, intersection / np.maximum(union, 1), 0.0)
  found = []
  for i in range(len(classes)):
    for j in range(i + 1, len(classes)):
      if classes[i] == classes[j] and iou[i, j] >= DUPLICATE_IOU:
        name = names.get(int(classes[i]), str(int(classes[i])))
        found.append(f"instances {i} and {j} (class {name!r}) overlap with mask IoU "
                     f"{iou[i, j]:.2f}")
  return found


def render(decoded: Dict[str, np.ndarray], class_names: Dict[int, str], path: str) -> None:
  """Draws the decoded record's masks, boxes and class names on its image; saves a PNG."""
  image = decoded["image"]
  height, width = image.shape[:2]
  boxes = np.asarray(decoded["groundtruth_boxes"], np.float32).reshape(-1, 4)
  Image.fromarray(draw_ground_truth(
      image, boxes * np.array([height, width, height, width], np.float32),
      decoded["groundtruth_classes"], decoded.get("groundtruth_instance_masks"),
      class_names)).save(path)


def configured_decoder(scope: str = "train") -> DataDecoder:
  """The decoder of the parsed gin config's `data.input_pipeline` in gin scope `scope`.

  Made as the input pipeline makes it, inside the scope, so that bindings
  such as `train/data_decoders.tf_example.include_mask` apply; with no
  decoder bound, data_decoders.tf_example.
  """
  with gin.config_scope(scope):
    bound = gin.get_bindings("data.input_pipeline").get("decoder")
    return decoders.build_decoder(bound, f"{scope}/data.input_pipeline.decoder")


def _decoded_problem(decoded: Dict[str, np.ndarray]) -> Optional[str]:
  height, width = int(decoded["height"]), int(decoded["width"])
  if decoded["image"].shape[:2] != (height, width):
    return (f"the image is {decoded['image'].shape[1]}x{decoded['image'].shape[0]} but "
            f"image/width x image/height say {width}x{height}")
  masks = decoded.get("groundtruth_instance_masks")
  if masks is not None and len(masks) and masks.shape[1:] != (height, width):
    return f"masks are {masks.shape[2]}x{masks.shape[1]}, the image {width}x{height}"
  return None


def check_records(file_pattern: str, *, num_classes: Optional[int] = None, render_count: int = 0,
                  output_dir: Optional[str] = None, max_instances: Optional[int] = None,
                  decoder: Optional[DataDecoder] = None) -> CheckReport:
  """Checks every record of the TFRecord files matching `file_pattern`.

  Args:
    num_classes: Classes including background; ids outside [1, num_classes)
      are flagged. None: only ids < 1 are flagged.
    render_count: Render this many good records as PNG files into output_dir.
    max_instances: Count (and list) the images with more instances.
    decoder: Decodes the records (e.g. `configured_decoder()`); None:
      data_decoders.tf_example with masks. The record check before decoding
      needs its `summarize(record)`.

  Raises:
    UserError: no file matches, or the decoder reads other files than
      TFRecords.
  """
  decoder = decoder or decoders.tf_example(include_mask=True)
  if isinstance(decoder, RecordSource):
    raise UserError(f"maskrcnn data check reads TFRecord files, and the configured decoder "
                    f"({type(decoder).__name__}) reads its own files: its records are checked "
                    f"when the input pipeline is built. Convert them to TFRecords (maskrcnn "
                    f"data convert-coco) to check them here.")
  files = files_lib.expand_patterns(file_pattern, "PATTERN")
  report = CheckReport(files=files, max_instances=max_instances)
  names_beside = class_names_lib.for_files(files)
  if isinstance(decoder, SummarizingDecoder):
    problem_fn = tf.function(lambda record: record_checks.record_problem(
        decoders.record_summary(decoder, record), num_classes))
  else:  # As in the input pipeline: its records are only decoded.
    problem_fn = lambda record: tf.constant("")
  decode_fn = tf.function(decoder.decode)
  text_fn = tf.function(lambda record: tf.io.parse_single_example(record, {
      "image/object/class/text": tf.io.VarLenFeature(tf.string)})[
          "image/object/class/text"].values)
  if render_count:
    os.makedirs(output_dir, exist_ok=True)
  for path in files:
    count, truncated_at = files_lib.scan_tfrecord(path)
    if truncated_at is not None:
      report.problems.append((path, count, f"the TFRecord file is truncated at byte "
                                           f"{truncated_at}"))
    for index, record in enumerate(tf.data.TFRecordDataset(path).take(count)):
      report.records += 1
      reason = problem_fn(record).numpy().decode()
      if not reason:
        try:
          decoded = {k: v.numpy() for k, v in decode_fn(record).items()}
          reported = decoded.pop(record_checks.DECODE_PROBLEM, b"").decode()
          reason = reported or _decoded_problem(decoded)
        except tf.errors.InvalidArgumentError as error:
          reason = f"the record cannot be decoded: {errors.first_line(error)}"
      if reason:
        report.problems.append((path, index, reason))
        continue
      classes = decoded["groundtruth_classes"]
      if not len(classes):
        report.empty_images += 1
      report.crowd_instances += int(decoded["groundtruth_is_crowd"].sum())
      report.instances_per_class.update(int(c) for c in classes)
      try:
        names = text_fn(record).numpy()
      except tf.errors.InvalidArgumentError:  # a record of the decoder's own format
        names = []
      if len(names) == len(classes):
        report.class_names.update((int(c), n.decode()) for c, n in zip(classes, names))
      report.class_names.update(names_beside)
      report.most_instances = max(report.most_instances, len(classes))
      if max_instances is not None and len(classes) > max_instances:
        report.over_limit.append((path, index, len(classes)))
      report.duplicates += [(path, index, text) for text in double_annotations(
          classes, decoded.get("groundtruth_instance_masks"), report.class_names)]
      if len(report.rendered) < render_count:
        out = os.path.join(output_dir, f"{os.path.basename(path)}-{index:05d}.png")
        render(decoded, report.class_names, out)
        report.rendered.append(out)
  return report
