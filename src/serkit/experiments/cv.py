"""Cross-validation of a recipe, fold by fold, resumable, with honest bookkeeping.

:func:`run_cv` reads the corpus, selects the class set, builds the folds (each
checked by the leakage guard), extracts features once for all files (cached),
and for each fold fits on the training part, chooses on the validation part
only, and predicts the test part.  A finished fold is written to
``DIR/folds/NN/predictions.json`` and skipped when the run is repeated; an
unfinished one resumes from its last training checkpoint.  The test part is
used for one thing: the predictions that the fold reports.

``DIR/results.json`` then holds the per-fold, mean, pooled and bootstrap
figures (:func:`serkit.evaluation.summarise_folds`), the protocol with any
declared variant, and hashes of the configuration and of the data.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from serkit.artifacts import CvResults, FoldResult
from serkit.corpora import class_set, read_corpus, select_classes
from serkit.corpora.dimensions import dimensional_targets
from serkit.corpora.multi import check_classes_in_every_corpus, read_corpora
from serkit.devices import machine_name
from serkit.errors import SerkitError
from serkit.evaluation import FoldPredictions, summarise_folds
from serkit.experiments.ctc_results import ctc_predictions, fold_cer, summarise_ctc
from serkit.experiments.ctc_targets import check_transcripts
from serkit.experiments.fitters.transfer import check_init, fold_init, is_cv_run
from serkit.experiments.extraction import corpus_features, training_copies
from serkit.experiments.fold_data import FoldData, frame_targets, target_column, trace_grid
from serkit.experiments.frame_results import fold_fer, frame_predictions, summarise_frames, summarise_utterances
from serkit.experiments.frame_targets import check_alignments
from serkit.experiments.ctc_decoder import decode_texts
from serkit.experiments.executors import LocalExecutor, RayExecutor
from serkit.experiments.phone_decoder import decode_phones
from serkit.experiments.recipe import Recipe
from serkit.experiments.regression_results import compared_rows, regression_predictions, summarise_regression
from serkit.experiments.search import fit_best
from serkit.features.cache import FeatureCache
from serkit.features.extract import available_cores
from serkit.outputs import atomic_write_text, owned_folder
from serkit.progress import Progress, StageProgress
from serkit.protocols import Fold, audio_hashes, make_folds, with_training_share
from serkit.training import distributed

log = logging.getLogger(__name__)

#: What a run records on its first start and keeps when it resumes.
RUN_RECORD = "run.json"


@dataclasses.dataclass(frozen=True)
class Corpus:
    """A corpus table restricted to a class set, with its label order and content hashes, and
    the regression targets' names (their values in the table's ``target_NAME`` columns)."""

    table: pd.DataFrame
    labels: tuple[str, ...]
    hashes: np.ndarray
    targets: tuple[str, ...] = ()

    @property
    def data_hash(self) -> str:
        """Identifies the exact audio and labels used (order-independent)."""
        rows = sorted(f"{h} {label}" for h, label in zip(self.hashes, self.table["label"]))
        return hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16]


def load_corpus(recipe: Recipe, skip_bad: bool = False) -> Corpus:
    # without a root the reader looks under $SERKIT_CORPORA (and says so when it is unset)
    if len(recipe.corpora) == 1:
        table = read_corpus(recipe.corpus, recipe.corpus_root(recipe.corpus), skip_bad=skip_bad)
    else:  # one table, speakers and sentences made unique per corpus
        table = read_corpora(recipe.corpora, {c: recipe.corpus_root(c) for c in recipe.corpora}, skip_bad=skip_bad)
    # a dimensional corpus (RECOLA): its ratings are the targets, there are no classes to select
    dimensional = recipe.task == "regression" and not table["label"].notna().any()
    if recipe.task == "ctc":  # every utterance with a transcript; fails now, before any feature
        check_transcripts(table, recipe.corpus)
    elif not dimensional:
        table = select_classes(table, recipe.classes)
        if len(recipe.corpora) > 1:
            check_classes_in_every_corpus(table, class_set(recipe.classes), recipe.classes)
    table = table.reset_index(drop=True)
    if recipe.task == "regression":
        # the corpus's own ratings where it has them, else each label's place (labels.yaml)
        values = dimensional_targets(table)
        table = table.assign(**{target_column(t): values[t].to_numpy() for t in recipe.targets},
                             dimension_source=values["dimension_source"].to_numpy())
    if recipe.task == "frame" and recipe.frame_target == "phones":  # fails now, before any feature is extracted
        check_alignments(table, recipe.corpus, recipe.frame_target, recipe.phone_set)
    # ctc: characters, per fold; a dimensional corpus has no classes
    labels = () if recipe.task == "ctc" or dimensional else tuple(class_set(recipe.classes))
    return Corpus(table, labels, audio_hashes(table), recipe.targets)


def run_cv(
    recipe: Recipe,
    out_dir: str | Path,
    *,
    cache: FeatureCache | None = None,
    workers: int | None = None,
    threads: int | None = None,
    jobs: int = 1,
    progress: StageProgress | None = None,
    executor: LocalExecutor | RayExecutor | None = None,
) -> dict[str, Any] | None:
    """Cross-validate ``recipe`` into ``out_dir`` (resuming what is there); returns results.json's dict
    (None on a torchrun process other than rank 0).

    ``jobs`` > 1 fits that many folds at once, each in its own process with
    ``threads`` torch threads (by default the cores shared out among the
    jobs).  Every fold is seeded on its own and resumes on its own, so for a
    given thread count the figures do not depend on ``jobs``.  The thread
    count a run starts with is recorded in ``run.json`` and kept when it
    resumes: another count would change the weights by float rounding.
    ``executor`` (:mod:`serkit.experiments.executors`; default: this machine,
    ``jobs`` folds at once) extracts the features and fits the folds, Ray's
    each fold as a task, with the same figures.

    The folder is checked before any work and locked while the run writes
    there: a second process on it is refused.  Under torchrun every process
    fits each fold together (:mod:`serkit.experiments.cv_ranks`).
    """
    if distributed.launched().active:  # torchrun: every process fits each fold, together
        from serkit.experiments.cv_ranks import run_cv_on_ranks

        return run_cv_on_ranks(recipe, out_dir, cache=cache, workers=workers, threads=threads, jobs=jobs,
                               executor=executor, progress=progress)
    executor = executor or LocalExecutor(jobs)
    with owned_folder(out_dir) as folder, executor:
        run = prepare_cv(recipe, folder, cache=cache, workers=workers, threads=threads, executor=executor,
                         progress=progress)
        executor.fit(run.job, run.pending, progress)
        return finish_cv(run)


@dataclasses.dataclass(frozen=True)
class PreparedRun:
    """A run folder's cross-validation with its features at hand: the job that fits a fold, every
    fold, and those still to fit."""

    job: CvFoldJob
    folds: list[Fold]
    pending: list[Fold]


def prepare_cv(recipe: Recipe, folder: Path, *, cache: FeatureCache | None, workers: int | None,
               threads: int | None, executor: LocalExecutor | RayExecutor,
               progress: StageProgress | None, check_base: bool = True) -> PreparedRun:
    """Everything of a run but its folds' fits, in ``folder`` (owned by the caller): the corpus, the
    folds, the recorded thread count and the features, extracted by ``executor``.  ``check_base``
    False leaves the ``init`` model unread: a grid's base run that has not run yet."""
    _claim(folder, recipe, write=False)
    if check_base:
        check_init(recipe, per_fold=True)
    corpus = load_corpus(recipe)
    folds = run_folds(recipe, corpus)
    # claimed only once the corpus has been read and split: a recipe that fails there leaves
    # the folder free for the corrected one
    _claim(folder, recipe)
    threads = _run_threads(folder, threads, executor.folds_at_once)
    features = corpus_features(recipe, corpus.table, cache, workers, progress, executor)
    pending = [fold for fold in folds if not _predictions(folder, fold).exists()]
    copies = training_copies(recipe, corpus.table, pending, cache, workers, progress, executor)
    return PreparedRun(CvFoldJob(recipe, corpus, features, folder, threads, copies), folds, pending)


