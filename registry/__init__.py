"""Generic registries of named, gin-configurable factories.

This package imports neither TensorFlow nor Model Garden; it only needs
gin-config. See `registry.registry.Registry`.
"""

from registry.entry_points import load_entry_points
from registry.constraints import Each, OneOf, Range, checked, parameter_specs
from registry.errors import (ConstraintError, DuplicateNameError, PluginLoadError, RegistryError,
                             UnknownNameError)
from registry.registry import Description, Parameter, Registry
from registry.suggest import close_matches, did_you_mean

__all__ = [
    "ConstraintError", "Each", "OneOf", "Range", "checked", "parameter_specs",
    "Description", "DuplicateNameError", "Parameter", "PluginLoadError", "Registry",
    "RegistryError", "UnknownNameError", "close_matches", "did_you_mean", "load_entry_points",
]
