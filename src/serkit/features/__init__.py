"""Features: spectral, cepstral, prosodic and functional descriptors on one frame grid.

``serkit.features.presets.get_feature("logmel-seed001")`` returns a configured
extractor; :mod:`serkit.features.base` documents the frame convention every
frame-level feature shares.
"""

from serkit.features.base import Feature, FrameGrid, StftConfig, feature_from_dict, load_feature

__all__ = ["Feature", "FrameGrid", "StftConfig", "feature_from_dict", "load_feature"]
