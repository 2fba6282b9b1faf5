"""Evaluation: scoring predictions, and summarising a cross-validation.

* :mod:`~serkit.evaluation.metrics`: WA, UA, macro-F1, confusion matrices,
  per-class recall, Error and Unweighted Error;
* :mod:`~serkit.evaluation.regression`: CCC and RMSE for continuous targets;
* :mod:`~serkit.evaluation.sequence`: frame, phone, character and word error rates;
* :mod:`~serkit.evaluation.phone_decoding`: frame posteriors to phones (Viterbi over a phone
  bigram), and its settings chosen on validation utterances;
* :mod:`~serkit.evaluation.smoothness`: how smooth a time-continuous trace or its prediction is
  (power under 1 Hz, spline reconstruction after downsampling, roughness);
* :mod:`~serkit.evaluation.frame_decisions`: an utterance's class from its frames' posteriors;
* :mod:`~serkit.evaluation.aggregate`: per-fold, mean and pooled figures with a
  speaker bootstrap interval, as a JSON-able dict;
* :mod:`~serkit.evaluation.compare`: whether one system beats another on the same test
  utterances (a paired speaker bootstrap, each side one run or several seeds).

Numpy only (no torch), so that importing it stays cheap.
"""

from serkit.evaluation.aggregate import (
    BootstrapConfig,
    FoldPredictions,
    error_rate_intervals,
    summarise_folds,
    summarise_regression_folds,
)
from serkit.evaluation.compare import (
    ERROR_FIGURES,
    RunErrors,
    RunPredictions,
    paired_error_bootstrap,
    paired_speaker_bootstrap,
)
from serkit.evaluation.frame_decisions import utterance_reference, utterance_scores
from serkit.evaluation.metrics import (
    ClassificationScores,
    accuracy,
    classification_scores,
    confusion_matrix,
    error_rate,
    macro_f1,
    per_class_recall,
    row_normalise,
    unweighted_average_recall,
    unweighted_error_rate,
)
from serkit.evaluation.phone_decoding import (
    DecoderChoice,
    DecoderConfig,
    DecoderGrid,
    PhoneBigram,
    choose_decoder,
    class_log_priors,
    viterbi_decode,
    viterbi_frames,
)
from serkit.evaluation.regression import (
    concordance_correlation,
    regression_scores,
    root_mean_squared_error,
)
from serkit.evaluation.sequence import (
    character_error_rate,
    edit_distance,
    frame_error_rate,
    phone_error_rate,
    word_error_rate,
)
from serkit.evaluation.smoothness import (
    low_frequency_share,
    reconstruction_ccc,
    roughness,
    roughness_ratio,
)

__all__ = [
    "BootstrapConfig",
    "ClassificationScores",
    "DecoderChoice",
    "DecoderConfig",
    "DecoderGrid",
    "ERROR_FIGURES",
    "FoldPredictions",
    "PhoneBigram",
    "RunErrors",
    "RunPredictions",
    "accuracy",
    "character_error_rate",
    "choose_decoder",
    "class_log_priors",
    "classification_scores",
    "concordance_correlation",
    "confusion_matrix",
    "edit_distance",
    "error_rate",
    "error_rate_intervals",
    "frame_error_rate",
    "low_frequency_share",
    "macro_f1",
    "paired_error_bootstrap",
    "paired_speaker_bootstrap",
    "per_class_recall",
    "phone_error_rate",
    "reconstruction_ccc",
    "regression_scores",
    "root_mean_squared_error",
    "roughness",
    "roughness_ratio",
    "row_normalise",
    "summarise_folds",
    "summarise_regression_folds",
    "unweighted_average_recall",
    "unweighted_error_rate",
    "utterance_reference",
    "utterance_scores",
    "viterbi_decode",
    "viterbi_frames",
    "word_error_rate",
]
