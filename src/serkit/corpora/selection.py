"""Choosing the rows of a class set: merges first, then an explicit, recorded exclusion."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable

import pandas as pd

from serkit.corpora.labels import ClassSet, get_class_set
from serkit.corpora.table import validate_table
from serkit.errors import CorpusError

log = logging.getLogger(__name__)


def select_classes(table: pd.DataFrame, class_set: str | ClassSet) -> pd.DataFrame:
    """Rows of ``table`` whose label, after the class set's merges, is one of its classes.

    ``label`` holds the merged name (``original_label`` still holds the
    corpus's code).  What was merged and what was left out is recorded in
    ``attrs["class_set"]``: ``name``, ``classes``, ``merge`` (declared),
    ``merged`` (label -> utterances merged) and ``excluded`` (label ->
    utterances left out; unlabelled rows count under ``None``).
    """
    chosen = get_class_set(class_set)
    labels = table["label"]
    if len(table) and labels.isna().all():
        raise CorpusError(
            f"{', '.join(sorted(set(table['corpus'])))} has no categorical labels "
            f"to select class set {chosen.name!r} from"
        )
    merged = labels.map(lambda label: chosen.merge.get(label, label))
    keep = merged.isin(chosen.classes)
    selected = table.loc[keep].reset_index(drop=True)
    selected["label"] = merged[keep].to_numpy()
    record = {
        "name": chosen.name,
        "classes": list(chosen.classes),
        "merge": dict(chosen.merge),
        "merged": _sorted_counts(label for label in labels[keep] if label in chosen.merge),
        "excluded": _sorted_counts(None if pd.isna(v) else v for v in labels[~keep]),
    }
    selected.attrs = {**table.attrs, "class_set": record}
    log.info(
        "class set %s: kept %d of %d utterances, merged %s, excluded %s",
        chosen.name,
        len(selected),
        len(table),
        record["merged"] or "nothing",
        record["excluded"] or "nothing",
    )
    return validate_table(selected)


def _sorted_counts(values: Iterable[str | None]) -> dict[str | None, int]:
    return dict(sorted(Counter(values).items(), key=lambda item: str(item[0])))
