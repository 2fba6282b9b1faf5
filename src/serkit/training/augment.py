"""Augmentation: gain and tempo on waveforms, SpecAugment-style masks on features.

Both draw from a generator the engine hands them, keyed by the run's seed and
the position in training (:func:`serkit.training.data.keyed_rng`), so a run
augments identically when repeated or resumed.

* :func:`augment_waveform` (seed 003): a uniform gain in dB and a uniform
  tempo factor (:mod:`serkit.audio.perturb`), drawn afresh each epoch and
  applied before feature extraction.  ``copies`` instead draws a few per
  utterance once, as features (:mod:`serkit.features.augmented`).
* :func:`spec_augment`: time and frequency masks on a padded batch, drawn
  inside each item's valid frames so that padding is never touched.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from serkit.audio.perturb import perturb
from serkit.errors import SerkitError
from serkit.training.data import AugmentedCopies, Dataset, WaveformDataset
from serkit.training.config import SpecAugmentConfig, WaveformAugmentConfig


def augment_waveform(
    signal: np.ndarray, sample_rate: int, config: WaveformAugmentConfig, rng: np.random.Generator
) -> np.ndarray:
    """``signal`` with a tempo and gain drawn from ``config``'s spans (:func:`serkit.audio.perturb.perturb`)."""
    return perturb(signal, sample_rate, config.gain_db, config.tempo, rng)


def check_augmentation(config: WaveformAugmentConfig, train: Dataset, frame_targets: bool) -> None:
    """Refuse waveform augmentation a training set cannot take: fresh draws need its signals
    (a WaveformDataset), ``copies`` as many precomputed copies, and tempo misaligns frame targets."""
    if config.copies:
        if not isinstance(train, AugmentedCopies) or train.n_copies != config.copies:
            raise SerkitError(f"waveform_augment.copies {config.copies} needs as many precomputed copies of "
                              "each training item (AugmentedCopies)")
    elif config.active and not isinstance(train, WaveformDataset):
        raise SerkitError("waveform augmentation needs a WaveformDataset: these features are fixed")
    if config.tempo and frame_targets:
        raise SerkitError("tempo augmentation would misalign frame-level targets with the features")


def spec_augment(x: Tensor, lengths: Tensor, config: SpecAugmentConfig, rng: np.random.Generator) -> Tensor:
    """``x`` ``(batch, dims, frames)`` with time and frequency masks set to ``config.fill``.

    Item ``i`` gets masks only within its first ``lengths[i]`` frames: a time
    mask is at most ``max_time_fraction`` of that length, and a frequency band
    covers the valid frames only.  Returns a new tensor.
    """
    batch, dims, frames = x.shape
    mask = np.zeros((batch, dims, frames), dtype=bool)
    for i, length in enumerate(lengths.tolist()):
        length = min(length, frames)
        widest = min(config.time_width, int(config.max_time_fraction * length))
        for _ in range(config.time_masks):
            width = int(rng.integers(0, widest + 1))
            start = int(rng.integers(0, length - width + 1))
            mask[i, :, start : start + width] = True
        for _ in range(config.freq_masks):
            width = int(rng.integers(0, min(config.freq_width, dims) + 1))
            start = int(rng.integers(0, dims - width + 1))
            mask[i, start : start + width, :length] = True
    return x.masked_fill(torch.from_numpy(mask).to(x.device), config.fill)
