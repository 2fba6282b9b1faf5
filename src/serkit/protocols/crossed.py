"""Speaker- and sentence-independent crossed folds (``speaker-sentence:KxL``).

EMO-DB's ten sentences are spoken by every speaker in every emotion, so a
speaker-independent split still tests on sentences the model trained on.
The crossed protocol splits speakers into ``K`` groups and sentences (the
table's ``text`` column) into ``L`` groups; each of the ``K * L`` folds tests
on one speaker group times one sentence group, and trains only on rows that
share neither, dropping the rows that share exactly one.  Every row is tested
exactly once over the folds.  Speaker groups are balanced by label and
gender, sentence groups by label, as in :mod:`serkit.protocols.speaker`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from serkit.errors import SerkitError
from serkit.protocols.base import Protocol, Split, check_enough_groups, column_values
from serkit.protocols.speaker import balanced_group_folds

SENTENCE = "text"


@dataclass(frozen=True)
class SpeakerSentenceCrossed(Protocol):
    grouped_by: ClassVar[tuple[str, ...]] = ("speaker", SENTENCE)
    held_out_by: ClassVar[tuple[str, ...]] = ("speaker", SENTENCE)

    speaker_groups: int = 5
    sentence_groups: int = 5

    def __post_init__(self) -> None:
        if self.speaker_groups < 2 or self.sentence_groups < 2:
            raise SerkitError(f"{self.name}: needs at least 2 speaker and 2 sentence groups")

    @property
    def name(self) -> str:
        return f"speaker-sentence:{self.speaker_groups}x{self.sentence_groups}"

    def splits(
        self, table: pd.DataFrame, rows: np.ndarray, seed: int, hashes: np.ndarray
    ) -> Iterator[Split]:
        speakers = column_values(table, "speaker", rows, self.name)
        sentences = column_values(table, SENTENCE, rows, self.name)
        n_speaker, n_sentence = self.speaker_groups, self.sentence_groups
        check_enough_groups(len(np.unique(speakers)), n_speaker, "speakers", self.name)
        check_enough_groups(len(np.unique(sentences)), n_sentence, "sentences", self.name)
        speaker_tests = balanced_group_folds(table, rows, speakers, n_speaker, seed)
        sentence_tests = balanced_group_folds(
            table, rows, sentences, n_sentence, seed, by_gender=False
        )
        for i, by_speaker in enumerate(speaker_tests, start=1):
            speaker_side = np.zeros(len(rows), dtype=bool)
            speaker_side[by_speaker] = True
            for j, by_sentence in enumerate(sentence_tests, start=1):
                sentence_side = np.zeros(len(rows), dtype=bool)
                sentence_side[by_sentence] = True
                test = speaker_side & sentence_side
                train = ~speaker_side & ~sentence_side
                yield Split(
                    f"speakers {i}/{n_speaker}, sentences {j}/{n_sentence}",
                    rows[train],
                    rows[test],
                    dropped=rows[~test & ~train],
                )
