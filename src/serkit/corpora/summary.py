"""What a corpus table holds, as a JSON-ready dict (``serkit corpus info``)."""

from __future__ import annotations

from typing import Any

import pandas as pd


def corpus_summary(table: pd.DataFrame) -> dict[str, Any]:
    """Counts of a corpus table.

    Keys: ``corpus`` (name; several joined by ``+``), ``utterances``,
    ``speakers``, ``hours``, ``labels`` (canonical name -> utterances),
    ``per_speaker`` (speaker -> {label -> utterances}), and also
    ``unlabelled`` (utterances without a label), ``genders`` (sex -> speakers,
    ``unknown`` for None), ``partitions`` (predefined split -> utterances),
    ``mean_duration`` (seconds), ``skipped`` (bad files left out) and, after
    :func:`~serkit.corpora.selection.select_classes`, ``class_set``.
    Speakers are counted per corpus, so tables of several corpora add up.
    """
    labelled = table[table["label"].notna()]
    speakers = table.drop_duplicates(["corpus", "speaker"])
    per_speaker = {
        str(speaker): _counts(group["label"].dropna())
        for speaker, group in table.groupby(_speaker_key(table), sort=True)
    }
    summary = {
        "corpus": "+".join(sorted(set(table["corpus"]))),
        "utterances": len(table),
        "speakers": len(speakers),
        "hours": float(table["duration"].sum()) / 3600,
        "labels": _counts(labelled["label"]),
        "per_speaker": per_speaker,
        "unlabelled": int(table["label"].isna().sum()),
        "genders": _counts(speakers["gender"].fillna("unknown")),
        "partitions": _counts(table["partition"].dropna()),
        "mean_duration": float(table["duration"].mean()) if len(table) else 0.0,
        "skipped": list(table.attrs.get("skipped", [])),
    }
    if "class_set" in table.attrs:
        summary["class_set"] = table.attrs["class_set"]
    return summary


def _speaker_key(table: pd.DataFrame) -> pd.Series:
    # A speaker id is unique within its corpus only: prefix it when corpora are mixed.
    if table["corpus"].nunique() > 1:
        return table["corpus"] + "/" + table["speaker"]
    return table["speaker"]


def _counts(values: pd.Series) -> dict[str, int]:
    return {str(k): int(v) for k, v in sorted(values.value_counts().items())}
