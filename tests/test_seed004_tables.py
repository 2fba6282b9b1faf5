"""Seed 004's Tables 1 and 2 (benchmarks/seed004_table.py) from a runs folder written through
serkit.artifacts' schema, and their place in benchmarks/results_table.py."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from serkit.artifacts import CvResults
from serkit.devices import GPU_MACHINE, gpu_machines, machine_name

REPO = Path(__file__).resolve().parents[1]
sys.path.append(str(REPO / "benchmarks"))  # the benchmark scripts import each other by name

from seed004_table import DATA, command, seed004_lines  # noqa: E402


def write_run(runs: Path, name: str, target: str, folds: list[dict], pooled: float, mean: float,
              std: float | None, seconds: float = 90.0, machines: list[str] | None = None) -> None:
    """A regression run's results.json as serkit cv writes it (the figures given, the rest plausible)."""
    figures = lambda ccc, rmse: {f"ccc_{target}": ccc, f"rmse_{target}": rmse, "ccc": ccc, "rmse": rmse}  # noqa: E731
    result = CvResults(
        recipe=name, reproduces="seed 004 (Khorram et al. 2017)", corpus="recola", classes=[], class_set="4class",
        protocol="speaker-kfold:5" if name.endswith("-kfold5") else "predefined", speaker_dependent=False,
        validation="predefined", model="dilated", features="fbank-seed004", normalisation="global",
        n_utterances=5, labels=[target], folds=folds, mean=figures(mean, 0.3),
        std={f"ccc_{target}": std, f"rmse_{target}": None, "ccc": std, "rmse": None},
        pooled=figures(pooled, 0.25), ci95={}, confusion=None, class_rule="per target", validation_ua=None,
        config_hash="0" * 16, data_hash="0" * 16, seconds=seconds, config={}, task="regression",
        targets=[target], machines=machines)
    folder = runs / "seed004" / name
    folder.mkdir(parents=True)
    result.write(folder)


def fold(target: str, dev_ccc: float | None = None, dev_rmse: float | None = None) -> dict:
    row = {"name": "test partition", "test_speakers": ["emodb_13", "emodb_15"], "n_test": 11046,
           f"ccc_{target}": 0.8, f"rmse_{target}": 0.3}
    if dev_ccc is not None:
        row["validation_figures"] = {f"ccc_{target}": dev_ccc, f"rmse_{target}": dev_rmse}
    return row


def row(lines: list[str], table: int, recipe: str) -> str:
    """The row of ``recipe`` in Table ``table`` (1: arousal, 2: valence)."""
    start = next(i for i, line in enumerate(lines) if line.startswith(f"**Table {table},"))
    found = [line for line in lines[start:] if line.startswith("| ") and f"`{recipe}`" in line]
    assert found, f"no row for {recipe} in Table {table}"
    return found[0]


def cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip("|").split("|")]


def test_rows_not_run_say_so_with_their_command(tmp_path):
    lines = seed004_lines(tmp_path / "runs")
    assert lines[0].startswith("## Seed 004")
    assert sum(DATA in line for line in lines if line.startswith("**Table")) == 2
    for table, target in ((1, "arousal"), (2, "valence")):
        for method in ("blstm", "dilated", "updown"):
            name = f"seed004-{method}-{target}"
            line = row(lines, table, name)
            assert f"not run: `{command(name)}`" in line
            assert f"not run: `{command(name + '-kfold5')}`" in line
        assert "not run" in row(lines, table, f"seed004-updown-{target}-speaker-znorm")
    assert command("seed004-dilated-arousal") == (
        "serkit cv --config recipes/seed004/seed004-dilated-arousal.yaml --root /work/streams/emodb "
        "--out runs/seed004/seed004-dilated-arousal --threads 1")


def test_the_papers_figures_stand_beside_each_method():
    lines = seed004_lines(Path("/nonexistent"))
    assert cells(row(lines, 1, "seed004-updown-arousal"))[-4:] == [".100", ".867", ".137", ".681"]
    assert cells(row(lines, 2, "seed004-blstm-valence"))[-4:] == [".113", ".518", ".116", ".499"]
    assert cells(row(lines, 2, "seed004-dilated-valence-speaker-znorm"))[-4:] == [".117", ".538", ".121", ".486"]


def test_a_fixed_split_run_gives_development_and_test_figures(tmp_path):
    runs = tmp_path / "runs"
    write_run(runs, "seed004-dilated-arousal", "arousal", [fold("arousal", 0.704, 0.341)],
              pooled=0.8022, mean=0.8022, std=None, seconds=90)
    write_run(runs, "seed004-dilated-arousal-kfold5", "arousal", [fold("arousal")] * 5,
              pooled=0.75, mean=0.76, std=0.05, seconds=450)
    lines = seed004_lines(runs)
    c = cells(row(lines, 1, "seed004-dilated-arousal"))
    assert c[2:8] == ["0.341", "0.704", "0.250", "**0.802**", "0.750 (0.760 ± 0.050)", "9.0"]  # 90 s + 450 s
    # the valence table does not read the arousal runs
    assert "not run" in row(lines, 2, "seed004-dilated-valence")


def test_minutes_on_a_gpu_name_it_and_the_cpu_stays_unnamed(tmp_path):
    runs = tmp_path / "runs"
    cpu = "AMD EPYC (torch 2.13.0+cpu)"
    write_run(runs, "seed004-dilated-arousal", "arousal", [fold("arousal")], pooled=0.8, mean=0.8, std=None,
              seconds=60, machines=[cpu])
    write_run(runs, "seed004-dilated-arousal-kfold5", "arousal", [fold("arousal")] * 5, pooled=0.75, mean=0.76,
              std=0.05, seconds=30, machines=[f"{GPU_MACHINE}NVIDIA H100 80GB HBM3 (torch 2.13.0)"])
    assert cells(row(seed004_lines(runs), 1, "seed004-dilated-arousal"))[7] == "1.5 on NVIDIA H100 80GB HBM3 (torch 2.13.0)"
    write_run(runs, "seed004-dilated-valence", "valence", [fold("valence")], pooled=0.5, mean=0.5, std=None,
              seconds=60, machines=[cpu])
    assert cells(row(seed004_lines(runs), 2, "seed004-dilated-valence"))[7] == "1.0"
    assert gpu_machines([cpu, machine_name("cpu")]) == [] and machine_name("cpu").endswith(f"(torch {torch.__version__})")


def test_a_run_without_development_figures_shows_a_dash(tmp_path):
    runs = tmp_path / "runs"
    write_run(runs, "seed004-updown-valence-speaker-znorm", "valence", [fold("valence")],
              pooled=0.5, mean=0.5, std=None, seconds=60)
    c = cells(row(seed004_lines(runs), 2, "seed004-updown-valence-speaker-znorm"))
    assert c[2:8] == ["-", "-", "0.250", "**0.500**", "-", "1.0"]


def test_results_table_writes_the_seed004_section_and_readme(tmp_path):
    import results_table

    assert "seed004" in results_table.GROUPS
    readme = results_table.group_readme(tmp_path / "runs", "seed004")
    assert "# recipes/seed004:" in readme and "## Seed 004" in readme and "**Table 2, valence**" in readme
    assert "| recipe | protocol | classes |" not in readme  # not the utterance table
