"""Data checks over corpus tables, as the leakage guard checks a split: what is wrong in the data itself.

:func:`check_corpora` reads every file of one or several corpus tables once
and reports

* **duplicates**: files with the same decoded samples, within or across
  corpora (the guard's file hash misses a copy whose header differs), and
  **same takes**: two files of one speaker and sentence that are one
  recording shifted, or trimmed of silence (normalised cross-correlation at least
  :data:`SAME_TAKE`).  Takes are compared within a speaker's recordings of a
  sentence only (the ``text`` column), where a corpus re-uses a take as its
  repetition; comparing every pair of a corpus would cost its square;
* **empty and clipped files**: files the reader had to leave out
  (``table.attrs["skipped"]``), files whose peak is below :data:`QUIET_DBFS`,
  and three signs of clipping: runs of :data:`CLIP_RUN` or more samples at the
  file's peak (hard clipping, at any level), samples an integer overflow
  flipped (a sample of the opposite sign to both neighbours, all three beyond
  :data:`WRAP_LEVEL` of full scale) and a share of samples within 1% of full
  scale of at least :data:`SATURATED_SHARE`;
* **DC offsets**: files whose constant offset is at least :data:`OFFSET_DBFS` off zero
  (:func:`serkit.audio.io.dc_offset`).  Prediction takes the offset off (:func:`serkit.audio.io.remove_dc`),
  training reads files as they are: a corpus with such files trains on offsets
  that prediction never shows its model;
* **label counts per speaker**, and the labels of its corpus a speaker has none of;
* **labels a file's length gives away**: the unweighted accuracy of guessing
  each file's label as the most common label among the *other* files of its
  corpus with the same duration (to the millisecond; the corpus's most common
  label when there are none), beside chance.  A corpus recorded in fixed
  windows per emotion lets any model that sees the length learn the label.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import fft

from serkit.audio.io import dc_offset, info, load_audio, resample
from serkit.progress import Progress

#: A peak below this many dB of full scale: a file that is silent or nearly so.
QUIET_DBFS = -40.0
#: This many consecutive samples at the file's peak are clipping, not chance.
CLIP_RUN = 3
#: Level (of full scale) beyond which a sign flipped between two same-signed neighbours is an overflow.
WRAP_LEVEL = 0.75
#: Share of samples within 1% of full scale that marks a file saturated (a peak-normalised
#: recording touches full scale at a handful of samples, not one in a thousand).
SATURATED_SHARE = 1e-3
#: An offset this far off zero (dB of full scale: 0.32%, about 100 steps of 16 bits) is a DC offset.
OFFSET_DBFS = -50.0
#: Normalised cross-correlation from which two files are one take.
SAME_TAKE = 0.9
#: Takes are compared resampled to this rate: enough to tell one take from another, and cheaper.
_COMPARE_RATE = 8000


@dataclass(frozen=True)
class FileFacts:
    """What one file's samples show."""

    path: str
    #: SHA-256 of the decoded samples (float32)
    samples_hash: str
    #: largest absolute sample, full scale 1
    peak: float
    #: runs of at least CLIP_RUN samples at the peak
    clipped_runs: int
    #: samples an integer overflow flipped
    wrapped: int
    #: share of samples within 1% of full scale
    saturated: float
    #: its constant offset (:func:`~serkit.audio.io.dc_offset`)
    offset: float

    @property
    def quiet(self) -> bool:
        return self.peak <= 10 ** (QUIET_DBFS / 20)

    @property
    def clipped(self) -> bool:
        return bool(self.clipped_runs or self.wrapped or self.saturated >= SATURATED_SHARE)

    @property
    def biased(self) -> bool:
        return abs(self.offset) >= 10 ** (OFFSET_DBFS / 20)


@dataclass(frozen=True)
class Duplicate:
    """Files holding the same audio: ``kind`` is ``samples`` (identical samples) or ``take``."""

    paths: tuple[str, ...]
    kind: str
    #: 1 for identical samples; the normalised cross-correlation of a take
    similarity: float


@dataclass(frozen=True)
class DurationLeak:
    """How well a corpus's file lengths alone give its labels away (unweighted accuracy)."""

    accuracy: float
    chance: float
    #: distinct durations among its files
    durations: int


@dataclass(frozen=True)
class DataReport:
    files: int
    skipped: tuple[dict, ...]
    facts: tuple[FileFacts, ...]
    duplicates: tuple[Duplicate, ...]
    #: rows (corpus, speaker), a column per label: utterances
    label_counts: pd.DataFrame
    #: ``corpus/speaker`` -> the labels of its corpus it has no utterance of
    missing_labels: dict[str, tuple[str, ...]]
    #: corpus -> its leak, for corpora with labels
    duration_leaks: dict[str, DurationLeak]

    @property
    def quiet(self) -> tuple[FileFacts, ...]:
        return tuple(f for f in self.facts if f.quiet)

    @property
    def clipped(self) -> tuple[FileFacts, ...]:
        return tuple(f for f in self.facts if f.clipped)

    @property
    def biased(self) -> tuple[FileFacts, ...]:
        return tuple(f for f in self.facts if f.biased)


