"""Generic registries of named, gin-configurable factories.

This package imports neither TensorFlow nor Model Garden; it only needs
gin-config. See `registry.registry.Registry`.
"""

from registry.entry_points import load_entry_points
from registry.errors import DuplicateNameError, PluginLoadError, RegistryError, UnknownNameError
from registry.registry import Description, Parameter, Registry
from registry.suggest import close_matches, did_you_mean

__all__ = [
    "Description", "DuplicateNameError", "Parameter", "PluginLoadError", "Registry",
    "RegistryError", "UnknownNameError", "close_matches", "did_you_mean", "load_entry_points",
]
