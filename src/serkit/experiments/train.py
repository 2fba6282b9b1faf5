"""Train one model on a whole corpus, to use rather than to score, and write its card.

The validation part is held out by speaker (the recipe's validation
strategy) and chooses the epoch; there is no test part, so the figures on
the card come from cross-validating the same recipe (``serkit cv``), whose
``results.json`` the caller passes in.  Nothing on the card is measured on
data the model was trained or chosen on, except what is labelled validation.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from serkit import __version__
from serkit.artifacts import CARD, CvResults, read_model_info
from serkit.corpora.registry import semi_synthetic_sources, training_licences, weights_licence
from serkit.errors import SerkitError
from serkit.experiments.cv import Corpus, load_corpus
from serkit.experiments.extraction import corpus_features, training_copies
from serkit.experiments.fitters.transfer import check_init
from serkit.experiments.fold_data import FoldData, frame_targets, selected_feature, trace_grid
from serkit.experiments.recipe import Recipe
from serkit.experiments.report import init_lines
from serkit.experiments.search import fit_best
from serkit.features.cache import FeatureCache
from serkit.models.registry import is_frame_model
from serkit.outputs import LOCK, TEMPORARY_PREFIX, owned_folder
from serkit.progress import StageProgress, for_stage
from serkit.protocols import make_folds, with_training_share
from serkit.training import distributed
from serkit.outputs import atomic_write_text

#: ``serkit train --out M`` builds the model in ``M.partial``, then renames it to ``M``.
STAGING_SUFFIX = ".partial"


def train_model(
    recipe: Recipe,
    model_dir: str | Path,
    *,
    cv_results: str | Path | None = None,
    cache: FeatureCache | None = None,
    workers: int | None = None,
    threads: int | None = None,
    progress: StageProgress | None = None,
) -> dict[str, Any] | None:
    """Train ``recipe`` on its whole corpus into ``model_dir``; returns the model card.

    The model is built in ``MODEL_DIR.partial`` (locked, and resumed from there
    after a kill) and published by renaming that folder: ``model_dir`` never
    holds half a model.  An older model already there is replaced whole.

    Launched by torchrun, every process trains (:mod:`serkit.training.distributed`) and rank 0
    alone writes and returns the card; the others return None.
    """
    model_dir = Path(model_dir)
    if model_dir.exists() and not model_dir.is_dir():
        raise SerkitError(f"--out {model_dir}: a file is there, not a folder")
    if recipe.ensemble > 1:
        raise SerkitError(f"{recipe.name}: an ensemble of {recipe.ensemble} cannot be saved as one model; "
                          "train with ensemble: 1")
    crossval = _read_results(cv_results, recipe) if cv_results else None
    check_init(recipe, per_fold=False)
    if distributed.launched().active and recipe.classical:
        raise SerkitError(f"{recipe.name}: a classical model fits in one process; run serkit train without torchrun")
    with distributed.process_group(recipe.train.device) as world:
        if not world.main:  # trains along with rank 0, reading its checkpoints to resume; writes nothing
            return _train(recipe, staging_folder(model_dir), crossval, cache, workers, threads, None, world)
        with owned_folder(staging_folder(model_dir)) as staging:
            card = _train(recipe, staging, crossval, cache, workers, threads, progress, world)
            publish(staging, model_dir)
    return card


def staging_folder(model_dir: Path) -> Path:
    """Where a model is built before it is published as ``model_dir``."""
    model_dir = model_dir.resolve()
    return model_dir.with_name(model_dir.name + STAGING_SUFFIX)


def publish(staging: Path, model_dir: Path) -> None:
    """Rename ``staging`` to ``model_dir``; a folder already there is moved aside first, then removed."""
    (staging / LOCK).unlink(missing_ok=True)
    replaced = None
    if model_dir.exists():
        replaced = model_dir.with_name(f"{TEMPORARY_PREFIX}{model_dir.name}-replaced-{os.getpid()}")
        os.replace(model_dir, replaced)
    os.replace(staging, model_dir)
    if replaced is not None:
        shutil.rmtree(replaced, ignore_errors=True)


def _train(recipe: Recipe, model_dir: Path, crossval: CvResults | None, cache: FeatureCache | None,
           workers: int | None, threads: int | None, progress: StageProgress | None,
           world: distributed.World) -> dict[str, Any] | None:
    corpus = load_corpus(recipe)
    fold = with_training_share(corpus.table, make_folds(corpus.table, "all", recipe.validation, seed=recipe.seed,
                                                        hashes=corpus.hashes)[0], recipe.training_share, recipe.seed)
    # Under torchrun rank 0 extracts first and the others then read its cache: one barrier each, either side.
    if not world.main:
        distributed.barrier(world)
    features = corpus_features(recipe, corpus.table, cache, workers, progress)
    copies = training_copies(recipe, corpus.table, [fold], cache, workers, progress)
    if world.main:
        distributed.barrier(world)
    data = FoldData.from_fold(corpus.table, fold, features, corpus.labels, corpus.targets,
                              frames=frame_targets(recipe), transcripts=recipe.task == "ctc",
                              traces=trace_grid(recipe, corpus.table), copies=copies)
    search = fit_best(recipe, data.labels, data.train, data.validation, model_dir / "training",
                      threads=threads, progress=for_stage(progress, "training"))
    if not world.main:
        return None
    training = search.fitter.save(model_dir)
    chosen = {**search.chosen, **({"c": training.pop("c")} if "c" in training and training.get("chosen_by") != "recipe"
                                  else {})}
    if chosen:
        training["chosen_on_validation"] = chosen
    card = model_card(recipe, corpus, fold, training, crossval, model_dir)
    return write_card(card, search.fitter.recipe, model_dir)


def write_card(card: dict[str, Any], chosen: Recipe, model_dir: Path) -> dict[str, Any]:
    if chosen.layer is not None:
        layers = chosen.layer if isinstance(chosen.layer, int) else "+".join(map(str, chosen.layer))
        card["features"] = f"{chosen.features}, layer {layers}"
    atomic_write_text(model_dir / CARD, json.dumps(card, indent=2) + "\n")
    atomic_write_text(model_dir / "README.md", card_markdown(card))
    return card


def model_card(recipe: Recipe, corpus: Corpus, fold: Any, training: dict[str, Any], crossval: CvResults | None,
               model_dir: Path) -> dict:
    table = corpus.table
    licences = training_licences(table)
    card = {
        "serkit_version": __version__,
        "recipe": recipe.name,
        "model": recipe.model,
        "features": recipe.features,
        "normalisation": recipe.normalisation,
        "classes": list(corpus.labels),
        "class_set": recipe.classes if corpus.labels else None,  # a dimensional corpus has none
        "data": {
            "corpus": recipe.corpus,
            "utterances": len(table),
            "speakers": sorted(table["speaker"].unique().tolist()),
            "hours": round(float(table["duration"].sum()) / 3600, 3),
            "data_hash": corpus.data_hash,
            "validation_speakers": list(fold.speakers("validation")),
            "licences": licences,
        },
        "weights_licence": weights_licence(licences),
        "training": training,
        "cross_validation": None if crossval is None else {
            "protocol": crossval.protocol,
            "pooled": crossval.pooled,
            "mean": crossval.mean,
            "ci95": {k: crossval.ci95[k] for k in ("wa", "ua", "f1")} if recipe.task == "utterance"
            else dict(crossval.ci95),
            "config_hash": crossval.config_hash,
        },
        "size_bytes": (model_dir / "model.safetensors").stat().st_size,
        "config_hash": recipe.config_hash(),
    }
    if corpus.targets:  # a regression: what it predicts, and from whose ratings
        sources = table["dimension_source"].value_counts().to_dict()
        card |= {"task": "regression", "targets": list(corpus.targets), "target_sources": sources}
        if semi_synthetic_sources(table):  # the traces were made by serkit streams, not rated by people
            card["data"]["semi_synthetic_from"] = semi_synthetic_sources(table)
        if is_frame_model(recipe.model):  # a trace: a value per frame, at the feature's rate
            grid = selected_feature(recipe).grid
            card["frame_rate"] = grid.sample_rate / grid.hop
    if recipe.task == "frame":  # the model's classes are the training part's frame symbols
        card |= {"task": "frame", "frame_target": recipe.frame_target,
                 "frame_classes": list(read_model_info(model_dir).labels)}
    if recipe.task == "ctc":  # the blank and the training part's characters (experiments.ctc_targets)
        card |= {"task": "ctc", "characters": list(read_model_info(model_dir).labels)}
    return card


#: How a classical model's settings were chosen on its training data, as a card says it.
INNER_CV = {"inner-loso": "leave-one-speaker-out over its speakers",
            "inner-loco": "leave-one-corpus-out over its corpora"}


def card_markdown(card: dict[str, Any]) -> str:
    data, cv, training = card["data"], card["cross_validation"], card["training"]
    chosen = ", ".join(f"{k} {'all' if v is None else v}" for k, v in training.get("chosen_on_validation", {}).items())
    if training.get("chosen_by") in INNER_CV:
        how = f"{chosen or 'settings'} chosen by {INNER_CV[training['chosen_by']]}"
    elif training.get("chosen_by") == "recipe":  # a classical model with its cost set by the recipe
        how = f"c {training['c']} set by the recipe{', ' + chosen + ' chosen on validation' if chosen else ''}"
    else:  # a classical model's cost, and a neural model's epoch
        settings = [chosen] * bool(chosen) + ["epoch"] * ("fitted_by" not in training)
        how = f"{' and '.join(settings)} chosen on validation speakers {', '.join(data['validation_speakers'])}"
    lines = [
        f"# Model card: {card['recipe']}",
        "",
        f"- model: {card['model']} on {card['features']} (normalisation: {card['normalisation']})",
        _what_it_predicts(card),
        f"- trained on: {_training_data(data)}, {len(data['speakers'])} speakers ({data['hours']} h); {how}",
        f"- size: {card['size_bytes'] / 1e6:.2f} MB; serkit {card['serkit_version']}",
        *licence_lines(card),
        *init_lines(training.get("init")),
    ]
    if training.get("published_from"):
        lines.append(f"- published from {training['published_from']}: epoch {training['chosen_epoch']} of "
                     f"{training['epochs_run']} kept, {training['seconds'] / 3600:.2f} h of training")
    if data.get("test_speakers"):  # published from its own run's only fold: the figures are its own
        held_out = f"held out ({cv['protocol']}; this model on test speakers {', '.join(data['test_speakers'])})"
    else:
        held_out = f"cross-validated ({cv['protocol']})" if cv else ""
    if cv and card.get("task") == "ctc":
        lines.append(f"- {held_out}: pooled CER {cv['pooled']['cer']:.3f}, "
                     f"WER {cv['pooled']['wer']:.3f}; mean CER {cv['mean']['cer']:.3f}")
    elif cv and card.get("task") == "frame":
        lines.append(f"- {held_out}: pooled FER {cv['pooled']['fer']:.3f}, "
                     f"PER {cv['pooled']['per']:.3f}; mean FER {cv['mean']['fer']:.3f}")
    elif cv and card.get("task") == "regression":
        figures = ", ".join(f"{t} {cv['pooled'][f'ccc_{t}']:.3f}" for t in card["targets"])
        lines.append(f"- {held_out}: pooled CCC {figures}; RMSE {cv['pooled']['rmse']:.3f}")
    elif cv:
        lines.append(
            f"- {held_out}: pooled UA {cv['pooled']['ua']:.3f}, WA {cv['pooled']['wa']:.3f}, "
            f"F1 {cv['pooled']['f1']:.3f} (UA 95% CI {cv['ci95']['ua'][0]:.3f}-{cv['ci95']['ua'][1]:.3f})"
        )
    else:
        lines.append("- cross-validated figures: none given (run `serkit cv` with the same recipe)")
    speed = card.get("speed")
    if speed:
        lines.append(f"- speed: {speed['x_real_time']}x real time one file at a time, "
                     f"{speed['x_real_time_batched']}x batched, median {speed['median_latency_s']} s per file "
                     f"({speed['files']} EMO-DB files; {speed['cpu']}; `{speed['command']}`)")
    if card.get("use"):  # what a person added: how the model is meant to be run
        lines.append(f"- use: {card['use']}")
    if card.get("notes"):  # what a person added: why this model, what it is not
        lines += ["", "## Notes", "", *(f"- {note}" for note in card["notes"])]
    return "\n".join(lines) + "\n"


def _what_it_predicts(card: dict[str, Any]) -> str:
    if card.get("task") == "ctc":
        shown = " ".join(repr(c) if c == " " else c for c in card["characters"])
        return (f"- transcribes characters by CTC, greedy decoding ({len(card['characters'])} classes, the blank "
                f"first: {shown})")
    if card.get("task") == "frame":
        return (f"- predicts a class per frame, {card['frame_target']} ({len(card['frame_classes'])} classes: "
                f"{' '.join(card['frame_classes'])}); utterances of the classes ({card['class_set']}): "
                f"{', '.join(card['classes'])}")
    if card.get("task") == "regression" and card.get("frame_rate"):  # learnt from the corpus's traces
        return (f"- predicts {', '.join(card['targets'])} on [-1, 1] every {1000 / card['frame_rate']:g} ms of a "
                f"recording (a trace)")
    if card.get("task") == "regression":
        sources = ", ".join(f"{n} from {s}" for s, n in card["target_sources"].items())
        return (f"- predicts {', '.join(card['targets'])} per utterance on [-1, 1] ({sources}); utterances of "
                f"the classes ({card['class_set']}): {', '.join(card['classes'])}")
    return f"- classes ({card['class_set']}): {', '.join(card['classes'])}"


def _training_data(data: dict[str, Any]) -> str:
    if data.get("semi_synthetic_from"):  # say what the traces are wherever the model is described
        return (f"the semi-synthetic continuous test bed `serkit streams` made from "
                f"{', '.join(data['semi_synthetic_from'])} (traces generated from the utterances' labels, not "
                f"rated by people): {data['utterances']} recordings")
    return f"{data['corpus']}, {data['utterances']} utterances"


def licence_lines(card: dict[str, Any]) -> list[str]:
    """The training corpora's terms and what they leave for the weights (cards before 0.1 lack them)."""
    licences = card["data"].get("licences")
    if licences is None:
        return []
    terms = "; ".join(f"{name}: {licence or 'no licence stated'}" for name, licence in licences.items())
    return [f"- training data's terms: {terms}", f"- weights' licence: {card['weights_licence']}"]


def _read_results(path: str | Path, recipe: Recipe) -> CvResults:
    results = CvResults.read(path)
    if results.config_hash != recipe.config_hash():
        raise SerkitError(
            f"{path} cross-validated another configuration ({results.config_hash}, "
            f"this recipe is {recipe.config_hash()}): its figures would not describe this model"
        )
    return results