def check_corpora(table: pd.DataFrame, progress: Progress | None = None) -> DataReport:
    """Check the files of ``table`` (one corpus table, or several concatenated)."""
    facts: list[FileFacts] = []
    takes: list[Duplicate] = []
    groups = list(_take_groups(table))
    if progress:
        progress(0, len(table))
    for paths in groups:
        signals = {path: load_audio(path, sample_rate=None) for path in paths}
        facts.extend(signal_facts(path, signal, info(path).sample_rate) for path, signal in signals.items())
        if len(paths) > 1:
            rate = info(paths[0]).sample_rate
            takes.extend(same_takes({p: resample(s, rate, _COMPARE_RATE) for p, s in signals.items()}))
        if progress:
            progress(len(facts), len(table))
    facts.sort(key=lambda f: f.path)
    counts = label_counts(table)
    return DataReport(
        files=len(table),
        skipped=tuple(table.attrs.get("skipped", [])),
        facts=tuple(facts),
        duplicates=tuple(sorted([*identical_samples(facts), *_new_takes(takes, facts)],
                                key=lambda d: (d.kind, d.paths))),
        label_counts=counts,
        missing_labels=missing_labels(counts),
        duration_leaks={
            str(c): duration_leak(g) for c, g in table.groupby("corpus", sort=True) if g["label"].notna().any()
        },
    )


def signal_facts(path: str, signal: np.ndarray, sample_rate: int) -> FileFacts:
    """The :class:`FileFacts` of ``signal`` (float samples, full scale 1)."""
    magnitude = np.abs(signal)
    peak = float(magnitude.max()) if signal.size else 0.0
    at_peak = np.concatenate(([0], (magnitude == peak) & (peak > 0), [0])).astype(np.int8)
    edges = np.diff(at_peak)
    runs = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)
    middle, before, after = signal[1:-1], signal[:-2], signal[2:]
    wrapped = (
        (np.minimum(np.abs(middle), np.minimum(np.abs(before), np.abs(after))) >= WRAP_LEVEL)
        & (np.sign(middle) != np.sign(before)) & (np.sign(middle) != np.sign(after))
    )
    return FileFacts(
        path=str(path),
        samples_hash=hashlib.sha256(np.ascontiguousarray(signal, np.float32).tobytes()).hexdigest(),
        peak=peak,
        clipped_runs=int((runs >= CLIP_RUN).sum()),
        wrapped=int(wrapped.sum()),
        saturated=float((magnitude >= 0.99).mean()) if signal.size else 0.0,
        offset=dc_offset(signal, sample_rate) if signal.size else 0.0,
    )


def identical_samples(facts: list[FileFacts]) -> list[Duplicate]:
    """Groups of files whose decoded samples are identical."""
    by_hash: dict[str, list[str]] = {}
    for f in facts:
        by_hash.setdefault(f.samples_hash, []).append(f.path)
    return [Duplicate(tuple(sorted(p)), "samples", 1.0) for p in by_hash.values() if len(p) > 1]


def same_takes(signals: dict[str, np.ndarray], threshold: float = SAME_TAKE) -> list[Duplicate]:
    """Pairs of ``signals`` (one sample rate) whose normalised cross-correlation reaches ``threshold``."""
    centred = {p: s - s.mean() for p, s in signals.items() if s.size and np.any(s != s.mean())}
    size = fft.next_fast_len(2 * max((s.size for s in centred.values()), default=1))
    spectra = {p: fft.rfft(s / np.linalg.norm(s), size) for p, s in centred.items()}
    found = []
    for a, b in itertools.combinations(sorted(spectra), 2):
        similarity = float(np.abs(fft.irfft(spectra[a] * np.conj(spectra[b]), size)).max())
        if similarity >= threshold:
            found.append(Duplicate((a, b), "take", similarity))
    return found


def label_counts(table: pd.DataFrame) -> pd.DataFrame:
    """Utterances per (corpus, speaker) and label; labelled rows only."""
    labelled = table[table["label"].notna()]
    return pd.crosstab([labelled["corpus"], labelled["speaker"]], labelled["label"])


def missing_labels(counts: pd.DataFrame) -> dict[str, tuple[str, ...]]:
    """``corpus/speaker`` -> the labels its corpus has and it has not."""
    missing = {}
    for corpus, rows in counts.groupby(level="corpus"):
        present = rows.columns[rows.sum() > 0]
        for (_, speaker), row in rows[present].iterrows():
            if (row == 0).any():
                missing[f"{corpus}/{speaker}"] = tuple(row.index[row == 0])
    return missing


def duration_leak(table: pd.DataFrame) -> DurationLeak:
    """Unweighted accuracy of each labelled file's label guessed from the other files of its length."""
    rows = table[table["label"].notna()]
    labels = rows["label"].to_numpy()
    fallback = Counter(labels).most_common(1)[0][0]
    by_length: dict[float, Counter] = {}
    lengths = rows["duration"].round(3).to_numpy()
    for length, label in zip(lengths, labels):
        by_length.setdefault(length, Counter())[label] += 1
    guesses = [_others_majority(by_length[length], label, fallback) for length, label in zip(lengths, labels)]
    recalls = [np.mean(np.asarray(guesses)[labels == c] == c) for c in sorted(set(labels))]
    return DurationLeak(float(np.mean(recalls)), 1 / len(recalls), len(by_length))


def _others_majority(counts: Counter, own: str, fallback: str) -> str:
    others = counts - Counter({own: 1})
    if not others:
        return fallback
    top = max(others.values())
    return min(label for label, n in others.items() if n == top)  # ties: the first by name


def _take_groups(table: pd.DataFrame):
    """Paths of one corpus, speaker and sentence (each file alone where ``text`` is None)."""
    keyed = table.assign(_text=table["text"].fillna(table["path"]))
    for _, group in keyed.groupby(["corpus", "speaker", "_text"], sort=True):
        yield list(group["path"])


def _new_takes(takes: list[Duplicate], facts: list[FileFacts]) -> list[Duplicate]:
    # A pair with identical samples is already reported as such.
    hashes = {f.path: f.samples_hash for f in facts}
    return [t for t in takes if hashes[t.paths[0]] != hashes[t.paths[1]]]
