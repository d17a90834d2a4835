"""Registered tf.Example decoders: Model Garden's, selectable from gin.

    data.input_pipeline.decoder = @data_decoders.tf_example
    data_decoders.tf_example.mask_binarize_threshold = 0.5

A decoder is an object with `decode(serialized) -> dict` producing Model
Garden's decoded layout (see `TfExampleDecoder.decode`). The pipeline checks
records before decoding them with the decoder's `summarize(record)`
(`record_checks.py`); the decoders here are Model Garden's classes plus that
method.
"""

from typing import Optional, Sequence

import tensorflow as tf
from official.vision.dataloaders import tf_example_decoder, tf_example_label_map_decoder

from maskrcnn_plugin.dataloaders import record_checks
from maskrcnn_plugin.errors import UserError
from maskrcnn_plugin.params import OptionalFraction
from maskrcnn_plugin.registries import DATA_DECODERS


class _TfExampleDecoder(tf_example_decoder.TfExampleDecoder):
  """Model Garden's decoder, plus the summary the record check reads."""

  def summarize(self, serialized: tf.Tensor):
    return record_checks.summarize_tf_example(serialized, include_mask=self._include_mask)


@DATA_DECODERS.register("tf_example")
def tf_example(include_mask: bool = True, regenerate_source_id: bool = False,
               mask_binarize_threshold: OptionalFraction = None,
               attribute_names: Optional[Sequence[str]] = None
               ) -> tf_example_decoder.TfExampleDecoder:
  """Model Garden's TfExampleDecoder (class ids from image/object/class/label).

  Args:
    include_mask: Decode image/object/mask PNGs into groundtruth_instance_masks.
    regenerate_source_id: Hash the image bytes into source_id instead of
      reading image/source_id.
    mask_binarize_threshold: If set, masks become (mask > threshold) as 0/1.
    attribute_names: Extra per-object int attributes image/object/attribute/NAME.
  """
  return _TfExampleDecoder(
      include_mask=include_mask, regenerate_source_id=regenerate_source_id,
      mask_binarize_threshold=mask_binarize_threshold,
      attribute_names=list(attribute_names or []))


class _LabelMapDecoder(tf_example_label_map_decoder.TfExampleDecoderLabelMap):
  """Model Garden's label-map decoder, plus the summary the record check reads."""

  def summarize(self, serialized: tf.Tensor):
    return record_checks.summarize_tf_example(
        serialized, include_mask=self._include_mask,
        classes_fn=lambda parsed: self._name_to_id_table.lookup(parsed["image/object/class/text"]))


@DATA_DECODERS.register("tf_example_label_map")
def tf_example_label_map(label_map: str, include_mask: bool = True,
                         regenerate_source_id: bool = False,
                         mask_binarize_threshold: OptionalFraction = None
                         ) -> tf_example_label_map_decoder.TfExampleDecoderLabelMap:
  """Model Garden's TfExampleDecoderLabelMap: class ids from class names.

  Args:
    label_map: CSV file of `id,name` rows; image/object/class/text is looked
      up in it (an unknown name becomes id -1, a bad record).
    include_mask, regenerate_source_id, mask_binarize_threshold: as for
      `data_decoders.tf_example`.
  """
  if not tf.io.gfile.exists(label_map):
    raise UserError(f"Label map '{label_map}' (data_decoders.tf_example_label_map.label_map) "
                    "does not exist.")
  return _LabelMapDecoder(label_map, include_mask=include_mask,
                          regenerate_source_id=regenerate_source_id,
                          mask_binarize_threshold=mask_binarize_threshold)
