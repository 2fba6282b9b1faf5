"""Training: the engine every model trains with.

* :mod:`~serkit.training.config`: the settings, as frozen dataclasses with the papers' recipes;
* :mod:`~serkit.training.tasks`: loss, metrics and the validation figure for
  utterance and frame classification; :mod:`~serkit.training.regression` and
  :mod:`~serkit.training.ctc` for continuous targets and label sequences;
* :mod:`~serkit.training.data`: in-memory datasets, windows, padded batches, the resumable sampler;
* :mod:`~serkit.training.augment`: gain and tempo on waveforms, SpecAugment masks on features;
* :mod:`~serkit.training.checkpoint`: atomic, resumable checkpoints;
* :mod:`~serkit.training.optim`: seeded models, optimisers, schedules, the deterministic scope;
* :mod:`~serkit.training.run`: a run's state, its result, and saving and restoring it;
* :mod:`~serkit.training.engine`: the :class:`Trainer`.
"""

from serkit.training.config import (
    SEED000,
    SEED002,
    SEED003,
    EarlyStoppingConfig,
    OptimiserConfig,
    ScheduleConfig,
    SpecAugmentConfig,
    TrainConfig,
    WaveformAugmentConfig,
)
from serkit.training.ctc import CTCRecognition
from serkit.training.data import AugmentedCopies, Example, FeatureDataset, Recording, WaveformDataset
from serkit.training.engine import Trainer
from serkit.training.optim import build_seeded
from serkit.training.run import FitResult, Predictions
from serkit.training.regression import Regression
from serkit.training.tasks import FrameClassification, Task, UtteranceClassification

__all__ = [
    "AugmentedCopies",
    "SEED000",
    "SEED002",
    "SEED003",
    "CTCRecognition",
    "EarlyStoppingConfig",
    "Example",
    "FeatureDataset",
    "FitResult",
    "FrameClassification",
    "OptimiserConfig",
    "Predictions",
    "Recording",
    "Regression",
    "ScheduleConfig",
    "SpecAugmentConfig",
    "Task",
    "TrainConfig",
    "Trainer",
    "UtteranceClassification",
    "WaveformAugmentConfig",
    "WaveformDataset",
    "build_seeded",
]
