"""Long recordings: speech too short to trust (issue 18, section 3).

A speech region under ``min_trusted`` (1 s) is merged with its nearest
neighbour across a pause under ``merge_gap`` (0.5 s), else kept and flagged
``too_short``; the file's summary is the duration-weighted mean of the trusted
segments, of all of them only where none is trusted (``short_speech_only``).
The recordings are real EMO-DB utterances joined by silences, with 0.4 s cuts
of utterances as short bursts; the model is the shipped default.
"""

from __future__ import annotations

import csv
import io
import json

import librosa
import numpy as np
import pytest
import soundfile as sf
import typer
from typer.testing import CliRunner

from serkit.audio import load_audio
from serkit.cli.inference import register
from serkit.errors import AudioError, SerkitError
from serkit.inference import load_model
from serkit.inference.segmentation import (SegmentationConfig, merge_short, speech_detector, split_region,
                                           summary_weights)

RATE = 16000
#: Silence between a burst and the sentence it belongs to: past the detector's ``min_silence``
#: (0.3 s), so the detector keeps them apart, and under ``merge_gap`` (0.5 s) once its padding is in.
CLOSE = 0.35
#: Silence around a lone burst: far past ``merge_gap``.
FAR = 1.5
#: How far a segment's edge may lie from the speech's edge (the detector's padding and onset).
TOLERANCE = 0.15


def _sentence(root, name: str) -> np.ndarray:
    """An EMO-DB utterance without its leading and trailing silence."""
    return librosa.effects.trim(load_audio(root / "wav" / f"{name}.wav"), top_db=40)[0]


def _burst(root, name: str, at: float = 0.8, length: float = 0.4) -> np.ndarray:
    """``length`` seconds of an utterance from ``at`` s on: a word or two."""
    return _sentence(root, name)[round(at * RATE) : round((at + length) * RATE)]


def _silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * RATE), np.float32)


def _join(parts: list[np.ndarray]) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """The parts end to end, and where each speech part lies (seconds)."""
    spans, t = [], 0.0
    for part in parts:
        if part.any():
            spans.append((t, t + len(part) / RATE))
        t += len(part) / RATE
    return np.concatenate(parts), spans


