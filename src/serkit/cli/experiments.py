"""``serkit cv``, ``serkit grid``, ``serkit train`` and ``serkit compare``: the experiments, and the options they share."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from serkit.cli.cluster import ExecutorOpt, cv_executor
from serkit.cli.common import friendly_errors, out, stage_progress
from serkit.errors import SerkitError


def register(app: typer.Typer) -> None:
    """Add ``cv``, ``grid``, ``train`` and ``compare`` to ``app``."""
    app.command("cv")(cv)
    app.command("grid")(grid)
    app.command("train")(train)
    app.command("compare")(compare)


ConfigOpt = Annotated[Path | None, typer.Option("--config", help="Recipe YAML (see recipes/); options override it.")]
OptCorpus = Annotated[str | None, typer.Option("--corpus", "-c", help="Corpus reader name.")]
OptRoot = Annotated[Path | None, typer.Option("--root", "-r", help="Folder holding the corpus.")]
ClassesOpt = Annotated[str | None, typer.Option(help="Class set, e.g. 4class or emodb7.")]
ValidationOpt = Annotated[str | None, typer.Option(help="speakers | speakers:N | speakers-only:N (crossed folds: validation keeps the training sentences) | predefined | none.")]
ModelOpt = Annotated[
    str | None, typer.Option(help="cnn | blstm | cnn_blstm | cnn_tf_{gap,bilinear,attention} | svm | logistic | majority | random.")
]
FeaturesOpt = Annotated[str | None, typer.Option("--features", help="Feature preset (see `serkit kinds`).")]
NormOpt = Annotated[
    str | None, typer.Option(help="global | utterance | none | per-speaker, per-corpus (declared variants).")
]
EpochsOpt = Annotated[int | None, typer.Option(help="Training epochs (the best on validation is kept).")]
SeedOpt = Annotated[int | None, typer.Option(help="Seed of folds, initial weights, batches and augmentation.")]
WorkersOpt = Annotated[int | None, typer.Option(help="Feature extraction processes (default: every core).")]
ThreadsOpt = Annotated[int | None, typer.Option(help="Torch threads for training (default: torch's).")]
CacheOpt = Annotated[Path | None, typer.Option("--cache", help="Feature cache folder.")]
DeviceOpt = Annotated[str | None, typer.Option(help="auto | cpu | cuda: training (bf16 on cuda), Whisper; default cpu.")]


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """The options ``cv`` and ``train`` share: a recipe, what overrides it, and how to run.

    Each field's annotation is its command-line option; :func:`run_options` adds them all to
    a command, which receives them as one ``options`` argument.
    """

    config: ConfigOpt = None
    corpus: OptCorpus = None
    root: OptRoot = None
    classes: ClassesOpt = None
    validation: ValidationOpt = None
    model: ModelOpt = None
    features: FeaturesOpt = None
    normalisation: NormOpt = None
    epochs: EpochsOpt = None
    seed: SeedOpt = None
    workers: WorkersOpt = None
    threads: ThreadsOpt = None
    cache_dir: CacheOpt = None
    device: DeviceOpt = None

    def recipe(self, **more: Any) -> Any:
        """The recipe of ``--config`` (or the default one), with every option given overriding it."""
        from serkit.experiments import Recipe, load_recipe

        recipe = load_recipe(self.config) if self.config else Recipe()
        overrides = {name: getattr(self, name) for name in _RECIPE_OVERRIDES}
        from serkit.devices import use_device

        recipe = recipe.override(root=str(self.root) if self.root else None, **overrides, **more)
        return recipe if self.device is None else use_device(recipe, self.device)

    def cache(self) -> Any:
        from serkit.features.cache import FeatureCache

        return FeatureCache(self.cache_dir)


_RECIPE_OVERRIDES = ("corpus", "classes", "validation", "model", "features", "normalisation", "epochs", "seed")


def run_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``command`` with :class:`RunOptions`' fields as keyword options of its own, handed to it
    gathered as ``options`` (typer reads options from a function's signature, one by one)."""
    hints = typing.get_type_hints(RunOptions, include_extras=True)
    shared = [
        inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=hints[f.name])
        for f in dataclasses.fields(RunOptions)
    ]
    own_hints = typing.get_type_hints(command, include_extras=True)
    own = [p.replace(annotation=own_hints[p.name])
           for p in inspect.signature(command).parameters.values() if p.name != "options"]

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        options = RunOptions(**{p.name: kwargs.pop(p.name) for p in shared})
        return command(*args, options=options, **kwargs)

    run.__signature__ = inspect.Signature(own + shared)  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in own + shared}
    return run


