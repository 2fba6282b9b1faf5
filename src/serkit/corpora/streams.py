"""A continuous test bed from real speech: semi-synthetic recordings in RECOLA's AVEC 2016 layout.

No continuously annotated corpus can be had here (RECOLA, SEWA, SEMAINE and
MSP-Conversation are licensed), so this builds one from a categorical corpus
and says so.  Each recording strings together ONE speaker's utterances, in a
shuffled order in which the emotion changes from one utterance to the next
where the counts allow it, with pauses between them; its arousal and valence
traces are the utterances' places on the plane (``labels.yaml``) as an
annotator would trace them: late, smooth, and drifting back to the neutral
place while nobody speaks.  The targets are made, the audio is real:
*semi-synthetic*, as the manifest says.  docs/streams.md gives every setting
and why.

The steps are pure functions; :func:`make_streams` runs them per speaker, with
a generator seeded from the seed and the speaker's id (same seed, same bytes):

1. :func:`split_speakers`: speakers to ``train``/``dev``/``test``, genders in
   turn, so that the recording names (``train_1``) keep speakers apart;
2. :func:`~serkit.corpora.stream_audio.speech_span`: each utterance trimmed
   to its speech (webrtcvad) plus a margin, so that the pauses are the drawn
   ones;
3. :func:`emotion_order`, :func:`pause_lengths`, :func:`cut_recordings`
   (together :func:`plan_speaker`): the order, the pauses (log-normal) and the
   cuts into recordings whose lengths fall within the asked minutes;
4. :func:`~serkit.corpora.annotator.annotator_trace`: one 40 ms trace per
   dimension;
5. :func:`~serkit.corpora.stream_audio.render`: the audio, on noise at the
   speaker's own floor.

The output is read by :mod:`serkit.corpora.recola` unchanged, its speaker map
(``speakers.csv``: recording -> ``<corpus>_<speaker>``) included; the manifest
``streams.json`` says where every source utterance went, with its label and
place, the seed and the settings.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd

from serkit import __version__
from serkit.audio.io import load_audio
from serkit.audio.vad import speech_flags
from serkit.corpora import recola
from serkit.corpora.annotator import Annotator, annotator_trace
from serkit.corpora.dimensions import dimensional_targets, emotion_place
from serkit.corpora.stream_audio import RATE, VAD_MS, noise_floor, render, speech_span, wav_bytes
from serkit.errors import ConfigError, CorpusError, SerkitError
from serkit.outputs import atomic_write_bytes, atomic_write_text, owned_folder
from serkit.progress import Progress

log = logging.getLogger(__name__)

#: Samples per 40 ms gold-standard frame; a recording is a whole number of them.
FRAME_SAMPLES = round(recola.FRAME * RATE)
PARTITIONS = ("train", "dev", "test")
#: The manifest at the layout's root, and what it calls the test bed.
MANIFEST = "streams.json"
KIND = "semi-synthetic"
DESCRIPTION = ("Semi-synthetic continuous test bed: real utterances of one speaker per recording (the source "
               "corpus's), strung together with drawn pauses; arousal/valence traces made from each "
               "utterance's label place by a model of an annotator (reaction lag, exponential smoothing, "
               "drift to neutral in pauses), not rated by people.")


@dataclass(frozen=True)
class StreamSettings:
    """How the recordings and their traces are made (docs/streams.md says why each value)."""

    #: Shortest and longest recording, in minutes.
    minutes: tuple[float, float] = (1.0, 5.0)
    #: Pause between utterances: log-normal, median ``pause_median`` s, ``pause_spread`` the
    #: standard deviation of its natural log, clipped to ``pause_limits`` s.
    pause_median: float = 1.0
    pause_spread: float = 0.5
    pause_limits: tuple[float, float] = (0.3, 4.0)
    #: How the traces are drawn from the places (lag, smoothing, drift to neutral in pauses).
    annotator: Annotator = Annotator()
    #: Seconds of the source file kept around its detected speech.
    trim_margin: float = 0.1
    #: webrtcvad aggressiveness for trimming and the noise floor (0 to 3).
    vad_aggressiveness: int = 3
    #: Shares of the speakers held out for development and test.
    dev_share: float = 0.2
    test_share: float = 0.2

    def __post_init__(self) -> None:
        lo, hi = self.minutes
        if not 0 < lo < hi:
            raise ConfigError(f"streams minutes {lo:g}..{hi:g}: give 0 < shortest < longest")
        p_lo, p_hi = self.pause_limits
        if not (0 < p_lo <= self.pause_median <= p_hi and self.pause_spread >= 0):
            raise ConfigError(f"streams pauses: need 0 < {p_lo:g} <= median {self.pause_median:g} <= {p_hi:g} "
                              f"and spread {self.pause_spread:g} >= 0")
        if self.trim_margin < 0 or self.vad_aggressiveness not in range(4):
            raise ConfigError(f"streams: trim_margin {self.trim_margin:g} must be >= 0 and "
                              f"vad_aggressiveness {self.vad_aggressiveness} one of 0 to 3")
        if not (0 < self.dev_share and 0 < self.test_share and self.dev_share + self.test_share < 1):
            raise ConfigError(f"streams: dev_share {self.dev_share:g} and test_share {self.test_share:g} "
                              "must be positive and leave speakers to train on")


@dataclass(frozen=True)
class Placed:
    """One source utterance in a recording, in samples: ``source`` is the span kept of its file
    (table row ``row``), ``start`` where that span begins in the recording."""

    row: int
    source: tuple[int, int]
    start: int

    @property
    def end(self) -> int:
        return self.start + self.source[1] - self.source[0]


def split_speakers(genders: Mapping[str, str | None], settings: StreamSettings, seed: int) -> dict[str, str]:
    """speaker -> partition: shuffled, genders taken in turn, the first ``test_share`` to test,
    the next ``dev_share`` to dev, the rest to train (at least one speaker each)."""
    n = len(genders)
    n_test = max(1, round(settings.test_share * n))
    n_dev = max(1, round(settings.dev_share * n))
    if n - n_test - n_dev < 1:
        raise CorpusError(f"{n} speakers with a recording: too few for a train/dev/test split by speaker "
                          "(at least 3)")
    rng = np.random.default_rng(seed)
    by_gender: dict[str, list[str]] = {}
    for speaker in sorted(genders):
        by_gender.setdefault(genders[speaker] or "", []).append(speaker)
    groups = [[str(s) for s in rng.permutation(by_gender[gender])] for gender in sorted(by_gender)]
    order = [group[i] for i in range(max(map(len, groups))) for group in groups if i < len(group)]
    return {speaker: "test" if i < n_test else "dev" if i < n_test + n_dev else "train"
            for i, speaker in enumerate(order)}


def corpus_partitions(table: pd.DataFrame, speakers: Sequence[str], settings: StreamSettings,
                      seed: int) -> dict[str, str]:
    """speaker -> partition, each corpus of the table split on its own (so that every corpus has
    speakers in every part), as :func:`split_speakers` splits one."""
    genders = table.groupby("speaker")["gender"].first().to_dict()
    corpus_of = table.groupby("speaker")["corpus"].first().to_dict()
    partitions: dict[str, str] = {}
    for corpus in sorted({corpus_of[s] for s in speakers}):
        partitions |= split_speakers({s: genders.get(s) for s in speakers if corpus_of[s] == corpus}, settings, seed)
    return partitions


def stream_speaker(corpus: str, speaker: str) -> str:
    """The speaker map's name of a source speaker: ``<corpus>_<speaker>`` (a table of several
    corpora already prefixes its speakers with ``<corpus>:``)."""
    return f"{corpus}_{speaker.removeprefix(corpus + ':')}"


def emotion_order(labels: Sequence[str], rng: np.random.Generator) -> list[int]:
    """Indices of ``labels`` in a shuffled order with as few equal neighbours as the counts allow.

    Each step takes a label other than the last one, at random in proportion to what is
    left of each, except that a label holding half of what is left must come now (or it
    would have to repeat later); within a label the utterances come in a shuffled order.
    """
    left = {label: list(rng.permutation([i for i, x in enumerate(labels) if x == label]))
            for label in sorted(set(labels))}
    order: list[int] = []
    previous = None
    while len(order) < len(labels):
        counts = {label: len(rows) for label, rows in left.items() if rows}
        candidates = [label for label in counts if label != previous] or [previous]
        top = max(candidates, key=lambda label: counts[label])
        if 2 * counts[top] >= sum(counts.values()):
            previous = top
        else:
            weights = np.array([counts[label] for label in candidates], dtype=float)
            previous = candidates[rng.choice(len(candidates), p=weights / weights.sum())]
        order.append(left[previous].pop())
    return order


def pause_lengths(n: int, settings: StreamSettings, rng: np.random.Generator) -> np.ndarray:
    """``n`` pauses in samples: log-normal around ``pause_median``, clipped to ``pause_limits``."""
    seconds = settings.pause_median * np.exp(settings.pause_spread * rng.standard_normal(n))
    return np.round(np.clip(seconds, *settings.pause_limits) * RATE).astype(np.int64)


def cut_recordings(blocks: np.ndarray, tails: np.ndarray, settings: StreamSettings,
                   rng: np.random.Generator) -> list[tuple[range, int]]:
    """Consecutive runs of ``blocks`` (samples: a pause and the utterance after it), each with
    the tail pause (from ``tails``) that closes it, making recordings within ``settings.minutes``.

    The number of recordings is drawn among those the total allows with a block and a tail to
    spare, and the blocks cut where they split it most evenly; a run still too long loses
    blocks from its end, one too short is dropped (the caller reports what was left out).
    """
    lo = settings.minutes[0] * 60 * RATE
    hi = settings.minutes[1] * 60 * RATE // FRAME_SAMPLES * FRAME_SAMPLES  # lengths round up to whole frames
    total = float(blocks.sum())
    if total + tails.max() < lo:
        return []
    slack = float(blocks.max() + tails.max())
    k_lo = max(1, math.ceil(total / (hi - slack if hi - slack > lo else hi)))
    k = int(rng.integers(k_lo, max(k_lo, math.floor(total / (lo + slack))) + 1))
    ends = np.cumsum(blocks)
    cuts = [0, *(int(np.argmin(np.abs(ends - total * j / k))) + 1 for j in range(1, k)), len(blocks)]
    runs = []
    for (a, b), tail in zip(pairwise(cuts), tails, strict=False):
        while b > a and blocks[a:b].sum() + tail > hi:
            b -= 1
        if b > a and blocks[a:b].sum() + tail >= lo:
            runs.append((range(a, b), int(tail)))
    return runs


def speaker_rng(seed: int, speaker: str) -> np.random.Generator:
    """A speaker's own generator: its recordings do not change when other speakers do."""
    return np.random.default_rng([seed, zlib.crc32(speaker.encode())])


