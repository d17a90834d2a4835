"""Dataset tools: the synthetic shapes dataset, COCO conversion, record checks.

Mirrors Model Garden's `official/vision/data`: code that writes and inspects
TFRecords in Model Garden's tf.Example layout. Reading them for training is
`maskrcnn_plugin.dataloaders`.
"""
