"""Neural models on a fold: normalise, shape, train an ensemble of seeds, predict.

Everything fitted or chosen -- the normaliser's statistics, the weights, the
stopping epoch -- sees the training and validation parts only.  The declared
``per-speaker`` variant normalises every speaker by their own statistics, the
test speakers' included, when the test part is predicted; the declared
``per-corpus`` variant normalises each corpus by its training rows'
statistics, and a corpus training never saw by its own rows' (no labels).
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from serkit.artifacts import INFO, WEIGHTS, ModelInfo
from serkit.audio import load_audio
from serkit.errors import SerkitError
from serkit.evaluation import unweighted_average_recall
from serkit.evaluation.frame_decisions import RULES
from serkit.experiments.fitters.frozen_stem import frozen_stem, head_training, write_whole_model
from serkit.experiments.fitters.transfer import InitialModel
from serkit.experiments.ctc_targets import encode_text
from serkit.experiments.frame_targets import SILENCE, encode_frames
from serkit.experiments.fold_data import Part, select_layer, selected_feature
from serkit.experiments.recipe import Recipe
from serkit.features.normalise import (
    CorpusNormaliser,
    GlobalNormaliser,
    Normalisation,
    SpeakerNormaliser,
    normalise_utterance,
)
from serkit.features.shaping import SegmentRule, fix_length, window_transform
from serkit.models import UtteranceModel, build_model, model_config
from serkit.models.registry import is_frame_model
from serkit.models.transfer import freeze, freeze_all_but_output
from serkit.progress import Progress
from serkit.training import (
    AugmentedCopies,
    CTCRecognition,
    FeatureDataset,
    FitResult,
    FrameClassification,
    Recording,
    Regression,
    Task,
    Trainer,
    UtteranceClassification,
    WaveformDataset,
    build_seeded,
)

Transform = Callable[[np.ndarray], np.ndarray]
#: What ``serkit train`` copies from the chosen member's saved model.
MODEL_FILES = (WEIGHTS, INFO)


@dataclasses.dataclass(frozen=True)
class Member:
    """One seed of an ensemble: its trainer (holding the kept weights) and how it was fitted."""

    seed: int
    trainer: Trainer
    fit: FitResult
    folder: Path

    def record(self) -> dict[str, Any]:
        fit = self.fit
        return {"seed": self.seed, "chosen_epoch": fit.chosen_epoch, "selection": fit.selection,
                "stop_reason": fit.stop_reason, "epochs_run": fit.epochs_run,
                "earlier_seconds": fit.earlier_seconds, "earlier_cpu_seconds": fit.earlier_cpu_seconds,
                "history": list(fit.history)}


class NeuralFitter:
    """``recipe.ensemble`` models from consecutive seeds, their class scores averaged."""

    def __init__(self, recipe: Recipe, labels: tuple[str, ...], out_dir: Path, *, threads: int | None = None,
                 progress: Progress | None = None):
        self.recipe = recipe
        self.labels = tuple(labels)
        self.out_dir = Path(out_dir)
        self.threads = threads
        self.progress = progress
        self.task = make_task(recipe, self.labels)
        self.feature = selected_feature(recipe)
        #: what each window goes through where it is cut (mulaw's rescale: segment), or None
        self._per_window = window_transform(self.feature, windowed=recipe.segments is not None)
        self.validation_ua: float | None = None
        #: The validation figure settings are chosen on: UA, or a regression's mean CCC.
        self.validation_score: float | None = None
        #: a frame task's validation UA over frames, and emotion frames' utterance UA by each rule
        self.validation_frame_ua: float | None = None
        self.validation_utterance_ua: dict[str, float] | None = None
        #: a regression's CCC and RMSE per target on the validation part (the ensemble's)
        self.validation_figures: dict[str, float] | None = None
        self.members: list[Member] = []
        self._seen: list[Part] = []
        self._transform: Transform | None = None
        self._normaliser: dict[str, Any] | None = None
        self._by_corpus: CorpusNormaliser | None = None
        # read now: a wrong init fails before any training
        self.initial = InitialModel.read(recipe.init, self.feature, str(recipe.features)) if recipe.init else None
        self.init_record: dict[str, Any] | None = None

    def fit(self, train: Part, validation: Part) -> NeuralFitter:
        train, validation = select_layer(self.recipe, train), select_layer(self.recipe, validation)
        self._seen = [train, validation]
        self._fit_normalisation(train)
        train_set = self._dataset(train, training=True)
        if self.recipe.train.waveform_augment.copies:
            train_set = self._copies_dataset(train, train_set)
        elif self.recipe.train.waveform_augment.active:
            train_set = self._waveform_dataset(train)
        validation_set = self._dataset(validation, training=False)
        dims = train_set.example(0).features.shape[0]
        for seed in range(self.recipe.seed, self.recipe.seed + self.recipe.ensemble):
            self.members.append(self._train_member(seed, dims, train_set, validation_set))
        if validation_set is not None:  # the ensemble as it will predict: members' scores averaged
            scores = self._mean_scores(validation_set, validation.ids)
            if isinstance(self.task, Regression):
                self.validation_figures = self.task.metrics(list(scores), self._targets(validation))
                self.validation_score = self.validation_figures["ccc"]
            elif isinstance(self.task, FrameClassification):  # the task's own figure, over every frame
                targets = self._targets(validation)
                self.validation_score = self.validation_frame_ua = self.task.metrics(scores, targets)[self.task.figure]
                if self.task.aggregate is not None:  # both rules, for the docs' comparison
                    self.validation_utterance_ua = {
                        rule: self.task.utterance_figures(scores, targets, rule)["utterance_ua"] for rule in RULES}
            elif isinstance(self.task, CTCRecognition):  # CER, negated: the search keeps the highest score
                self.validation_score = -self.task.metrics(scores, self._targets(validation))["cer"]
            else:
                predicted = np.asarray(self.labels)[np.argmax(scores, axis=1)]
                self.validation_ua = unweighted_average_recall(validation.labels, list(predicted),
                                                               labels=list(self.labels))
                self.validation_score = self.validation_ua
            if self.recipe.train.monitor not in (None, self.task.figure):
                self.validation_score = self._monitored(scores, validation)
        return self

    def _monitored(self, scores: Any, validation: Part) -> float:
        """The recipe's ``train.monitor`` on the validation part, signed so that higher is better:
        the figure that chose the epoch chooses the settings too (the loss: its members' mean at
        their kept epochs)."""
        figure = self.recipe.train.monitor
        if figure == "loss":
            value = float(np.mean([m.fit.history[m.fit.chosen_epoch - 1]["validation_loss"] for m in self.members]))
        else:
            targets = self._targets(validation)
            figures = self.task.metrics(list(scores) if isinstance(scores, np.ndarray) else scores, targets)
            if figure not in figures:
                raise SerkitError(f"train.monitor {figure!r}: the task gives {', '.join(sorted(figures))} or loss")
            value = figures[figure]
        return value if self.task.higher_is_better(figure) else -value

    def predict(self, test: Part) -> np.ndarray:
        test = select_layer(self.recipe, test)
        return self._mean_scores(self._dataset(test, training=False), test.ids)

    def record(self) -> dict[str, Any]:
        members = [member.record() for member in self.members]
        record = {"chosen_epoch": members[0]["chosen_epoch"], "selection": members[0]["selection"],
                  "validation_ua": self.validation_ua, "members": members}
        if isinstance(self.task, Regression):
            record["validation_ccc"] = self.validation_score
            record["validation_figures"] = self.validation_figures
        if isinstance(self.task, FrameClassification):
            record["validation_frame_ua"] = self.validation_frame_ua
            record["validation_utterance_ua"] = self.validation_utterance_ua
        if isinstance(self.task, CTCRecognition) and self.validation_score is not None:
            record["validation_cer"] = -self.validation_score
        if self.init_record:
            record["init"] = self.init_record
        return record

    def save(self, model_dir: Path) -> dict[str, Any]:
        if len(self.members) != 1:
            raise SerkitError(f"an ensemble of {len(self.members)} cannot be saved as one model; use ensemble: 1")
        member = self.members[0]
        for name in MODEL_FILES:
            shutil.copy2(member.folder / "model" / name, model_dir / name)
        fit = member.fit
        validation = {k: v for k, v in fit.history[fit.chosen_epoch - 1].items() if k.startswith("validation_")}
        training = {"chosen_epoch": fit.chosen_epoch, "selection": fit.selection, "epochs_run": fit.epochs_run,
                    "validation_at_chosen_epoch": validation, "seconds": round(fit.total_seconds, 1)}
        if self.init_record:
            training["init"] = self.init_record
        return training

    # -- steps ------------------------------------------------------------------

    def _train_member(self, seed: int, dims: int, train: Any, validation: FeatureDataset | None) -> Member:
        recipe = self.recipe
        config = dataclasses.replace(recipe.train, seed=seed)
        model = build_seeded(lambda: build_model(recipe.model, dims, self._n_outputs, **recipe.model_options),
                             seed)
        folder = self.out_dir / f"seed{seed}"
        if self.initial is None:
            trainer = Trainer(model, self.task, config, out_dir=folder, metadata=self._metadata(model),
                              progress=self.progress, threads=self.threads)
            return Member(seed, trainer, trainer.fit(train, validation), folder)
        net, net_config, train, validation = self._start_from_initial(model, config, folder, train, validation)
        trainer = Trainer(net, self.task, net_config, out_dir=folder, metadata=self._metadata(net),
                          progress=self.progress, threads=self.threads)
        fit = trainer.fit(train, validation)
        if net is not model:  # the head trained on cached outputs: keep and predict with the whole model
            trainer = Trainer(model, self.task, config, threads=self.threads)
            write_whole_model(folder / "model", model, config)
        return Member(seed, trainer, fit, folder)

    def _start_from_initial(self, model: UtteranceModel, config: Any, folder: Path, train: Any,
                            validation: FeatureDataset | None) -> tuple[UtteranceModel, Any, Any, Any]:
        """Copy the initial model's matching layers; with ``head_epochs``, first train the new
        output layer alone (everything else frozen); then freeze the first ``freeze`` layers.
        Returns what trains from then on, its settings and data: the model, or with ``cache_frozen``
        its head on the frozen layers' outputs (:mod:`~serkit.experiments.fitters.frozen_stem`)."""
        recipe = self.recipe
        record = self.initial.start(model, 0)
        net = model
        if recipe.cache_frozen:  # the cut's layers stay frozen in both phases, so its output is fixed
            net, train, validation = frozen_stem(model, recipe.freeze, train, validation, self.threads)
            config = head_training(config, model, net)
            record["cached"] = [name for name, _ in model.layers() if name not in dict(net.layers())]
        if recipe.head_epochs:
            freeze_all_but_output(model)
            head = dataclasses.replace(config, epochs=recipe.head_epochs)
            Trainer(net, self.task, head, out_dir=folder / "head", metadata=self._metadata(net),
                    threads=self.threads).fit(train, validation)  # the trainer leaves its kept weights in net
            for parameter in model.parameters():
                parameter.requires_grad_(True)
        record["frozen"] = freeze(model, recipe.freeze)
        record["head_epochs"] = recipe.head_epochs
        self.init_record = record
        return net, config, train, validation

    @property
    def _n_outputs(self) -> int:
        return self.task.n_outputs if isinstance(self.task, Regression) else self.task.n_classes

    def _targets(self, part: Part) -> list[Any]:
        """What the task learns of each row: a class index, the regression targets' values, or a
        class index per frame."""
        if isinstance(self.task, FrameClassification):
            return [encode_frames(frames, self.labels) for frames in part.frames]
        if isinstance(self.task, CTCRecognition):
            return [encode_text(text, self.labels) for text in part.transcripts]
        if isinstance(self.task, Regression) and self.task.frame_level:
            # a trace's values per frame, or else an utterance's values on each of its frames
            return [v if v.ndim == 2 else np.repeat(v[None, :], x.shape[-1], axis=0)
                    for v, x in zip(part.values, part.arrays)]
        return list(part.values) if isinstance(self.task, Regression) else self.task.encode(part.labels)

    def _metadata(self, model: torch.nn.Module) -> ModelInfo:
        """What inference needs beside the weights: the model, the feature, normalisation, input shaping, labels."""
        recipe = self.recipe
        return ModelInfo(
            model=model_config(model),
            features=self.feature.to_dict(),
            feature_preset=recipe.features,
            labels=self.recipe.targets if isinstance(self.task, Regression) else self.labels,
            normalisation=recipe.normalisation.value,
            normaliser=self._normaliser,
            fixed_frames=recipe.fixed_frames,
            segments=dataclasses.asdict(recipe.segments) if recipe.segments else None,
            init=self.init_record,
        )

    def _fit_normalisation(self, train: Part) -> None:
        kind = self.recipe.normalisation
        if kind == Normalisation.GLOBAL:  # fitted on the training part only
            fitted = GlobalNormaliser().fit(train.arrays)
            self._transform, self._normaliser = fitted.transform, fitted.to_dict()
        elif kind == Normalisation.UTTERANCE:
            self._transform = normalise_utterance
        elif kind == Normalisation.PER_CORPUS:  # each training corpus by its training rows
            self._by_corpus = CorpusNormaliser().fit(train.arrays, train.corpora)

    def _normalised(self, part: Part) -> list[np.ndarray]:
        if self.recipe.normalisation == Normalisation.PER_SPEAKER:
            # The declared variant: each speaker by their own statistics, over every part seen so far.
            seen = [p for p in self._seen if p is not part] + [part]
            by_speaker = SpeakerNormaliser().fit([x for p in seen for x in p.arrays],
                                                 [s for p in seen for s in p.speakers])
            return [by_speaker.transform(x, s) for x, s in zip(part.arrays, part.speakers)]
        if self._by_corpus is not None:  # the declared variant: an unseen corpus by its own statistics
            by_corpus = self._by_corpus.adapted(part.arrays, part.corpora)
            return [by_corpus.transform(x, c) for x, c in zip(part.arrays, part.corpora)]
        if self._transform is None:
            return part.arrays
        return [self._transform(x) for x in part.arrays]

    def _dataset(self, part: Part, training: bool) -> FeatureDataset | None:
        """The part as model inputs (fixed length or windows, as the recipe says); None if empty."""
        if not len(part):
            return None
        recipe = self.recipe
        arrays = self._normalised(part)
        if recipe.fixed_frames:
            arrays = [fix_length(x, recipe.fixed_frames) for x in arrays]
        dataset = FeatureDataset.from_arrays(arrays, self._targets(part), part.ids, domains=part.corpora)
        if recipe.segments is None:
            return dataset
        hop = recipe.segments.train_hop if training else recipe.segments.test_hop
        window, hop_frames = SegmentRule(recipe.segments.window, hop).frames(self.feature.grid)
        windows = dataset.windows(window, hop_frames)
        if self._per_window is None:
            return windows
        return FeatureDataset(dataclasses.replace(e, features=self._per_window(e.features)) for e in windows.items)

    def _copies_dataset(self, part: Part, originals: FeatureDataset) -> AugmentedCopies:
        """The training examples with their augmented copies' features, normalised and shaped as
        the originals (by the statistics of the originals)."""
        recipe = self.recipe
        if part.copies is None:
            raise SerkitError("waveform_augment.copies: the training part came without its copies' features")
        if recipe.segments is not None or recipe.normalisation in (Normalisation.PER_SPEAKER, Normalisation.PER_CORPUS):
            raise SerkitError("waveform_augment.copies cannot be combined with segments or with "
                              f"{recipe.normalisation} normalisation")
        n = len(part.copies[0])
        copies = [self._normalised(dataclasses.replace(part, arrays=[row[k] for row in part.copies]))
                  for k in range(n)]
        if recipe.fixed_frames:
            copies = [[fix_length(x, recipe.fixed_frames) for x in arrays] for arrays in copies]
        examples = [[dataclasses.replace(example, features=copies[k][i], id=f"{example.id}#copy{k + 1}")
                     for k in range(n)] for i, example in enumerate(originals.items)]
        return AugmentedCopies(originals.items, examples)

    def _waveform_dataset(self, part: Part) -> WaveformDataset:
        """Training signals whose features are computed after augmentation (never cached)."""
        recipe, feature = self.recipe, self.feature
        if recipe.normalisation in (Normalisation.PER_SPEAKER, Normalisation.PER_CORPUS):
            raise SerkitError(f"waveform augmentation cannot be combined with {recipe.normalisation} normalisation")
        transform, per_window = self._transform, self._per_window

        def shaped(x: np.ndarray) -> np.ndarray:  # x: a window's features when the recipe cuts windows
            x = x if transform is None else transform(x)
            x = fix_length(x, recipe.fixed_frames) if recipe.fixed_frames else x
            return x if per_window is None else per_window(x)

        corpora = part.corpora or [None] * len(part)
        recordings = [Recording(load_audio(path, feature.sample_rate), target, path, domain=corpus)
                      for path, target, corpus in zip(part.ids, self._targets(part), corpora)]
        dataset = WaveformDataset(recordings, feature.process_signal, feature.sample_rate, transform=shaped)
        if recipe.segments is None:
            return dataset
        return dataset.windows(recipe.segments.window, recipe.segments.train_hop)

    def _mean_scores(self, dataset: FeatureDataset | None, ids: Sequence[str]) -> Any:
        """Class scores of each item of ``ids``, averaged over the members: an array ``(items,
        outputs)``, or for a frame task a list of ``(frames, classes)`` arrays (lengths differ)."""
        per_frame = isinstance(self.task, (FrameClassification, CTCRecognition)) or (
            isinstance(self.task, Regression) and self.task.frame_level)
        if dataset is None:
            return [] if per_frame else np.zeros((len(ids), self._n_outputs))
        members = []
        for member in self.members:
            predicted = member.trainer.predict(dataset)
            order = {i: k for k, i in enumerate(predicted.ids)}
            members.append([predicted.scores[order[i]] for i in ids])
        mean = [np.mean(np.stack(item), axis=0) for item in zip(*members)]
        return mean if per_frame else np.stack(mean).reshape(len(ids), self._n_outputs)


def make_task(recipe: Recipe, labels: tuple[str, ...]) -> Task:
    """The training task a recipe names: its class set's classification, a regression of its
    targets with seed 004's CCC loss (per frame with a frame model), a class per frame, or CTC."""
    if recipe.task == "regression":
        return Regression(tuple(recipe.targets), loss_name="ccc", frame_level=is_frame_model(recipe.model))
    if recipe.task == "frame":  # labels: the training part's frame symbols
        if recipe.frame_target != "emotion":
            return FrameClassification(labels)
        # emotion frames: utterances are decided from their frames too
        return FrameClassification(labels, silence=SILENCE if recipe.silence else None, aggregate=recipe.aggregate)
    if recipe.task == "ctc":  # labels: the blank and the training part's characters
        return CTCRecognition(labels)
    return UtteranceClassification(labels)
