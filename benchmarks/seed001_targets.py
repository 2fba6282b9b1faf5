"""Seed 001's frame targets on the whole of EMO-DB, written to docs/seed001-targets.md.

Over all 535 utterances, on ``logmel-seed001``'s frame grid (10 ms hop, a
frame's centre at ``i * hop``): the ``compact-de`` phone set with the lablaut
symbols folded into each class and their frame counts; the share of frames
webrtcvad calls non-speech (the emotion task's ``silence`` class) at each
aggressiveness, overall and per emotion; and how the detector's non-speech
agrees with lablaut's pauses (frame-level precision, recall, agreement and
Cohen's kappa, pauses the positive class), the figure the default
aggressiveness was chosen on.  Nothing here looks at an emotion result.

    .venv/bin/python benchmarks/seed001_targets.py [--root ../shared/data/emodb] [--stdout]
"""

from __future__ import annotations

import argparse
import collections
import os
from pathlib import Path

import numpy as np
import pandas as pd

from serkit.audio import load_audio
from serkit.audio.vad import VAD_RATE, speech_flags
from serkit.corpora import read_corpus
from serkit.corpora.alignment import read_alignment
from serkit.corpora.phone_sets import PAUSE, phone_set
from serkit.experiments.frame_targets import DEFAULT_AGGRESSIVENESS, VAD_FRAME_MS, phone_frames, speech_on_grid
from serkit.features.presets import get_preset

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "seed001-targets.md"
COMMAND = ".venv/bin/python benchmarks/seed001_targets.py"
PHONE_SET = "compact-de"
FEATURES = "logmel-seed001"
LEVELS = (0, 1, 2, 3)
#: Raw lablaut symbols of a stop's closure and of its release, for the level check.
CLOSURES = ("p", "t", "k", "b", "d", "g")
RELEASES = tuple(f"!{stop}" for stop in CLOSURES)


def measure(table: pd.DataFrame) -> dict:
    """Every utterance's frames: raw symbols, classes, per-level VAD speech, frame level in dB."""
    grid = get_preset(FEATURES).feature.grid
    phones = phone_set(PHONE_SET)
    rows, segments, empty = [], collections.Counter(), []
    for row in table.itertuples():
        signal = load_audio(row.path, VAD_RATE)
        n = grid.n_frames(len(signal))
        alignment = read_alignment(row.alignment)
        if not len(alignment):
            empty.append(Path(row.alignment).name)
        segments.update((label, phones.phone(label, row.alignment)) for label in alignment.labels)
        speech = {level: speech_on_grid(speech_flags(signal, VAD_RATE, level, VAD_FRAME_MS), n, grid)
                  for level in LEVELS}
        rows.append(pd.DataFrame({
            "utterance": row.utterance, "label": row.label, "empty": not len(alignment),
            "raw": phone_frames(alignment, n, grid), "phone": phone_frames(alignment, n, grid, phones, row.alignment),
            "db": frame_levels(signal, n, grid.hop), **{f"speech{level}": s for level, s in speech.items()}}))
    return {"frames": pd.concat(rows, ignore_index=True), "segments": segments, "empty": empty,
            "classes": phones.classes}


def frame_levels(signal: np.ndarray, n_frames: int, hop: int) -> np.ndarray:
    """Each frame's energy over the ``hop`` samples from its centre, in dB below the utterance's
    95th-percentile frame (so loud and quiet speakers compare)."""
    padded = np.zeros(n_frames * hop, dtype=np.float64)
    padded[: len(signal)] = signal[: len(padded)]
    db = 10 * np.log10(np.mean(padded.reshape(n_frames, hop) ** 2, axis=1) + 1e-10)
    return db - np.percentile(db, 95)


def agreement(nonspeech: np.ndarray, pause: np.ndarray) -> dict[str, float]:
    """Frame-level agreement of the detector's non-speech with the pauses (pauses positive)."""
    tp, fp = np.sum(nonspeech & pause), np.sum(nonspeech & ~pause)
    fn, tn = np.sum(~nonspeech & pause), np.sum(~nonspeech & ~pause)
    total = tp + fp + fn + tn
    observed = (tp + tn) / total
    chance = ((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)) / total**2
    return {"silence": (tp + fp) / total, "precision": tp / max(tp + fp, 1), "recall": tp / max(tp + fn, 1),
            "agreement": observed, "kappa": (observed - chance) / (1 - chance)}