def run_folds(recipe: Recipe, corpus: Corpus) -> list[Fold]:
    """The recipe's folds of ``corpus`` (only ``recipe.folds`` where it names some), each training
    part cut to the recipe's training share."""
    folds = make_folds(corpus.table, recipe.protocol, recipe.validation, seed=recipe.seed, hashes=corpus.hashes)
    missing = sorted(set(recipe.folds) - {fold.index for fold in folds})
    if missing:
        raise SerkitError(f"folds: {recipe.protocol} has folds 0..{len(folds) - 1}, not {missing}")
    return [with_training_share(corpus.table, fold, recipe.training_share, recipe.seed)
            for fold in folds if not recipe.folds or fold.index in recipe.folds]


def finish_cv(run: PreparedRun) -> dict[str, Any]:
    """results.json, plots and report.md of a run whose folds are all fitted; returns results.json's dict."""
    job = run.job
    results = [FoldResult.read(_predictions(job.out_dir, fold)) for fold in run.folds]
    summary = summarise(job.recipe, job.corpus, run.folds, results, job.threads)
    summary.write(job.out_dir)
    from serkit.experiments.report import write_report

    write_report(job.out_dir, summary, results)
    return summary.to_dict()


def _run_threads(out_dir: Path, requested: int | None, jobs: int | None) -> int:
    """The torch threads per fold: as recorded by the run's first start, else requested, else cores / jobs
    (one where ``jobs`` is None: Ray places the folds)."""
    record = out_dir / RUN_RECORD
    if record.exists():
        recorded = int(json.loads(record.read_text())["threads"])
        if requested is not None and requested != recorded:
            raise SerkitError(
                f"{out_dir} was started with --threads {recorded}; its folds resume with that count "
                f"(another would change the weights): drop --threads {requested}, or use a new --out"
            )
        if jobs is not None and recorded * max(1, jobs) > available_cores():
            log.warning("%s: resuming with its recorded %d threads per fold on %d jobs (more than the %d cores)",
                        out_dir, recorded, jobs, available_cores())
        return recorded
    if requested is not None:
        threads = requested
    else:
        threads = 1 if jobs is None else max(1, available_cores() // max(1, jobs))
    atomic_write_text(record, json.dumps({"threads": threads}) + "\n")
    return threads


def _predictions(out_dir: Path, fold: Fold) -> Path:
    return out_dir / "folds" / f"{fold.index:02d}" / "predictions.json"


@dataclasses.dataclass
class CvFoldJob:
    """Everything a fold's fit needs, sent once to each worker process."""

    recipe: Recipe
    corpus: Corpus
    #: the arrays, or (on Ray) a mapping that reads them from the shared cache
    features: Mapping[str, np.ndarray]
    out_dir: Path
    threads: int | None
    #: each augmented copy's features of the training rows (``train.waveform_augment.copies``)
    copies: list[Mapping[str, np.ndarray]] = dataclasses.field(default_factory=list)

    def folder(self, fold: Fold) -> Path:
        return self.out_dir / "folds" / f"{fold.index:02d}"

    def predictions(self, fold: Fold) -> Path:
        return _predictions(self.out_dir, fold)

    def fit(self, fold: Fold, report: Progress | None = None) -> None:
        """Fit, choose and predict one fold; its predictions.json is written atomically."""
        data = FoldData.from_fold(self.corpus.table, fold, self.features, self.corpus.labels, self.corpus.targets,
                                  frames=frame_targets(self.recipe), transcripts=self.recipe.task == "ctc",
                                  traces=trace_grid(self.recipe, self.corpus.table), copies=self.copies)
        started, cpu_started = time.perf_counter(), time.process_time()
        recipe = self.recipe
        if recipe.init is not None and is_cv_run(recipe.init):  # this fold's base model
            recipe = dataclasses.replace(recipe, init=fold_init(recipe.init, fold))
        search = fit_best(recipe, data.labels, data.train, data.validation,
                          self.folder(fold), threads=self.threads, progress=report)
        if not distributed.current().main:  # a torchrun rank that trained along: rank 0 predicts and writes
            return
        test_scores = search.fitter.predict(data.test)
        outcome = {**fold_predictions(data, test_scores, self.recipe), **search.record()}
        if self.recipe.frame_target == "phones":  # the fold's decoder, chosen on validation
            sentences = dict(zip(self.corpus.table["path"], self.corpus.table.get("text", self.corpus.table["path"])))
            validation_scores = search.fitter.predict(data.validation) if len(data.validation) else []
            outcome |= decode_phones(data, sentences, validation_scores, test_scores)
        if self.recipe.decoder == "beam":  # the beam search's row, its settings chosen on validation
            validation_scores = search.fitter.predict(data.validation) if len(data.validation) else []
            outcome |= decode_texts(data, validation_scores, test_scores)
        # A fit resumed after a kill counts its earlier calls too (up to their last checkpoint).
        members = outcome.get("members", [])
        earlier = sum(member.get("earlier_seconds", 0.0) for member in members)
        earlier_cpu = sum(member.get("earlier_cpu_seconds", 0.0) for member in members)
        result = FoldResult.from_dict({"fold": fold.to_dict(), **outcome,
                                       "seconds": time.perf_counter() - started + earlier,
                                       "cpu_seconds": time.process_time() - cpu_started + earlier_cpu,
                                       "machine": machine_name(self.recipe.train.device)}, fold.name)
        result.write(_predictions(self.out_dir, fold))
        log.info("fold %s: %s", fold.name, _fold_figure(result, self.corpus, self.recipe.task))


def fold_predictions(data: FoldData, scores: np.ndarray, recipe: Recipe) -> dict[str, Any]:
    """The test part's references and predictions, as a fold's predictions.json holds them
    (labels, a regression's values per target, or symbols per frame)."""
    if data.test.frames is not None:
        return frame_predictions(data, scores, utterances=recipe.frame_target == "emotion")
    if data.test.transcripts is not None:
        return ctc_predictions(data, scores)
    if data.targets:
        return regression_predictions(data, scores)
    y_true, y_pred = data.test.labels, np.asarray(data.labels)[np.argmax(scores, axis=1)].tolist()
    return {"ids": data.test.ids, "speakers": data.test.speakers, "y_true": y_true, "y_pred": y_pred,
            "scores": np.round(scores, 6).tolist()}


def summarise(recipe: Recipe, corpus: Corpus, folds: Sequence[Fold], results: Sequence[FoldResult],
              threads: int | None = None) -> CvResults:
    """results.json: figures over folds plus everything needed to trust and reproduce them."""
    if recipe.task == "frame":
        figures = summarise_frames(results, phones=recipe.frame_target == "phones")
        figures["utterances"] = summarise_utterances(results, recipe.aggregate)
        chosen_on, chosen_key = [r.validation_frame_ua for r in results], "validation_frame_ua"
    elif recipe.task == "ctc":
        figures = summarise_ctc(results)
        chosen_on, chosen_key = [r.validation_cer for r in results], "validation_cer"
    elif corpus.targets:
        figures = summarise_regression(corpus.targets, results)
        chosen_on, chosen_key = [r.validation_ccc for r in results], "validation_ccc"
    else:
        predictions = [FoldPredictions(r.y_true, r.y_pred, r.speakers, name=r.fold["name"]) for r in results]
        figures = summarise_folds(predictions, labels=list(corpus.labels))
        chosen_on, chosen_key = [r.validation_ua for r in results], "validation_ua"
    first = folds[0]
    protocol = first.protocol + (f" + {recipe.variant}" if recipe.variant else "")
    several = corpus.table["corpus"].nunique() > 1
    for row, result, validation, fold in zip(figures["folds"], results, chosen_on, folds):
        if several:  # a figure of several corpora says which corpora it tested, under which protocol
            row["test_corpora"] = sorted(set(corpus.table["corpus"].iloc[list(fold.test)]))
            row["protocol"] = protocol
        row["chosen_epoch"] = result.chosen_epoch
        row["selection"] = result.selection
        row[chosen_key] = validation
        if result.validation_figures is not None:  # a regression's development figures, as seed 004 reports
            row["validation_figures"] = result.validation_figures
        if result.search:  # what this fold chose on its training side
            row["chosen"] = result.search["chosen"]
    # What configurations may be compared on: never the test figures.
    chosen = None if None in chosen_on else float(np.mean(chosen_on))
    summary = {
        "recipe": recipe.name,
        "reproduces": recipe.reproduces,
        "corpus": recipe.corpus,
        "classes": list(corpus.labels),
        "class_set": recipe.classes,
        "protocol": protocol,
        "speaker_dependent": first.speaker_dependent,
        "validation": first.validation_strategy,
        "model": recipe.model,
        "features": recipe.features,
        "normalisation": str(recipe.normalisation),
        "n_utterances": int(sum(len(r.y_true) for r in results)),
        **figures,
        "validation_ua": chosen if chosen_key == "validation_ua" else None,
        **_task_fields(recipe, chosen_key, chosen),
        "config_hash": recipe.config_hash(),
        "data_hash": corpus.data_hash,
        "seconds": float(sum(r.seconds for r in results)),
        "cpu_seconds": None if any(r.cpu_seconds is None for r in results) else sum(r.cpu_seconds for r in results),
        "machines": None if any(r.machine is None for r in results) else sorted({r.machine for r in results}),
        "config": recipe.to_dict(),
        "threads": threads,
    }
    # through JSON, so that what is returned is exactly what is written (plain types, no numpy)
    return CvResults.from_dict(json.loads(json.dumps(summary)), "results.json")


def _task_fields(recipe: Recipe, chosen_key: str, chosen: float | None) -> dict[str, Any]:
    """results.json's fields of a regression or frame task (an utterance task has none)."""
    if recipe.task == "regression":
        return {"task": "regression", "targets": list(recipe.targets), chosen_key: chosen}
    if recipe.task == "frame":
        return {"task": "frame", "frame_target": recipe.frame_target, chosen_key: chosen}
    if recipe.task == "ctc":
        return {"task": "ctc", chosen_key: chosen}
    return {}


def _claim(out_dir: Path, recipe: Recipe, write: bool = True) -> None:
    """Refuse to mix two configurations in one output folder (that would corrupt a resume); with
    ``write``, mark the folder as this configuration's."""
    marker = out_dir / "recipe.json"
    if marker.exists():
        previous = json.loads(marker.read_text())
        if previous.get("config_hash") != recipe.config_hash():
            raise SerkitError(
                f"{out_dir} holds a run of another configuration ({previous.get('config_hash')}); "
                "use a new --out folder"
            )
        return
    if write:
        atomic_write_text(marker, json.dumps({"config_hash": recipe.config_hash(), **recipe.to_dict()}, indent=2))


def _fold_figure(result: FoldResult, corpus: Corpus, task: str) -> str:
    """A fold's headline test figure, for the log."""
    from serkit.evaluation import concordance_correlation, unweighted_average_recall

    if task == "frame":
        return fold_fer(result)
    if task == "ctc":
        return fold_cer(result)
    if corpus.targets:
        true, pred, _ = compared_rows(result, len(corpus.targets))
        return ", ".join(f"test CCC {name} {concordance_correlation(true[:, d], pred[:, d]):.3f}"
                         for d, name in enumerate(corpus.targets))
    return f"test UA {unweighted_average_recall(result.y_true, result.y_pred, labels=list(corpus.labels)):.3f}"
