"""Several corpora in one recipe: one table, cross-corpus protocols (loco, train:A,B test:C),
corpus-balanced sampling and the declared per-corpus normalisation.

Tiny EMO-DB-, nEMO- and ASED-shaped trees of noise written here (each corpus at its own gain,
each class at its own loudness) run the protocols end to end; the real corpora, where present,
check the folds of the three together (skipped, saying why, where they are absent)."""

from __future__ import annotations

import json
import logging
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from conftest import GAIN, corpora_folder, write_tiny_corpora
from serkit.corpora import class_set, make_table, read_corpus, select_classes
from serkit.corpora.multi import check_classes_in_every_corpus, combine_tables, read_corpora
from serkit.errors import ConfigError, CorpusError, LeakageError, SerkitError
from serkit.experiments import Recipe, run_cv
from serkit.experiments.cv import load_corpus
from serkit.features.cache import FeatureCache
from serkit.features.normalise import CorpusNormaliser
from serkit.protocols import make_folds, protocol_from_spec
from serkit.training.sampler import EpochSampler, balanced_draw

@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, str]:
    return write_tiny_corpora(tmp_path_factory.mktemp("corpora"))


def tiny_recipe(roots: dict[str, str], **values) -> Recipe:
    settings = {"corpus": list(roots), "roots": roots, "protocol": "loco", "validation": "speakers:1",
                "features": "logmel-seed000", "model": "logistic", "model_options": {"pooling": "mean"},
                "normalisation": "none"}
    return Recipe.from_dict({**settings, **values})


# -- one table of several corpora ---------------------------------------------------------

def _table(corpus: str, speakers: list[str], texts: list[str], labels: list[str]) -> pd.DataFrame:
    return make_table({"path": f"/{corpus}/{i}.wav", "corpus": corpus, "utterance": str(i), "speaker": s,
                       "text": t, "duration": 1.0, "label": label, "original_label": label}
                      for i, (s, t, label) in enumerate(zip(speakers, texts, labels)))


def test_combined_tables_keep_each_corpus_speakers_and_sentences_its_own():
    a = _table("emodb", ["01", "02"], ["a03", "a03"], ["anger", "sadness"])
    b = _table("ased", ["01", "03"], ["a03", "c01"], ["anger", "neutral"])
    table = combine_tables([a, b])
    assert list(table["corpus"]) == ["emodb", "emodb", "ased", "ased"]
    assert list(table["speaker"]) == ["emodb:01", "emodb:02", "ased:01", "ased:03"]
    assert table["text"].nunique() == 3  # EMO-DB's a03 is not ASED's a03
    assert table["session"].isna().all()  # a missing value stays missing
    assert set(table.attrs["corpora"]) == {"emodb", "ased"}
    with pytest.raises(CorpusError, match="emodb given twice"):
        combine_tables([a, a])


def test_a_class_set_one_corpus_cannot_show_is_refused():
    table = combine_tables([_table("emodb", ["01"] * 2, ["a01"] * 2, ["boredom", "anger"]),
                            _table("nemo", ["AA0"] * 2, ["1"] * 2, ["anger", "fear"])])
    check_classes_in_every_corpus(select_classes(table, "4class"), ["anger"], "4class")
    with pytest.raises(ConfigError, match="nemo has no boredom"):
        check_classes_in_every_corpus(select_classes(table, "emodb7"), ["anger", "boredom"], "emodb7")


