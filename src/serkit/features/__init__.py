"""Features: spectral, cepstral, prosodic and functional descriptors on one frame grid.

``get_feature("logmel-seed001")`` returns a configured extractor; see
:mod:`serkit.features.presets` for the names and :mod:`serkit.features.base`
for the frame convention every frame-level feature shares.
"""

from serkit.features.base import Feature, FrameGrid, feature_from_dict, load_feature
from serkit.features.presets import Preset, all_presets, get_feature, get_preset

__all__ = [
    "Feature",
    "FrameGrid",
    "Preset",
    "all_presets",
    "feature_from_dict",
    "get_feature",
    "get_preset",
    "load_feature",
]
