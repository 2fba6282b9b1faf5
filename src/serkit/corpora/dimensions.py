"""Arousal/valence targets for any corpus: its own ratings first, else its labels' places.

``labels.yaml`` gives each canonical emotion a place on the arousal/valence
plane (word-level norms from the NRC VAD Lexicon, rescaled to [-1, 1]; see
docs/corpora.md), and declares the scale of each corpus's own ratings (IEMOCAP
1 to 5, RECOLA -1 to 1).  :func:`dimensional_targets` turns a corpus table
into one arousal and one valence value per row on that common scale, saying
for each row where its values came from; :func:`rescale_ratings` puts a
corpus's own values (per-utterance ratings, or a RECOLA trace's frames) on it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import numpy as np
import pandas as pd

from serkit.corpora.labels import Place, label_data
from serkit.errors import CorpusError

DIMENSIONS = ("arousal", "valence")
#: the values of the ``dimension_source`` column
CORPUS, LABELS = "corpus", "labels.yaml"
PREFERENCES = ("corpus", "labels")
MISSING = ("error", "drop")

Scales = Mapping[str, "tuple[float, float]"]


def target_scale() -> tuple[float, float]:
    """The common scale ``(lo, hi)`` of every place and every rescaled rating."""
    return label_data().dimensions.scale


def emotion_places() -> Mapping[str, Place]:
    """Canonical emotion -> its :class:`~serkit.corpora.labels.Place` (emotions with one only)."""
    return label_data().dimensions.places


def emotion_place(label: str) -> Place:
    """The place of canonical emotion ``label``; a :class:`CorpusError` saying why if it has none."""
    dims = label_data().dimensions
    if label in dims.places:
        return dims.places[label]
    if label in dims.unplaced:
        raise CorpusError(
            f"label {label!r} has no arousal/valence place in labels.yaml: {dims.unplaced[label]}"
        )
    raise CorpusError(f"label {label!r} is not in the labels.yaml vocabulary")


def rating_scale(corpus: str, scales: Scales | None = None) -> tuple[float, float]:
    """The scale ``(lo, hi)`` of ``corpus``'s own ratings: ``scales`` first, then ``labels.yaml``."""
    if scales and corpus in scales:
        lo, hi = (float(v) for v in scales[corpus])
        if not lo < hi:
            raise CorpusError(
                f"rating scale of {corpus!r} must be (lo, hi) with lo < hi, got {scales[corpus]}"
            )
        return lo, hi
    declared = label_data().dimensions.corpus_scales
    if corpus not in declared:
        raise CorpusError(
            f"corpus {corpus!r} has its own arousal/valence ratings but no declared scale "
            f"(labels.yaml dimensions.corpus_scales has {', '.join(declared)}); "
            "pass scales={corpus: (lo, hi)}"
        )
    return declared[corpus]


def rescale_ratings(values, corpus: str, scales: Scales | None = None, *, where: str = "") -> np.ndarray:
    """``corpus``'s own ratings put linearly onto :func:`target_scale`.

    ``y = t_lo + (x - lo) (t_hi - t_lo) / (hi - lo)`` for the corpus's scale
    ``(lo, hi)``: with the target [-1, 1], IEMOCAP's 1..5 becomes
    ``(x - 3) / 2`` and RECOLA's [-1, 1] is returned unchanged, bit for bit.  A value outside the
    corpus's scale is a :class:`CorpusError` (``where`` says whose), never clipped;
    NaN stays NaN.
    """
    lo, hi = rating_scale(corpus, scales)
    t_lo, t_hi = target_scale()
    x = np.asarray(values, dtype=np.float64)
    outside = ~np.isnan(x) & ((x < lo) | (x > hi))
    if outside.any():
        raise CorpusError(
            f"{where or corpus}: rating {x[outside].flat[0]:g} is outside {corpus}'s declared scale "
            f"[{lo:g}, {hi:g}] ({int(outside.sum())} value{'s' if outside.sum() > 1 else ''} in all)"
        )
    if (lo, hi) == (t_lo, t_hi):
        return x.copy()  # already on the common scale: bit-identical (RECOLA)
    return t_lo + (x - lo) * (t_hi - t_lo) / (hi - lo)