@friendly_errors
@run_options
def cv(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Run folder; rerunning on it resumes fold by fold.")],
    protocol: Annotated[
        str | None,
        typer.Option(help="loso | speaker-kfold:K | random-kfold:K | loso-session | speaker-sentence:KxL | predefined"
                          " | loco | 'train:A,B test:C' (several corpora)."),
    ] = None,
    jobs: Annotated[
        int, typer.Option(help="Folds fitted at once, each in its own process (use --threads 1 with several).")
    ] = 1,
    executor: ExecutorOpt = "local",
    *,
    options: RunOptions,
) -> None:
    """Cross-validate a model on a corpus and write results.json, plots and report.md."""
    from serkit.experiments import run_cv

    recipe = options.recipe(protocol=protocol)
    with stage_progress() as progress:
        summary = run_cv(recipe, out_dir, cache=options.cache(), workers=options.workers,
                         executor=cv_executor(executor, jobs, recipe),
                         threads=options.threads, jobs=jobs, progress=progress)
    if summary is None:  # a torchrun process other than rank 0 (docs/cluster.md): rank 0 reports
        return
    out.print(f"[bold]{summary['model']} / {summary['features']}[/] on {summary['corpus']} {summary['class_set']}, "
              f"{summary['protocol']}: {_headline(summary)} over {len(summary['folds'])} folds", highlight=False)
    plots = "curves.png" if summary["confusion"] is None else "confusion.png, curves.png"
    out.print(f"wrote {out_dir / 'results.json'}, {plots}, report.md")


@friendly_errors
def grid(
    configs: Annotated[list[Path], typer.Argument(help="Recipe YAMLs; each is cross-validated as by `serkit cv`.")],
    out_root: Annotated[Path, typer.Option(
        "--out-root", "-o", help="Each recipe's run folder is OUT_ROOT/<recipe file name>; rerunning resumes.")],
    root: OptRoot = None,
    protocol: Annotated[str | None, typer.Option(help="Protocol of every recipe (default: each its own).")] = None,
    epochs: EpochsOpt = None,
    seed: SeedOpt = None,
    jobs: Annotated[int, typer.Option(
        help="(recipe, fold) pairs fitted at once, each in its own process (use --threads 1 with several).")] = 1,
    executor: ExecutorOpt = "local",
    workers: WorkersOpt = None,
    threads: ThreadsOpt = None,
    cache_dir: CacheOpt = None,
    device: DeviceOpt = None,
) -> None:
    """Cross-validate several recipes at once, every (recipe, fold) pair one task (docs/cluster.md)."""
    from serkit.experiments.grid import run_grid

    shared = RunOptions(root=root, epochs=epochs, seed=seed, workers=workers, threads=threads,
                        cache_dir=cache_dir, device=device)
    recipes = [dataclasses.replace(shared, config=config).recipe(protocol=protocol) for config in configs]
    runs = [(recipe, out_root / config.stem) for recipe, config in zip(recipes, configs)]
    with stage_progress() as progress:
        summaries = run_grid(runs, cache=shared.cache(), workers=workers, threads=threads, jobs=jobs,
                             executor=cv_executor(executor, jobs, *recipes), progress=progress)
    for (_, folder), summary in zip(runs, summaries):
        out.print(f"[bold]{folder.name}[/]: {summary['protocol']}, {_headline(summary)} over "
                  f"{len(summary['folds'])} folds", highlight=False)
    out.print(f"wrote results.json, plots and report.md in {len(runs)} run folders under {out_root}")