def test_a_recipe_of_several_corpora_leaves_single_corpus_hashes_alone():
    assert Recipe(corpus=["emodb"]).config_hash() == Recipe(corpus="emodb").config_hash() == Recipe().config_hash()
    several = Recipe(corpus=["emodb", "nemo", "ased"], roots={"emodb": "/data/emodb"})
    assert several.corpus == "emodb+nemo+ased" and several.corpora == ("emodb", "nemo", "ased")
    assert several.corpus_root("emodb") == "/data/emodb" and several.corpus_root("nemo") is None
    # where the data is does not change the configuration; which corpora does
    assert several.config_hash() == Recipe(corpus="emodb+nemo+ased").config_hash() != Recipe().config_hash()
    assert several.override(seed=3).corpus == several.corpus  # a rebuilt recipe keeps its corpora
    assert several.override(corpus="emodb").corpus_root("emodb") == "/data/emodb"  # one of them, from roots
    with pytest.raises(ConfigError, match="roots"):
        Recipe(corpus=["emodb", "nemo"], root="/data/emodb")
    with pytest.raises(ConfigError, match="ased is not a corpus of this recipe"):
        Recipe(corpus=["emodb", "nemo"], roots={"ased": "/x"})
    with pytest.raises(ConfigError, match="twice"):
        Recipe(corpus=["emodb", "emodb"])


def test_per_corpus_normalisation_is_a_declared_variant():
    assert Recipe(normalisation="per-corpus").variant == "per-corpus normalisation"
    assert Recipe().variant is None


# -- protocols ----------------------------------------------------------------------------

