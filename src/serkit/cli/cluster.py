"""``--executor``: the option of ``serkit cv`` and ``serkit features``, and features on Ray (docs/cluster.md)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from serkit.cli.common import out, progress_bar
from serkit.errors import SerkitError

ExecutorOpt = Annotated[str, typer.Option(
    "--executor", help="local (this machine) | ray (a Ray instance started here, --workers/--jobs its CPUs) "
                       "| ray://HOST:PORT (an existing Ray cluster; docs/cluster.md).")]


def features_on_ray(preset: Any, files: list[str], executor: str, cache: Any, workers: int | None,
                    skip_bad: bool, out_dir: Path | None) -> list[dict[str, str]]:
    """``serkit features --executor ray``: the arrays into the (shared) cache, and their index; returns
    the files skipped, with their reasons."""
    from serkit.cluster import Executor, import_ray
    from serkit.features.sharded import extract_on_ray

    spec = Executor.parse(executor)
    import_ray()  # says how to install it before any work
    if cache is None:
        raise SerkitError("--executor ray writes the features into the cache, which every worker reads: "
                          "drop --no-cache")
    with progress_bar(f"{preset.name} on ray") as progress:
        result = extract_on_ray(preset.feature, files, cache, address=spec.address, num_cpus=workers,
                                skip_bad=skip_bad, progress=progress)
    table = Table("kind", "files", "computed", "cached", "failed", "seconds")
    table.add_row(preset.name, str(len(result.files)), str(result.computed), str(result.cached),
                  str(len(result.errors)), f"{result.wall_seconds:.1f}")
    out.print(table)
    out.print(f"index: {result.index_path}", highlight=False)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(result.index_path, out_dir / "index.json")
        out.print(f"wrote {out_dir / 'index.json'}", highlight=False)
    return [{"path": path, "reason": reason} for path, reason in result.errors]


def cv_executor(executor: str, jobs: int, *recipes: Any) -> Any:
    """``serkit cv``'s and ``serkit grid``'s executor (:func:`serkit.experiments.executors.make_executor`):
    on Ray, a fold asks for a GPU where a recipe trains on ``cuda`` (``--device``)."""
    from serkit.experiments.executors import make_executor

    cuda = any(getattr(recipe.train, "device", "cpu") == "cuda" for recipe in recipes)
    return make_executor(executor, jobs, gpus=1 if cuda else 0)