def targets(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with each row's arousal/valence place (the labels' table) and its source;
    rows whose label has no place are left out and counted in ``attrs["dimension_dropped"]``."""
    if table.empty or table["label"].isna().all():
        raise CorpusError("streams need a categorical corpus: the table has no labelled rows")
    places = dimensional_targets(table, prefer="labels", missing="drop")
    kept = table.loc[places.index].reset_index(drop=True)
    for column in ("arousal", "valence", "dimension_source"):
        kept[column] = places[column].to_numpy()
    kept.attrs = {**table.attrs, "dimension_dropped": places.attrs["dimension_dropped"]}
    return kept


def neutral_place() -> dict[str, float]:
    """Where the traces rest while nobody speaks: the neutral place of ``labels.yaml``."""
    place = emotion_place("neutral")
    return {"arousal": place.arousal, "valence": place.valence}


def plan_speaker(rows: pd.DataFrame, spans: Mapping[int, tuple[int, int]], settings: StreamSettings,
                 rng: np.random.Generator) -> tuple[list[tuple[list[Placed], int]], list[int]]:
    """One speaker's recordings, each ``(placed utterances, length in samples)``, and the rows
    left out (a speaker too short for one recording, or the end of a run that was too long).

    ``rows`` is the speaker's part of the table (index: table rows), ``spans`` each row's
    kept samples of its file.
    """
    index = list(rows.index)
    order = [index[i] for i in emotion_order(list(rows["label"]), rng)]
    pauses = pause_lengths(len(order), settings, rng)
    tails = pause_lengths(len(order), settings, rng)
    blocks = np.array([pauses[i] + spans[row][1] - spans[row][0] for i, row in enumerate(order)])
    recordings, used = [], set()
    for run, tail in cut_recordings(blocks, tails, settings, rng):
        placed, at = [], 0
        for i in run:
            row = order[i]
            at += int(pauses[i])
            a, b = spans[row]
            placed.append(Placed(row, (a, b), at))
            at += b - a
            used.add(row)
        length = -(-(at + tail) // FRAME_SAMPLES) * FRAME_SAMPLES
        recordings.append((placed, length))
    return recordings, [row for row in order if row not in used]


def make_streams(table: pd.DataFrame, out: str | Path, *, seed: int = 0,
                 settings: StreamSettings = StreamSettings(), progress: Progress | None = None) -> dict:
    """Write the test bed of ``table`` (a categorical corpus table) into the empty folder ``out``:
    ``recordings_audio/``, ``ratings_gold_standard/``, ``speakers.csv`` and the manifest
    ``streams.json``, which it returns.  ``progress(done, total)`` counts speakers.

    Speakers are split once their recordings are made, so that a speaker with too little
    speech for one takes no place in a held-out part; until then a recording's audio waits
    under a hidden name (the reader skips hidden files) and its traces in memory.
    """
    table = targets(table)
    neutral = neutral_place()
    with owned_folder(out) as root:
        audio = root / "recordings_audio"
        if audio.exists() or (root / MANIFEST).exists():
            raise SerkitError(f"{root} already holds a test bed: give an empty --out")
        for folder in (audio, *(root / "ratings_gold_standard" / d for d in recola.DIMENSIONS)):
            folder.mkdir(parents=True)
        made, unused = {}, []
        speakers = sorted(set(table["speaker"]))
        for done, speaker in enumerate(speakers, 1):
            made[speaker], left_out = _speaker_streams(table, speaker, audio, seed, settings, neutral)
            reason = (f"the speaker has less than {settings.minutes[0]:g} minutes to make a recording"
                      if not made[speaker] else "left over when the speaker's recordings were cut")
            unused += [_source(table, row) | {"reason": reason} for row in left_out]
            if progress:
                progress(done, len(speakers))
        if not any(made.values()):
            raise CorpusError(f"no speaker has {settings.minutes[0]:g} minutes of speech for one recording")
        partitions = corpus_partitions(table, [s for s in speakers if made[s]], settings, seed)
        recordings = []
        for speaker in speakers:
            for staged, entry, traces in made[speaker]:
                part = partitions[speaker]
                name = f"{part}_{sum(r['partition'] == part for r in recordings) + 1}"
                staged.rename(audio / f"{name}.wav")
                for dim, trace in traces.items():
                    recola.write_trace(root / "ratings_gold_standard" / dim / f"{name}.arff", trace)
                recordings.append({"recording": name, "partition": part, **entry})
        recola.write_speaker_map(root / recola.SPEAKER_MAP, recordings)
        manifest = _manifest(table, recordings, unused, partitions, seed, settings, neutral)
        atomic_write_text(root / MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    return manifest


def _speaker_streams(table: pd.DataFrame, speaker: str, audio: Path, seed: int, settings: StreamSettings,
                     neutral: Mapping[str, float]) -> tuple[list[tuple[Path, dict, dict]], list[int]]:
    """One speaker's recordings, their audio written under hidden names in ``audio``: for each,
    that file, its manifest entry and its traces; and the table rows left out."""
    rows = table[table["speaker"] == speaker]
    signals = {row: load_audio(path) for row, path in rows["path"].items()}
    flags = {row: speech_flags(signal, RATE, settings.vad_aggressiveness, VAD_MS) for row, signal in signals.items()}
    spans = {row: speech_span(flags[row], len(signals[row]), settings.trim_margin) for row in signals}
    floor = noise_floor(list(signals.values()), list(flags.values()))
    rng = speaker_rng(seed, speaker)
    plans, left_out = plan_speaker(rows, spans, settings, rng)
    made = []
    for number, (placed, length) in enumerate(plans, 1):
        staged = audio / f".{speaker}-{number}.wav"
        pieces = [(signals[p.row][p.source[0]: p.source[1]], p.start) for p in placed]
        atomic_write_bytes(staged, wav_bytes(render(pieces, length, floor, rng)))
        traces = {dim: annotator_trace([(p.start / RATE, p.end / RATE, table.at[p.row, dim]) for p in placed],
                                       length // FRAME_SAMPLES, neutral[dim], settings.annotator)
                  for dim in recola.DIMENSIONS}
        entry = {
            "speaker": stream_speaker(table.at[rows.index[0], "corpus"], speaker), "source_speaker": speaker,
            "gender": rows["gender"].iloc[0], "elicitation": rows["elicitation"].iloc[0],
            "duration": length / RATE, "frames": length // FRAME_SAMPLES, "noise_floor": round(floor, 8),
            "utterances": [_source(table, p.row) | {"start": p.start / RATE, "end": p.end / RATE,
                                                     "source_start": p.source[0] / RATE,
                                                     "source_end": p.source[1] / RATE} for p in placed],
        }
        made.append((staged, entry, traces))
    log.info("%s: %d recordings, %d of %d utterances left out", speaker, len(plans), len(left_out), len(rows))
    return made, left_out


def _source(table: pd.DataFrame, row: int) -> dict:
    """What the manifest says of a source utterance: its id, file, label and place."""
    corpus = table.at[row, "corpus"]
    root = Path(table.attrs.get("root") or table.attrs.get("corpora", {}).get(corpus, {}).get("root") or "/")
    path = Path(table.at[row, "path"])
    return {"utterance": table.at[row, "utterance"],
            "path": str(path.relative_to(root)) if path.is_relative_to(root) else str(path),
            "label": table.at[row, "label"], "arousal": float(table.at[row, "arousal"]),
            "valence": float(table.at[row, "valence"]), "place_source": table.at[row, "dimension_source"]}


def _manifest(table: pd.DataFrame, recordings: list[dict], unused: list[dict], partitions: Mapping[str, str],
              seed: int, settings: StreamSettings, neutral: Mapping[str, float]) -> dict:
    minutes = sum(r["duration"] for r in recordings) / 60
    return {
        "kind": KIND,
        "description": DESCRIPTION,
        "generator": f"serkit {__version__} streams",
        "corpus": ",".join(sorted(set(table["corpus"]))),
        "root": table.attrs.get("root") or {c: str(a.get("root")) for c, a in table.attrs.get("corpora", {}).items()},
        "classes": table.attrs.get("class_set", {}).get("name"),
        "seed": seed,
        "settings": dataclasses.asdict(settings),
        "sample_rate": RATE,
        "frame": recola.FRAME,
        "places": "labels.yaml dimensions (NRC VAD Lexicon v1, word entries rescaled to [-1, 1])",
        "neutral": dict(neutral),
        "split": {part: sorted(s for s, p in partitions.items() if p == part) for part in PARTITIONS},
        "totals": {"recordings": len(recordings), "minutes": round(minutes, 3),
                   "utterances": sum(len(r["utterances"]) for r in recordings), "unused": len(unused),
                   "dropped_without_place": table.attrs.get("dimension_dropped", {})},
        "recordings": recordings,
        "unused": unused,
    }
