"""Protocols: leakage-free training, validation and test parts of a corpus table.

``make_folds(table, "speaker-kfold:5", validation="speakers", seed=0)``
returns the folds of a protocol, each a :class:`Fold` that names its
protocol, validation strategy, rows, speakers and counts, and each already
passed through :func:`check_fold`, the guard that raises
:class:`~serkit.errors.LeakageError` when audio, a speaker or a sentence sits
on two sides.
"""

from serkit.protocols.base import Protocol, Split
from serkit.protocols.cross_corpus import LeaveOneCorpusOut, TrainTestCorpora
from serkit.protocols.crossed import SpeakerSentenceCrossed
from serkit.protocols.fold import Fold, with_training_share
from serkit.protocols.guard import audio_hashes, check_fold
from serkit.protocols.predefined import Predefined
from serkit.protocols.random_kfold import RandomKFold
from serkit.protocols.registry import PROTOCOL_NAMES, make_folds, protocol_from_spec
from serkit.protocols.session import LeaveOneSessionOut
from serkit.protocols.speaker import LeaveOneSpeakerOut, SpeakerKFold
from serkit.protocols.validation import (
    HeldOutSpeakers,
    NoValidation,
    PredefinedDev,
    ValidationStrategy,
    validation_from_spec,
)

__all__ = [
    "PROTOCOL_NAMES",
    "Fold",
    "HeldOutSpeakers",
    "LeaveOneCorpusOut",
    "LeaveOneSessionOut",
    "LeaveOneSpeakerOut",
    "NoValidation",
    "Predefined",
    "PredefinedDev",
    "Protocol",
    "RandomKFold",
    "SpeakerKFold",
    "SpeakerSentenceCrossed",
    "Split",
    "TrainTestCorpora",
    "ValidationStrategy",
    "audio_hashes",
    "check_fold",
    "make_folds",
    "protocol_from_spec",
    "validation_from_spec",
    "with_training_share",
]
