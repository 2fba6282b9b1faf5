"""Long recordings: speech regions found by voice activity detection, and the timeline."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import soundfile as sf

from serkit.audio import load_audio
from serkit.errors import AudioError
from serkit.inference import load_model
from serkit.inference.segmentation import SegmentationConfig, WebrtcDetector, join_frames, split_region
from test_inference_predict import train_tiny_model

#: Clips of four emotions by speakers the tiny model never heard.
CLIPS = ("10a01Wa", "11a02Tc", "12a01Fb", "13a07Na", "14b01Wc")
GAP = 0.8  # seconds of silence before, between and after the clips
#: How far a segment boundary may lie from a clip's (speech) boundary.
TOLERANCE = 0.3


@pytest.fixture(scope="module")
def predictor(emodb_root, tmp_path_factory):
    return load_model(train_tiny_model(emodb_root, tmp_path_factory))


@pytest.fixture(scope="module")
def long_recording(emodb_root, tmp_path_factory) -> tuple[str, list[tuple[float, float]]]:
    """Clips, trimmed of their own leading and trailing silence, joined by silences; and where each lies."""
    gap = np.zeros(round(GAP * 16000), np.float32)
    parts, bounds, t = [gap], [], GAP
    for name in CLIPS:
        speech, _ = librosa.effects.trim(load_audio(emodb_root / "wav" / f"{name}.wav"), top_db=40)
        bounds.append((t, t + len(speech) / 16000))
        t = bounds[-1][1] + GAP
        parts += [speech, gap]
    path = tmp_path_factory.mktemp("long") / "long.wav"
    sf.write(path, np.concatenate(parts), 16000)
    return str(path), bounds


def _check_timeline(regions: list[tuple[float, float]], bounds: list[tuple[float, float]]) -> None:
    # one region per clip here (the clips are shorter than a window), each within tolerance of its clip
    assert len(regions) == len(bounds), (regions, bounds)
    for (start, end), (clip_start, clip_end) in zip(regions, bounds):
        assert abs(start - clip_start) <= TOLERANCE and abs(end - clip_end) <= TOLERANCE, (start, end, clip_start)


def test_a_long_recording_gets_a_timeline_of_its_clips(predictor, long_recording):
    path, bounds = long_recording
    p = predictor.predict_file(path)
    assert p.duration > predictor.config.segmentation.threshold
    _check_timeline([(s.start, s.end) for s in p.segments], bounds)
    for s in p.segments:
        assert s.label in predictor.labels and sum(s.probabilities.values()) == pytest.approx(1.0)
    # the file-level summary is the duration-weighted mean of its segments (none too short here:
    # tests/test_short_segments.py has those)
    assert not any(s.too_short for s in p.segments)
    weights = np.array([s.end - s.start for s in p.segments])
    for k in predictor.labels:
        mean = np.average([s.probabilities[k] for s in p.segments], weights=weights)
        assert p.probabilities[k] == pytest.approx(mean, abs=1e-9)
    element = p.to_dict()
    assert list(element) == ["path", "duration", "label", "probabilities", "short_speech_only", "segments"]
    assert list(element["segments"][0]) == ["start", "end", "label", "probabilities", "too_short"]


def test_a_segment_is_scored_as_the_same_audio_alone(predictor, long_recording):
    path, _ = long_recording
    p = predictor.predict_file(path)
    signal = load_audio(path)
    first = p.segments[0]
    alone = predictor.with_config(segment="none").predict_signal(
        signal[round(first.start * 16000) : round(first.end * 16000)], 16000)
    # not exact: the file loses the file's DC offset (0 here, the level of its silent gaps), the piece
    # alone its own (its mean, about 1e-4 of full scale), which moved these probabilities by 1.4e-5
    assert alone.probabilities == pytest.approx(first.probabilities, abs=1e-4)


def test_segmentation_modes(predictor, long_recording, emodb_root):
    path, _ = long_recording
    whole = predictor.with_config(segment="none").predict_file(path)
    assert whole.segments is None and whole.ok
    # a fixed window cuts every region into pieces of at most that long, even in a short file
    short = emodb_root / "wav" / f"{CLIPS[2]}.wav"
    pieces = predictor.with_config(segment=1.0).predict_file(short).segments
    assert len(pieces) >= 2 and all(s.end - s.start <= 1.0 + 1e-9 for s in pieces)
    assert all(a.end == pytest.approx(b.start) for a, b in zip(pieces, pieces[1:]))


def test_no_speech_in_a_long_recording_says_so(predictor, tmp_path):
    noise = 0.003 * np.random.default_rng(0).standard_normal(12 * 16000).astype(np.float32)
    path = tmp_path / "hiss.wav"
    sf.write(path, noise, 16000)
    with pytest.raises(AudioError, match="no speech found"):
        predictor.predict_file(path)


def test_webrtc_fallback_finds_the_same_clips(long_recording):
    path, bounds = long_recording
    _check_timeline(WebrtcDetector(SegmentationConfig()).regions(load_audio(path), 16000), bounds)


def test_region_helpers():
    assert split_region((1.0, 2.0), 4.0) == [(1.0, 2.0)]
    np.testing.assert_allclose(split_region((0.0, 9.0), 4.0), [(0.0, 3.0), (3.0, 6.0), (6.0, 9.0)])
    config = SegmentationConfig(min_silence=0.3, min_speech=0.25, speech_pad=0.0)
    voiced = np.array([0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0, 1, 0], dtype=bool)  # 0.1 s frames
    # the 0.1 s pause is bridged, the 0.5 s one is not, and the lone 0.1 s frame is dropped
    np.testing.assert_allclose(join_frames(voiced, 0.1, 1.5, config), [(0.1, 0.8)])