def dimensional_targets(
    table: pd.DataFrame,
    prefer: str = "corpus",
    *,
    missing: str = "error",
    scales: Scales | None = None,
) -> pd.DataFrame:
    """One arousal and one valence value per row of the corpus ``table``, on [-1, 1].

    A row's values come from the corpus's own ``arousal``/``valence`` columns
    (both given; rescaled by :func:`rescale_ratings`) or from its label's place
    in ``labels.yaml``.  ``prefer="corpus"`` (the default) takes the corpus's
    ratings where the row has them, else the place; ``prefer="labels"`` takes
    the place where the label has one, else the ratings.  A row with neither
    is a :class:`CorpusError` naming its label and file, or, with
    ``missing="drop"``, left out and counted in ``attrs["dimension_dropped"]``
    (label -> rows; unlabelled rows under None).  So is a row with one of the
    two ratings but not the other.  ``scales`` maps a corpus name to the
    ``(lo, hi)`` of its ratings, for corpora ``labels.yaml`` does not declare
    (a manifest's).

    Returns a frame on ``table``'s index (less dropped rows) with columns
    ``path``, ``label``, ``arousal``, ``valence`` and ``dimension_source``
    (``"corpus"`` or ``"labels.yaml"``); ``attrs`` carries ``dimension_scale``
    and ``dimension_dropped``.
    """
    if prefer not in PREFERENCES:
        raise CorpusError(f"prefer must be one of {', '.join(PREFERENCES)}, got {prefer!r}")
    if missing not in MISSING:
        raise CorpusError(f"missing must be one of {', '.join(MISSING)}, got {missing!r}")
    for column in ("path", "corpus", "label", *DIMENSIONS):
        if column not in table.columns:
            raise CorpusError(f"not a corpus table: no {column!r} column")
    places = emotion_places()
    rated = table[list(DIMENSIONS)].notna().to_numpy()
    half = rated.any(axis=1) & ~rated.all(axis=1)
    if half.any():
        row = table.loc[half].iloc[0]
        given = "arousal" if pd.notna(row["arousal"]) else "valence"
        raise CorpusError(
            f"{row['path']}: has its own {given} but not the other dimension "
            f"({int(half.sum())} row{'s' if half.sum() > 1 else ''} in all)"
        )
    own = rated.all(axis=1)
    placed = table["label"].map(lambda label: isinstance(label, str) and label in places).to_numpy(dtype=bool)
    use_own = own & ~placed if prefer == "labels" else own
    use_place = placed & ~use_own
    neither = ~use_own & ~use_place
    dropped: dict = {}
    if neither.any():
        labels = [None if pd.isna(v) else v for v in table["label"][neither]]
        if missing == "error":
            row = table.loc[neither].iloc[0]
            label = labels[0]
            why = (
                "no label" if label is None
                else label_data().dimensions.unplaced.get(label, "no place in labels.yaml")
            )
            raise CorpusError(
                f"{row['path']}: label {label!r} has no arousal/valence place ({why}) and the row has "
                f"no rating of its own ({int(neither.sum())} row{'s' if neither.sum() > 1 else ''} in all; "
                "missing='drop' leaves them out)"
            )
        dropped = dict(sorted(Counter(labels).items(), key=lambda item: str(item[0])))

    values = np.full((len(table), 2), np.nan)
    for corpus in pd.unique(table["corpus"][use_own]):
        rows = use_own & (table["corpus"] == corpus).to_numpy()
        lo, hi = rating_scale(corpus, scales)
        ratings = table.loc[rows, list(DIMENSIONS)]
        outside = ((ratings < lo) | (ratings > hi)).any(axis=1)
        if outside.any():
            row = table.loc[rows].loc[outside].iloc[0]
            raise CorpusError(
                f"{row['path']}: arousal {row['arousal']:g}, valence {row['valence']:g} outside {corpus}'s "
                f"declared rating scale [{lo:g}, {hi:g}] ({int(outside.sum())} row"
                f"{'s' if outside.sum() > 1 else ''} in all)"
            )
        for j, dim in enumerate(DIMENSIONS):
            values[rows, j] = rescale_ratings(ratings[dim], corpus, scales)
    for i in np.flatnonzero(use_place):
        place = places[table["label"].iloc[i]]
        values[i] = place.arousal, place.valence

    keep = ~neither
    out = pd.DataFrame(
        {
            "path": pd.Series(table["path"].to_numpy(dtype=object)[keep], dtype=object),
            "label": pd.Series(table["label"].to_numpy(dtype=object)[keep], dtype=object),
            "arousal": values[keep, 0],
            "valence": values[keep, 1],
            "dimension_source": pd.Series(np.where(use_own, CORPUS, LABELS)[keep], dtype=object),
        },
        index=table.index[keep],
    )
    out.attrs = {"dimension_scale": list(target_scale()), "dimension_dropped": dropped}
    return out
