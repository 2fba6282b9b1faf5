"""Whisper, a large pretrained speech recognizer, as a source of features.

``frontend`` (its log-mel), ``encoder`` (the network), ``checkpoints`` (weights
from CTranslate2, OpenAI and Hugging Face files), ``registry`` (the known
packages and their checksums) and ``layers`` (the feature family).
"""

from serkit.features.whisper.encoder import EncoderDims, WhisperEncoder
from serkit.features.whisper.layers import WhisperLayers, layer_block
from serkit.features.whisper.registry import RECOGNIZERS, load_recognizer

__all__ = ["RECOGNIZERS", "EncoderDims", "WhisperEncoder", "WhisperLayers", "layer_block", "load_recognizer"]
