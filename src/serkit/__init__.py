"""serkit: speech emotion recognition toolkit.

The package is laid out as the pipeline it implements, and imports run one
way, down that pipeline (``DEVELOPERS.md``; ``tests/test_architecture.py``):

    audio -> corpora -> features -> protocols -> evaluation -> models
          -> training -> experiments -> inference -> serving -> cli

``audio`` reads and checks files; ``corpora`` turns a corpus on disk into one
table; ``features`` turns signals into arrays; ``protocols`` splits a table
into leakage-free folds; ``evaluation`` scores predictions; ``models`` are
torch models and sklearn baselines (tensors in, logits out); ``training`` is
the engine that fits them; ``experiments`` runs recipes (cross-validation,
whole-corpus training, reports); ``inference`` loads a trained model and
predicts; ``serving`` is the web app.  Only ``cli`` knows about terminals.

Beside the stages, top-level modules that every stage may import and that
import no stage: ``errors`` (the exceptions), ``configs`` (configuration
dataclasses to and from plain data), ``progress`` (the progress callback),
``outputs`` (atomic writes and output folders) and ``workers``.
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