def _headline(summary: dict[str, Any]) -> str:
    pooled, mean = summary["pooled"], summary["mean"]
    if summary.get("task") == "ctc":
        return f"pooled CER {pooled['cer']:.3f} WER {pooled['wer']:.3f}; mean CER {mean['cer']:.3f}"
    if summary.get("task") == "frame" and "per" in pooled:
        return f"pooled FER {pooled['fer']:.3f} PER {pooled['per']:.3f}; mean FER {mean['fer']:.3f}"
    if summary.get("task") == "frame":  # emotion frames: the utterance decision leads, the frames follow
        return f"{_headline(summary['utterances'])} (utterances); pooled FER {pooled['fer']:.3f} (frames)"
    if summary.get("task") == "regression":
        figures = ", ".join(f"{t} {pooled[f'ccc_{t}']:.3f}" for t in summary["targets"])
        return f"pooled CCC {figures} (RMSE {pooled['rmse']:.3f}); mean CCC {mean['ccc']:.3f}"
    return (f"pooled UA {pooled['ua']:.3f} WA {pooled['wa']:.3f} F1 {pooled['f1']:.3f}; "
            f"mean UA {mean['ua']:.3f}")


@friendly_errors
@run_options
def train(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Model folder to write.")],
    cv_results: Annotated[
        Path | None, typer.Option("--cv-results", help="results.json of `serkit cv` with the same recipe, for the card.")
    ] = None,
    from_cv: Annotated[
        Path | None, typer.Option("--from-cv", help="Publish the model of this finished `serkit cv` run's only fold "
                                  "(a predefined split) instead of training again: its held-out figures are its own.")
    ] = None,
    *,
    options: RunOptions,
) -> None:
    """Train one model on a whole corpus (validation speakers choose the epoch) and write its card."""
    from serkit.experiments.publish import publish_fold_model
    from serkit.experiments.train import train_model

    recipe = options.recipe()
    if from_cv is not None:
        if cv_results is not None:
            raise SerkitError("--from-cv publishes a run's own model with its own results: drop --cv-results")
        card = publish_fold_model(recipe, from_cv, out_dir)
    else:
        with stage_progress() as progress:
            card = train_model(recipe, out_dir, cv_results=cv_results, cache=options.cache(),
                               workers=options.workers, threads=options.threads, progress=progress)
    if card is None:  # a torchrun process other than rank 0 (docs/cluster.md): rank 0 reports
        return
    training = card["training"]
    chosen = [f"epoch {training['chosen_epoch']}"] if "chosen_epoch" in training else []
    chosen += [f"{k} {'all' if v is None else v}" for k, v in training.get("chosen_on_validation", {}).items()]
    choice = f"chosen: {', '.join(chosen)}" if chosen else "nothing chosen: the recipe set every setting"
    out.print(f"wrote {out_dir}: model.safetensors, model.json, card.json, README.md "
              f"({card['size_bytes'] / 1e6:.2f} MB; {choice})")




@friendly_errors
def compare(
    runs: Annotated[list[Path], typer.Argument(
        help="The candidate's run folder(s): one `serkit cv` run, or the same recipe run with several seeds.")],
    against: Annotated[list[Path], typer.Option(
        "--against", help="The baseline's run folder(s); repeat the option for several seeds.")],
    figure: Annotated[str, typer.Option(
        help="ua | wa | f1 (pooled over the test utterances); fer, per, per_runs for frame runs "
             "(lower is better).")] = "ua",
    resamples: Annotated[int, typer.Option(help="Speaker resamples of the bootstrap.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Seed of the resamples.")] = 0,
    json_out: Annotated[Path | None, typer.Option("--out", help="Also write the comparison here (JSON).")] = None,
) -> None:
    """Whether one system beats another on the same test utterances: a paired speaker bootstrap."""
    from serkit.evaluation import BootstrapConfig
    from serkit.experiments.compare import compare_runs, write_comparison

    found = compare_runs(runs, against, figure, BootstrapConfig(n_resamples=resamples, seed=seed))
    name = figure.upper()
    low, high = found["ci95"]
    out.print(f"candidate {name} {100 * found['candidate']:.1f} ({len(runs)} run(s)) against baseline "
              f"{100 * found['baseline']:.1f} ({len(against)}): [bold]{100 * found['difference']:+.1f} points[/], "
              f"95% interval {100 * low:+.1f} to {100 * high:+.1f}; not better in {100 * found['p_not_better']:.1f}% "
              f"of {resamples} resamples of {found['n_speakers']} speakers ({found['n_utterances']} utterances, "
              f"{found['protocol']})", highlight=False)
    if json_out is not None:
        write_comparison(found, json_out)
        out.print(f"wrote {json_out}")
