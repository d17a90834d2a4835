"""The data tests read decoders through the registry: register them once per session."""

import maskrcnn_plugin.dataloaders  # noqa: F401  (sets up Keras, then registers the decoders)
