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

__all__ = ["AudioError", "CorpusError", "SerkitError", "__version__", "load_model"]


def __getattr__(name: str):  # noqa: ANN202
    # load_model pulls in torch: imported on first use, so that `import serkit` stays light
    if name == "load_model":
        from serkit.inference import load_model

        return load_model
    raise AttributeError(f"module 'serkit' has no attribute {name!r}")