def _near(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return abs(a[0] - b[0]) <= TOLERANCE and abs(a[1] - b[1]) <= TOLERANCE


def _mean(segments, keep) -> np.ndarray:
    """The duration-weighted mean of the kept segments' probabilities, in label order."""
    chosen = [s for s in segments if keep(s)]
    return np.average([list(s.probabilities.values()) for s in chosen], axis=0,
                      weights=[s.end - s.start for s in chosen])


@pytest.fixture(scope="module")
def predictor():
    return load_model("default")


@pytest.fixture(scope="module")
def recording(emodb_root):
    """Three anger sentences; a burst 0.35 s after the first, and a lone burst (of sadness) 1.5 s from any."""
    return _join([
        _silence(0.8), _sentence(emodb_root, "03a01Wa"), _silence(CLOSE), _burst(emodb_root, "03a05Wa"),
        _silence(2.0), _sentence(emodb_root, "03a02Wb"),
        _silence(FAR), _burst(emodb_root, "03a02Ta"), _silence(FAR),
        _sentence(emodb_root, "03a04Wc"), _silence(0.8),
    ])


@pytest.fixture(scope="module")
def recording_file(recording, tmp_path_factory):
    path = tmp_path_factory.mktemp("short") / "bursts.wav"
    sf.write(path, recording[0], RATE)
    return path


def test_the_detector_finds_each_burst_on_its_own(recording):
    # what the merge works on: five regions, the close burst apart from its sentence
    signal, spans = recording
    regions = speech_detector(SegmentationConfig()).regions(signal, RATE)
    assert len(regions) == len(spans) == 5, regions
    assert all(_near(r, s) for r, s in zip(regions, spans)), (regions, spans)
    assert 0.3 < regions[1][0] - regions[0][1] < 0.5 and regions[1][1] - regions[1][0] < 1.0


def test_a_burst_close_to_a_sentence_is_merged_into_it(predictor, recording):
    signal, spans = recording
    p = predictor.predict_signal(signal, RATE)
    assert len(p.segments) == 4
    first = p.segments[0]
    assert _near((first.start, first.end), (spans[0][0], spans[1][1])), (first, spans)
    assert not first.too_short


def test_a_lone_burst_is_flagged_and_left_out_of_the_file_label(predictor, recording):
    signal, spans = recording
    p = predictor.predict_signal(signal, RATE)
    assert [s.too_short for s in p.segments] == [False, False, True, False]
    lone = p.segments[2]
    assert _near((lone.start, lone.end), spans[3]) and lone.end - lone.start < 1.0
    assert lone.label in predictor.labels  # shown, with its own label
    assert p.short_speech_only is False
    trusted = _mean(p.segments, lambda s: not s.too_short)
    np.testing.assert_allclose(list(p.probabilities.values()), trusted, atol=1e-12)
    # counting the burst would have moved the summary: it is left out, not merely light
    assert np.abs(_mean(p.segments, lambda s: True) - trusted).max() > 1e-4
    element = p.to_dict()
    assert element["short_speech_only"] is False
    assert [s["too_short"] for s in element["segments"]] == [False, False, True, False]


def test_short_bursts_cannot_outvote_a_sentence(predictor, emodb_root):
    # five bursts of sadness hold more speech than the one anger sentence, yet the file is the sentence's
    bursts = [part for name in ("03a02Ta", "03a04Ta", "03a05Tc", "03b01Td", "03a02Ta")
              for part in (_burst(emodb_root, name, length=0.5), _silence(FAR))]
    signal, _ = _join([_silence(0.8), _sentence(emodb_root, "03a01Wa"), _silence(FAR), *bursts])
    p = predictor.predict_signal(signal, RATE)
    assert [s.too_short for s in p.segments] == [False] + [True] * (len(p.segments) - 1)
    sentence = p.segments[0]
    assert sum(s.end - s.start for s in p.segments[1:]) > sentence.end - sentence.start
    assert p.label == sentence.label
    assert p.probabilities == pytest.approx(sentence.probabilities, abs=1e-12)


def test_a_recording_of_short_bursts_only_says_so(predictor, emodb_root):
    parts = [_silence(FAR)]
    for name in ("03a01Wa", "03a02Ta", "03a04Fd", "03a05Nd", "03a07Wc"):
        parts += [_burst(emodb_root, name), _silence(FAR)]
    signal, spans = _join(parts)
    p = predictor.predict_signal(signal, RATE)
    # the detector may miss a burst (one here, in this context): each segment found is one of them
    assert len(p.segments) >= 3 and all(any(_near((s.start, s.end), b) for b in spans) for s in p.segments)
    assert all(s.too_short for s in p.segments)
    # nothing else remains: the summary rests on them all, by duration, and says so
    assert p.short_speech_only is True and p.to_dict()["short_speech_only"] is True
    np.testing.assert_allclose(list(p.probabilities.values()), _mean(p.segments, lambda s: True), atol=1e-12)
    assert p.label in predictor.labels


def test_a_region_just_past_the_window_is_cut_in_halves(predictor, emodb_root):
    # two sentences 0.15 s apart: one speech region of about 4.3 s, cut into two 2.15 s halves
    signal, spans = _join([_silence(1.0), _sentence(emodb_root, "03a02Wb"), _silence(0.15),
                           _sentence(emodb_root, "03a04Ta"), _silence(1.0)])
    assert 4.0 < spans[1][1] - spans[0][0] < 4.6
    p = predictor.with_config(segment=4.0).predict_signal(signal, RATE)
    assert len(p.segments) == 2 and not any(s.too_short for s in p.segments)
    first, second = p.segments
    assert first.end == pytest.approx(second.start)
    assert first.end - first.start == pytest.approx(second.end - second.start, abs=1e-6)
    assert first.end - first.start > 2.0


def test_windows_leave_no_short_tail():
    np.testing.assert_allclose(split_region((0.0, 4.3), 4.0), [(0.0, 2.15), (2.15, 4.3)])
    for length in np.arange(4.01, 30.0, 0.07):
        pieces = [b - a for a, b in split_region((0.0, float(length)), 4.0)]
        assert min(pieces) > 2.0 - 1e-9 and max(pieces) <= 4.0 + 1e-9, (length, pieces)
    # a merge that passes the window is cut again, in halves
    merged = merge_short([(0.0, 3.8), (4.2, 4.6)], 1.0, 0.5)
    assert merged == [(0.0, 4.6)]
    np.testing.assert_allclose(split_region(merged[0], 4.0), [(0.0, 2.3), (2.3, 4.6)])


def test_merge_joins_the_nearest_close_neighbour():
    # the 0.4 s region lies 0.3 s after one sentence and 0.2 s before another: it joins the nearer
    assert merge_short([(0.0, 2.0), (2.3, 2.7), (2.9, 5.0)], 1.0, 0.5) == [(0.0, 2.0), (2.3, 5.0)]
    assert merge_short([(0.0, 2.0), (2.2, 2.6), (3.0, 5.0)], 1.0, 0.5) == [(0.0, 2.6), (3.0, 5.0)]
    # a pause of merge_gap or more keeps it apart; two long regions are never merged
    assert merge_short([(0.0, 2.0), (2.5, 2.9)], 1.0, 0.5) == [(0.0, 2.0), (2.5, 2.9)]
    assert merge_short([(0.0, 2.0), (2.1, 4.0)], 1.0, 0.5) == [(0.0, 2.0), (2.1, 4.0)]
    # short bursts close together join each other, until the result is long enough or alone
    assert merge_short([(0.0, 0.4), (0.6, 1.0), (1.2, 1.5), (5.0, 5.3)], 1.0, 0.5) == [(0.0, 1.5), (5.0, 5.3)]
    # either limit at 0 turns merging off
    regions = [(0.0, 2.0), (2.1, 2.4)]
    assert merge_short(regions, 0.0, 0.5) == regions and merge_short(regions, 1.0, 0.0) == regions


def test_summary_weights():
    weights, short_only = summary_weights(np.array([2.0, 0.4, 1.0]), 1.0)
    np.testing.assert_array_equal(weights, [2.0, 0.0, 1.0])
    assert short_only is False
    weights, short_only = summary_weights(np.array([0.5, 0.4]), 1.0)
    np.testing.assert_array_equal(weights, [0.5, 0.4])
    assert short_only is True
    # min_trusted 0: everything counts by duration, as before the rule
    np.testing.assert_array_equal(summary_weights(np.array([0.5, 3.0]), 0.0)[0], [0.5, 3.0])


def test_the_rule_can_be_turned_off(predictor, recording):
    signal, spans = recording
    off = SegmentationConfig(min_trusted=0.0)
    p = predictor.with_config(segmentation=off).predict_signal(signal, RATE)
    assert len(p.segments) == len(spans) and not any(s.too_short for s in p.segments)
    np.testing.assert_allclose(list(p.probabilities.values()), _mean(p.segments, lambda s: True), atol=1e-12)


def test_bad_settings_are_refused():
    for bad in ({"min_trusted": -1.0}, {"merge_gap": -0.1}):
        with pytest.raises(SerkitError, match="positive"):
            SegmentationConfig(**bad)


def test_bad_input_is_refused_as_before(predictor, tmp_path):
    silent = tmp_path / "silent.wav"
    sf.write(silent, _silence(12.0), RATE)
    hiss = tmp_path / "hiss.wav"
    sf.write(hiss, 0.003 * np.random.default_rng(0).standard_normal(12 * RATE).astype(np.float32), RATE)
    with pytest.raises(AudioError, match="silent: no speech found"):
        predictor.predict_file(silent)
    with pytest.raises(AudioError, match="no speech found in 12.0 s by voice activity detection"):
        predictor.predict_file(hiss)
    with pytest.raises(AudioError, match="too short"):
        predictor.predict_signal(_silence(0.1) + 0.1, RATE)
    # a whole (unsegmented) file carries neither flag
    whole = predictor.with_config(segment="none").predict_file(hiss)
    assert whole.segments is None and "short_speech_only" not in whole.to_dict()


def test_the_command_line_shows_the_flag(recording_file):
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    rows = list(csv.DictReader(io.StringIO(runner.invoke(app, ["predict", str(recording_file), "--format",
                                                                 "csv"]).stdout)))
    assert [r["too_short"] for r in rows] == ["false", "false", "false", "true", "false"]  # the file, 4 segments
    (element,) = json.loads(runner.invoke(app, ["predict", str(recording_file), "--format", "json"]).stdout)
    assert [s["too_short"] for s in element["segments"]] == [False, False, True, False]
    table = runner.invoke(app, ["predict", str(recording_file)], terminal_width=200).stdout
    assert table.count("(too short)") == 1


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """``serkit serve`` with the shipped default model."""
    pytest.importorskip("fastapi")
    from test_serving_api import running_server

    with running_server("default", tmp_path_factory.mktemp("serve") / "server.log") as base:
        yield base


def test_the_service_answers_with_the_flag(predictor, service, recording_file):
    from test_serving_api import upload

    status, answer = upload(service, recording_file)
    assert status == 200, answer
    expected = predictor.predict_file(recording_file).to_dict()
    assert answer["short_speech_only"] is False
    assert [s["too_short"] for s in answer["segments"]] == [s["too_short"] for s in expected["segments"]]
    assert [s["too_short"] for s in answer["segments"]] == [False, False, True, False]


def test_the_page_fades_a_segment_too_short_to_trust(service, recording_file):
    from test_serving_page import CHROMIUM, DevTools, open_page_and_upload

    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install -y chromium)")
    browser = DevTools()
    try:
        assert open_page_and_upload(browser, service, recording_file) == "done"
        drawn = browser.evaluate("[...document.querySelectorAll('#timeline g.segment')]"
                                 ".map(g => g.classList.contains('too-short'))")
        opacity = browser.evaluate("getComputedStyle(document.querySelector('#timeline g.too-short')).opacity")
    finally:
        browser.close()
    assert drawn == [False, False, True, False] and float(opacity) < 1
