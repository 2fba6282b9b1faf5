"""serkit: speech emotion recognition toolkit.

The package is laid out as the pipeline it implements, and imports run one
way, down that pipeline:

    audio -> corpora -> features -> protocols -> evaluation -> cli

``audio`` reads and checks files; ``corpora`` turns a corpus on disk into one
table; ``features`` turns signals into arrays; ``protocols`` splits a table
into leakage-free folds; ``evaluation`` scores predictions.  Only ``cli``
knows about terminals.
"""

from serkit.errors import AudioError, CorpusError, SerkitError

__version__ = "0.1.0"

__all__ = ["AudioError", "CorpusError", "SerkitError", "__version__"]
