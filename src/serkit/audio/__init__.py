"""Reading audio files: any soundfile format, checked, mono, resampled."""

from serkit.audio.io import (
    DEFAULT_SAMPLE_RATE,
    AudioInfo,
    check_complete,
    check_signal,
    content_hash,
    dc_offset,
    info,
    load_audio,
    remove_dc,
    resample,
    to_mono,
)

__all__ = [
    "DEFAULT_SAMPLE_RATE",
    "AudioInfo",
    "check_complete",
    "check_signal",
    "content_hash",
    "dc_offset",
    "info",
    "load_audio",
    "remove_dc",
    "resample",
    "to_mono",
]
