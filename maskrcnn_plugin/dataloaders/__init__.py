"""tf.data input for Mask R-CNN: registered decoders and parser, the pipeline.

Importing this package registers `data_decoders.tf_example`,
`data_decoders.tf_example_label_map`, `data_decoders.coco_json`,
`parsers.maskrcnn` and the gin configurables `data.input_pipeline` and
`data.class_names` (names that override those beside the data). A
training loop turns a bad-record error into one clear message with
`raise bad_record_error(error) or error`.
"""

from maskrcnn_plugin.data import class_names  # noqa: F401
from maskrcnn_plugin.dataloaders import coco_json, decoders, parsers, pipeline  # noqa: F401
from maskrcnn_plugin.dataloaders.pipeline import input_pipeline  # noqa: F401
from maskrcnn_plugin.dataloaders.record_checks import (  # noqa: F401
    BadRecordError, bad_record_error, dropped_instance_counts, skipped_record_counts)
