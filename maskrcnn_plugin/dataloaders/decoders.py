"""Registered tf.Example decoders: Model Garden's, selectable from gin.

    data.input_pipeline.decoder = @data_decoders.tf_example
    data_decoders.tf_example.mask_binarize_threshold = 0.5

What a decoder is, is `registries.DATA_DECODERS.contract` and the protocols
beside it (`registries.DataDecoder`, `SummarizingDecoder`, `RecordSummary`).
The decoders here are Model Garden's classes plus `summarize(record)`, which
the record check (`record_checks.py`) reads before decoding. `build_decoder`
and `record_summary` are how the input pipeline and `maskrcnn data check`
make a decoder and read its summaries.
"""

from typing import Any, Optional, Sequence

import tensorflow as tf
from official.vision.dataloaders import tf_example_decoder, tf_example_label_map_decoder

from maskrcnn_plugin.dataloaders import record_checks
from maskrcnn_plugin.errors import UserError
from maskrcnn_plugin.params import OptionalFraction
from maskrcnn_plugin.registries import (DATA_DECODERS, RECORD_SUMMARY_KEYS, DataDecoder,
                                        RecordSummary, SummarizingDecoder)


def build_decoder(decoder: Any = None, where: str = "data.input_pipeline.decoder"
                  ) -> DataDecoder:
  """The decoder `decoder` names, as the input pipeline makes it.

  Args:
    decoder: None (data_decoders.tf_example), a factory or class (called with
      no arguments, so the gin bindings of the current scope apply), or a
      DataDecoder, returned as it is.
    where: The binding that gave `decoder`, for messages.

  Raises:
    UserError: the factory returned something without `decode(record)`.
  """
  decoder = decoder or DATA_DECODERS.get("tf_example")
  if isinstance(decoder, type) or not isinstance(decoder, DataDecoder):
    decoder = decoder()
  if isinstance(decoder, type) or not isinstance(decoder, DataDecoder):
    raise UserError(f"{where} gave a {type(decoder).__name__}, not a data decoder: a "
                    f"data_decoders factory must return an object with a `decode(record)` "
                    f"method (maskrcnn describe data_decoders).")
  return decoder


def record_summary(decoder: SummarizingDecoder, record: tf.Tensor) -> RecordSummary:
  """`decoder.summarize(record)`, checked to hold exactly the RecordSummary keys.

  Raises:
    UserError: naming the decoder and the missing or extra keys (when the
      function is traced, before any record is read).
  """
  summary = decoder.summarize(record)
  if isinstance(summary, dict) and set(summary) == set(RECORD_SUMMARY_KEYS):
    return summary
  if isinstance(summary, dict):
    missing = [key for key in RECORD_SUMMARY_KEYS if key not in summary]
    extra = sorted(set(summary) - set(RECORD_SUMMARY_KEYS))
    found = "; ".join(([f"missing {', '.join(missing)}"] if missing else []) +
                      ([f"extra {', '.join(extra)}"] if extra else []))
  else:
    found = f"a {type(summary).__name__}"
  error = UserError(
      f"{type(decoder).__name__}.summarize(record) must return the dict the record check "
      f"reads, with exactly the keys {', '.join(RECORD_SUMMARY_KEYS)} "
      f"(registries.RecordSummary); it returned {found}.")
  # Raised while tf.data or tf.function traces: autograph re-raises an error
  # with this attribute as it is, instead of adding its trace of converted code.
  error.ag_pass_through = True
  raise error


class _TfExampleDecoder(tf_example_decoder.TfExampleDecoder):
  """Model Garden's decoder, plus the summary the record check reads."""

  def summarize(self, serialized: tf.Tensor) -> RecordSummary:
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

  def summarize(self, serialized: tf.Tensor) -> RecordSummary:
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