def phone_table(frames: pd.DataFrame, segments: collections.Counter, classes: tuple[str, ...]) -> list[str]:
    per_class = frames["phone"].value_counts()
    pairs = frames.groupby(["phone", "raw"]).size()
    lines = ["| class | frames | share | lablaut symbols: segments (frames) |",
             "| --- | ---: | ---: | --- |"]
    for name in classes:
        symbols = sorted(((label, count) for (label, phone), count in segments.items() if phone == name),
                         key=lambda item: -item[1])
        # without a phone set, a pause is read as <p> (so are frames outside the segments)
        cells = ", ".join(f"`{label}` {count} ({pairs.get((name, PAUSE if label == '.' else label), 0)})"
                          for label, count in symbols)
        lines.append(f"| `{name}` | {per_class.get(name, 0)} | {per_class.get(name, 0) / len(frames):.2%} "
                     f"| {cells} |")
    continued = sorted(((label, count) for (label, phone), count in segments.items() if phone is None),
                       key=lambda item: -item[1])
    lines.append("| (no phone: continues the one before) | - | - | "
                 + ", ".join(f"`{label or '(empty)'}` {count}" for label, count in continued) + " |")
    return lines


def vad_lines(frames: pd.DataFrame) -> list[str]:
    scored = frames[~frames["empty"]]
    pause = scored["phone"].to_numpy() == PAUSE
    rows = {level: agreement(~scored[f"speech{level}"].to_numpy(), pause) for level in LEVELS}
    best = max(rows, key=lambda level: rows[level]["kappa"])
    lines = ["| aggressiveness | frames called silence | precision | recall | agreement | Cohen's kappa | |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for level, r in rows.items():
        notes = [note for note, yes in (("default", level == DEFAULT_AGGRESSIVENESS),
                                        ("highest kappa", level == best)) if yes]
        lines.append(f"| {level} | {r['silence']:.1%} | {r['precision']:.3f} | {r['recall']:.3f} | "
                     f"{r['agreement']:.3f} | {r['kappa']:.3f} | {', '.join(notes)} |")
    lines += ["", f"Lablaut pauses are {pause.mean():.1%} of these frames."]
    return lines


def silence_lines(frames: pd.DataFrame) -> list[str]:
    column = f"speech{DEFAULT_AGGRESSIVENESS}"
    share = (~frames[column]).groupby(frames["label"]).mean()
    utterances = frames.groupby("label")["utterance"].nunique()
    lines = ["| emotion | utterances | frames | silence |", "| --- | ---: | ---: | ---: |"]
    for label in share.index:
        lines.append(f"| {label} | {utterances[label]} | {(frames['label'] == label).sum()} | {share[label]:.1%} |")
    lines.append(f"| all | {frames['utterance'].nunique()} | {len(frames)} | {(~frames[column]).mean():.1%} |")
    return lines


def level_lines(frames: pd.DataFrame) -> list[str]:
    groups = {"pauses (`<p>`)": frames["phone"] == PAUSE,
              "vowels (17 classes)": frames["phone"].isin(phone_set(PHONE_SET).classes[:17]),
              f"stop closures ({', '.join(CLOSURES)})": frames["raw"].isin(CLOSURES),
              f"stop releases ({', '.join(RELEASES)})": frames["raw"].isin(RELEASES)}
    lines = ["| frames of | frames | median level (dB) | below -40 dB |", "| --- | ---: | ---: | ---: |"]
    for name, chosen in groups.items():
        db = frames.loc[chosen & ~frames["empty"], "db"]
        lines.append(f"| {name} | {len(db)} | {db.median():.1f} | {(db < -40).mean():.1%} |")
    return lines


def document(measured: dict, root: Path) -> str:
    frames, classes = measured["frames"], measured["classes"]
    grid = get_preset(FEATURES).feature.grid
    return "\n".join([
        "# Seed 001's frame targets: phones and silence on EMO-DB",
        "",
        "Generated by",
        "",
        "```bash",
        f"{COMMAND}",
        "```",
        "",
        f"over all {frames['utterance'].nunique()} EMO-DB utterances ({root.name}/), {len(frames)} frames of "
        f"`{FEATURES}`'s grid ({grid.hop / grid.sample_rate * 1000:.0f} ms hop; frame i's centre at i x hop).",
        "",
        "## Deviations from the paper",
        "",
        "- **Targets.** Fayek et al. trained the recogniser on TIMIT's force-aligned HMM states, 48 phones x 3 "
        "states = 144 classes, scored on 39 phones. Here the targets are phones, one class of `compact-de` per "
        "frame from EMO-DB's hand-labelled lablaut segments: no HMM states, and the set is German.",
        "- **One corpus.** The paper's recogniser learned on TIMIT and its emotion model on IEMOCAP. Here EMO-DB "
        "serves both tasks: the same utterances (the 4class subset in the recipes) carry a phone per frame and "
        "an emotion per utterance, split by the same folds.",
        "- **Silence.** The paper names no detector. Here webrtcvad decides 10 ms frames of the 16 kHz signal "
        "(`serkit.audio.vad`); a feature frame takes the decision of the 10 ms frame holding its centre.",
        "",
        f"## The phone set `{PHONE_SET}` ({len(classes)} classes)",
        "",
        "`src/serkit/corpora/phone_sets.yaml` lists the classes and the symbols each takes; "
        "`src/serkit/corpora/phone_sets.py` the rules applied first: a mark written into the phone field is "
        "cut off (`I+nas` -> `I`, `[+eng` -> nothing), two misspellings are read as meant (`dsap`, `gas`), "
        "SAMPA stress and length marks are dropped, a stop's release `!t`, its closure after a pause `_t` and "
        "its aspiration `tasp` are the stop, a doubled symbol (`nn`) is the single one, and what is left empty "
        "continues the phone before. Vowels with vocalised r (`i6`) are the vowel; the lenited and devoiced "
        "variants the labellers wrote (`B`, `D`, `G`, `V`, `L`, `H`, `X`, `4`, `R`) join their phone "
        "(`X`, `4` and `R` are all r); the diphthong spellings `aO`, `AO`, `AU`, `ao`, `OU` are `aU`; `.`, "
        "`(` and `(gef` are the pause. A symbol the set does not know is an error naming it and its file.",
        "",
        "Counts: segments of each symbol, and (in brackets) the frames in that symbol's segments (an empty "
        "segment's frames count under the symbol it continues, frames outside the segments under `.`).",
        "",
        *phone_table(frames, measured["segments"], classes),
        "",
        f"{len(measured['empty'])} lablaut files hold no segment at all ({', '.join(measured['empty'])}): "
        "every frame of theirs is the pause, as frames past any alignment are. They are left out of the "
        "figures below.",
        "",
        "## Silence: webrtcvad against lablaut's pauses",
        "",
        f"A frame is silence where webrtcvad (10 ms frames at {VAD_RATE} Hz) calls it non-speech. Agreement "
        f"with the frames `compact-de` calls `{PAUSE}`, pauses the positive class; the default "
        f"aggressiveness (`silence: webrtcvad` = `webrtcvad:{DEFAULT_AGGRESSIVENESS}`) is the one with the "
        "highest Cohen's kappa, since with pauses about a tenth of the frames raw agreement favours calling "
        "nothing silence.",
        "",
        *vad_lines(frames),
        "",
        f"Frames called silence at the default aggressiveness ({DEFAULT_AGGRESSIVENESS}), per emotion "
        "(all seven EMO-DB emotions):",
        "",
        *silence_lines(frames),
        "",
        "## Level of the frames by lablaut segment",
        "",
        "A check of the alignment as read (`serkit.corpora.alignment`): each frame's energy over its 10 ms, "
        "in dB below its utterance's 95th-percentile frame. Pauses and stop closures should be the quietest "
        "frames, vowels the loudest.",
        "",
        *level_lines(frames),
        "",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = Path(os.environ.get("SERKIT_DATA", REPO.parent / "shared" / "data")) / "emodb"
    parser.add_argument("--root", type=Path, default=default)
    parser.add_argument("--stdout", action="store_true", help="print the document instead of writing it")
    args = parser.parse_args()
    text = document(measure(read_corpus("emodb", args.root)), args.root)
    if args.stdout:
        print(text)
    else:
        DOC.write_text(text)


if __name__ == "__main__":
    main()