def _three_corpora() -> tuple[pd.DataFrame, np.ndarray]:
    """A table of three corpora (3, 4 and 12 speakers, two files of each of two classes each)."""
    tables = []
    for corpus, n in (("emodb", 3), ("nemo", 4), ("ased", 12)):
        speakers = [f"{s:02d}" for s in range(n) for _ in range(4)]
        tables.append(_table(corpus, speakers, ["t1"] * len(speakers), ["anger", "sadness"] * (len(speakers) // 2)))
    table = combine_tables(tables)
    return table, np.array([f"h{i}" for i in range(len(table))], dtype=object)


def test_loco_tests_each_corpus_on_a_model_trained_on_the_others():
    table, hashes = _three_corpora()
    folds = make_folds(table, "loco", "speakers:1", seed=0, hashes=hashes)
    assert [f.name for f in folds] == ["test ased", "test emodb", "test nemo"]
    for fold in folds:
        target = fold.name.removeprefix("test ")
        assert set(table["corpus"].iloc[list(fold.test)]) == {target}
        assert len(fold.test) == int((table["corpus"] == target).sum())  # the whole corpus
        assert fold.protocol == "loco" and not fold.speaker_dependent
        training = {c for part in (fold.train, fold.validation) for c in table["corpus"].iloc[list(part)]}
        assert training == set(GAIN) - {target}
        # each training corpus gives one validation speaker: the validation mix follows training's
        held = Counter(s.split(":")[0] for s in fold.speakers("validation"))
        assert held == {c: 1 for c in training}


def test_train_test_corpora_is_one_fold_and_leaves_out_what_it_does_not_name():
    table, hashes = _three_corpora()
    (fold,) = make_folds(table, "train:ased test:emodb", seed=0, hashes=hashes)
    assert fold.name == "test emodb" and fold.protocol == "train:ased test:emodb"
    assert set(table["corpus"].iloc[list(fold.dropped)]) == {"nemo"}
    assert {s.split(":")[0] for s in fold.speakers("train")} == {"ased"}
    with pytest.raises(CorpusError, match="holds no iemocap"):
        make_folds(table, "train:ased,iemocap test:emodb", hashes=hashes)
    for spec in ("train:ased test:ased", "train:ased", "train:a,,b test:c"):
        with pytest.raises(SerkitError, match="train"):
            protocol_from_spec(spec)


def test_the_guard_still_refuses_identical_audio_in_two_corpora():
    table, hashes = _three_corpora()
    hashes[0] = hashes[len(hashes) - 1]  # an EMO-DB file and an ASED file with the same samples
    with pytest.raises(LeakageError, match="identical audio"):
        make_folds(table, "loco", "speakers:1", hashes=hashes)


def test_validation_of_one_corpus_is_chosen_as_before():
    # one corpus's validation speakers are what they were before tables held several corpora
    table, hashes = _three_corpora()
    ased = table[table["corpus"] == "ased"].reset_index(drop=True)
    hashes = hashes[: len(ased)]
    with_corpus = make_folds(ased, "speaker-kfold:3", "speakers:2", seed=4, hashes=hashes)
    without = make_folds(ased.drop(columns="corpus"), "speaker-kfold:3", "speakers:2", seed=4, hashes=hashes)
    assert [f.validation for f in with_corpus] == [f.validation for f in without]


# -- corpus-balanced sampling -------------------------------------------------------------

def test_balanced_draw_takes_as_many_items_of_every_corpus():
    strata = np.array(["big"] * 65 + ["small"] * 10, dtype=object)
    drawn = balanced_draw(strata, np.random.default_rng(0))
    assert len(drawn) == 75
    counts = Counter(strata[drawn])
    assert abs(counts["big"] - counts["small"]) <= 1
    small = Counter(i for i in drawn if i >= 65)
    assert set(small) == set(range(65, 75)) and max(small.values()) - min(small.values()) <= 1
    assert len(set(i for i in drawn if i < 65)) == counts["big"]  # the big corpus: no item twice


def test_the_balanced_sampler_is_a_function_of_seed_and_epoch():
    strata = ["a"] * 30 + ["b"] * 6
    sampler = EpochSampler([1] * 36, 8, seed=3, strata=strata)
    again = EpochSampler([1] * 36, 8, seed=3, strata=strata)
    first, second = (np.concatenate(sampler.order(e)) for e in (0, 1))
    assert np.array_equal(first, np.concatenate(again.order(0))) and not np.array_equal(first, second)
    assert len(sampler) == len(sampler.order(0)) == 5
    # resumed mid-epoch, it hands out exactly the rest of that epoch
    batches = iter(sampler)
    next(batches)
    resumed = EpochSampler([1] * 36, 8, seed=3, strata=strata)
    resumed.load_state_dict(sampler.state_dict())
    assert [list(b) for b in resumed] == [list(b) for b in sampler.order(0)[1:]]
    # without strata the order is what it always was
    plain = EpochSampler([1] * 36, 8, seed=3)
    assert np.array_equal(np.concatenate(plain.order(1)),
                          np.random.default_rng([3, 0, 1]).permutation(36))
    with pytest.raises(SerkitError, match="strata"):
        EpochSampler([1] * 3, 2, seed=0, strata=["a"])


# -- per-corpus normalisation -------------------------------------------------------------

def test_per_corpus_statistics_come_from_training_and_an_unseen_corpus_adapts(caplog):
    train = [np.full((2, 3), 1.0), np.full((2, 3), 3.0), np.full((2, 3), 10.0), np.full((2, 3), 30.0)]
    normaliser = CorpusNormaliser().fit(train, ["a", "a", "b", "b"])
    # a training corpus keeps its training statistics, whatever part a row is in
    assert np.allclose(normaliser.transform(np.full((2, 1), 3.0), "a"), 1.0)
    with pytest.raises(SerkitError, match="no statistics for corpus 'c'"):
        normaliser.transform(np.ones((2, 1)), "c")
    with caplog.at_level(logging.WARNING):
        adapted = normaliser.adapted([np.full((2, 3), 100.0), np.full((2, 3), 300.0)], ["c", "c"])
    assert "adapts to c" in caplog.text and "per-corpus" in caplog.text
    assert np.allclose(adapted.transform(np.full((2, 1), 300.0), "c"), 1.0)
    assert "c" not in normaliser.stats  # adapting leaves the fitted normaliser as it was


# -- end to end ---------------------------------------------------------------------------

def test_loco_reports_each_target_corpus_and_adapting_recovers_the_classes(tiny, tmp_path):
    cache = FeatureCache(tmp_path / "cache")
    plain = run_cv(tiny_recipe(tiny), tmp_path / "plain", cache=cache, workers=1, threads=1)
    adapted = run_cv(tiny_recipe(tiny, normalisation="per-corpus"), tmp_path / "adapted", cache=cache,
                     workers=1, threads=1)
    assert plain["protocol"] == "loco" and adapted["protocol"] == "loco + per-corpus normalisation"
    for summary in (plain, adapted):
        assert [f["test_corpora"] for f in summary["folds"]] == [["ased"], ["emodb"], ["nemo"]]
        assert all(f["protocol"] == summary["protocol"] for f in summary["folds"])
        assert summary["mean"]["ua"] == pytest.approx(np.mean([f["ua"] for f in summary["folds"]]))
    # the corpora differ only in gain: each corpus by its own statistics sees the same classes
    assert all(f["ua"] == 1.0 for f in adapted["folds"])
    assert plain["mean"]["ua"] < adapted["mean"]["ua"]
    report = (tmp_path / "adapted" / "report.md").read_text()
    assert "| ased | loco + per-corpus normalisation | 24 |" in report
    assert "**mean of 3 target corpora** | loco + per-corpus normalisation | 72 |" in report


def test_a_loco_fold_can_choose_its_cost_by_leaving_each_training_corpus_out(tiny, tmp_path):
    summary = run_cv(tiny_recipe(tiny, inner_cv="corpora"), tmp_path / "run", cache=FeatureCache(tmp_path / "cache"),
                     workers=1, threads=1)
    assert len(summary["folds"]) == 3
    for path in sorted((tmp_path / "run" / "folds").glob("*/predictions.json")):
        record = json.loads(path.read_text())
        assert record["chosen"]["by"] == "inner-loco"
        assert set(record["chosen"]["validation_ua"]) == {"0.001", "0.01", "0.1", "1.0"}
    # one corpus on the training side leaves nothing to leave out
    with pytest.raises(SerkitError, match="at least two corpora"):
        run_cv(tiny_recipe({"emodb": tiny["emodb"]}, protocol="loso", inner_cv="corpora"), tmp_path / "one",
               cache=FeatureCache(tmp_path / "cache"), workers=1, threads=1)
    with pytest.raises(ConfigError, match="inner_cv"):
        tiny_recipe(tiny, inner_cv="sentences")


def test_a_neural_model_trains_corpus_balanced_with_per_corpus_statistics(tiny, tmp_path):
    recipe = tiny_recipe(tiny, protocol="train:emodb,nemo test:ased", model="blstm", model_options={"hidden": 8},
                         normalisation="per-corpus", train={"epochs": 1, "batch_size": 4, "balance": "corpus"})
    summary = run_cv(recipe, tmp_path / "run", cache=FeatureCache(tmp_path / "cache"), workers=1, threads=1)
    assert summary["protocol"] == "train:emodb,nemo test:ased + per-corpus normalisation"
    (fold,) = summary["folds"]
    assert fold["name"] == "test ased" and fold["n_test"] == 24
    assert summary["config"]["train"]["balance"] == "corpus"
    prediction = json.loads((tmp_path / "run" / "folds" / "00" / "predictions.json").read_text())
    assert {s.split(":")[0] for s in prediction["fold"]["groups"]["speaker"]["train"]} == {"emodb", "nemo"}


def test_balance_needs_to_know_each_item_s_corpus():
    from serkit.models import build_model
    from serkit.training import FeatureDataset, Trainer, TrainConfig, UtteranceClassification

    data = FeatureDataset.from_arrays([np.ones((2, 3))] * 2, [0, 1], ["a", "b"])
    trainer = Trainer(build_model("blstm", 2, 2, hidden=4), UtteranceClassification(("x", "y")),
                      TrainConfig(epochs=1, balance="corpus"))
    with pytest.raises(SerkitError, match="balance corpus"):
        trainer.fit(data)


# -- the real corpora ---------------------------------------------------------------------

def test_loco_over_emodb_nemo_and_ased(emodb_root):
    corpora_folder("nemo"), corpora_folder("ased")  # skip, saying why, where they are absent
    roots = {"emodb": str(emodb_root), "nemo": None, "ased": None}
    every = read_corpora(list(roots), roots)
    for name, root in roots.items():  # each corpus's speakers, made its own
        alone = read_corpus(name, root)
        assert set(every.loc[every["corpus"] == name, "speaker"]) == {f"{name}:{s}" for s in alone["speaker"]}
    for classes in ("4class", "5class"):
        labels = select_classes(every, classes).groupby("corpus")["label"].unique().map(sorted)
        assert all(found == sorted(class_set(classes)) for found in labels)
    corpus = load_corpus(Recipe(corpus=list(roots), roots={"emodb": str(emodb_root)}, protocol="loco"))
    folds = make_folds(corpus.table, "loco", "speakers", seed=0, hashes=corpus.hashes)  # the guard passes
    assert {f.name: len(f.test) for f in folds} == {
        f"test {name}": n for name, n in corpus.table["corpus"].value_counts().items()}


def test_inner_cv_corpora_scores_each_training_corpus_on_a_model_fitted_on_the_others():
    from serkit.experiments.fitters.classical import ClassicalFitter
    from serkit.experiments.fold_data import Part

    def part(corpus: str, n: int) -> Part:
        return Part([np.full((2, 3), i, dtype=float) for i in range(n)], ["a", "b"] * (n // 2),
                    [f"{corpus}{i}" for i in range(n)], [f"{corpus}:s{i % 2}" for i in range(n)], corpora=[corpus] * n)

    train, validation = part("emodb", 4), part("nemo", 6)
    recipe = Recipe(model="logistic", model_options={"pooling": "mean"}, normalisation="none", inner_cv="corpora")
    fitter = ClassicalFitter(recipe, ("a", "b"))
    rows = np.concatenate([fitter._rows(train), fitter._rows(validation)])
    splits = fitter._splits(train, validation, rows)
    # one split per corpus: emodb's 4 rows scored on a model of nemo's 6, then the other way round
    assert [(len(fit_x), len(scored_x)) for fit_x, _, scored_x, _ in splits] == [(6, 4), (4, 6)]
    # the same rows grouped by speaker (two per corpus) give four splits instead
    by_speaker = ClassicalFitter(recipe.override(inner_cv="speakers"), ("a", "b"))
    assert len(by_speaker._splits(train, validation, rows)) == 4


def test_batches_by_length_hold_items_of_about_one_length_and_every_item_once():
    rng = np.random.default_rng(0)
    sizes = rng.integers(100, 900, size=339)
    plain = EpochSampler(sizes, 64, seed=3)
    by_length = EpochSampler(sizes, 64, seed=3, by_length=True)

    def padded(sampler, epoch):  # frames a padded batch computes, over the frames it holds
        batches = sampler.order(epoch)
        return sum(sizes[b].max() * len(b) for b in batches) / sizes.sum(), batches

    for epoch in (1, 2):
        waste, batches = padded(by_length, epoch)
        assert sorted(np.concatenate(batches).tolist()) == list(range(len(sizes)))
        assert waste < 1.3 < padded(plain, epoch)[0]
    assert [b.tolist() for b in by_length.order(1)] != [b.tolist() for b in by_length.order(2)]
    assert [b.tolist() for b in by_length.order(1)] == [b.tolist() for b in
                                                         EpochSampler(sizes, 64, seed=3, by_length=True).order(1)]
    # SortaGrad's first epoch stays sorted
    first = EpochSampler(sizes, 64, seed=3, sort_first_epoch=True, by_length=True).order(0)
    assert np.all(np.diff(sizes[np.concatenate(first)]) >= 0)
