"""Leave-one-session-out: one fold per recording session (IEMOCAP's five dyads).

A session's speakers, and anything the session's recording shares (room,
microphones, the partner's voice bleeding in), stay on one side; a held-out
validation part takes whole sessions too.  The guard still checks speakers,
so a speaker recorded in two sessions is caught rather than leaked.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from serkit.protocols.base import Protocol, Split, check_enough_groups, column_values


@dataclass(frozen=True)
class LeaveOneSessionOut(Protocol):
    grouped_by: ClassVar[tuple[str, ...]] = ("speaker", "session")
    held_out_by: ClassVar[tuple[str, ...]] = ("session",)

    @property
    def name(self) -> str:
        return "loso-session"

    def splits(
        self, table: pd.DataFrame, rows: np.ndarray, seed: int, hashes: np.ndarray
    ) -> Iterator[Split]:
        sessions = column_values(table, "session", rows, self.name)
        distinct = np.unique(sessions)
        check_enough_groups(len(distinct), 2, "sessions", self.name)
        for session in distinct:
            test = sessions == session
            yield Split(f"session {session}", rows[~test], rows[test])
