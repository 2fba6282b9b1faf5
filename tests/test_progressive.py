"""Seed 003's progressive net (serkit.models.progressive): shapes, padding, a frozen recognizer
branch, the branch's per-utterance normalisation, and a few training steps through the engine on
EMO-DB clips with a recognizer's layer stacked on the baseline's features."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_recognizer_layers import clips, recognizer  # noqa: F401  (fixtures: a ds2 model folder)

from serkit.audio.io import load_audio
from serkit.errors import SerkitError
from serkit.features.normalise import GlobalNormaliser, normalise_utterance
from serkit.features.presets import get_feature
from serkit.models import build_model
from serkit.models.transfer import output_layer
from serkit.training import FeatureDataset, TrainConfig, Trainer, UtteranceClassification
from serkit.training.config import OptimiserConfig

LABELS = ("anger", "happiness", "neutral", "sadness")
EMODB_CODES = {"W": "anger", "F": "happiness", "N": "neutral", "T": "sadness"}
BRANCH, RECOGNIZER = 28, 48  # mfcc-seed003 + pitch-seed003 rows; a recognizer layer's


def model(**options):
    torch.manual_seed(0)
    return build_model("progressive", BRANCH + RECOGNIZER, 4, branch_dims=BRANCH, **options).eval()


def test_logits_per_utterance_and_only_the_branch_and_the_output_layer_learn():
    net = model()
    x = torch.randn(3, BRANCH + RECOGNIZER, 50)
    assert net(x, torch.tensor([50, 40, 7])).shape == (3, 4)
    names = {name.split(".")[0] for name, _ in net.named_parameters()}
    assert names == {"rnn", "classifier"} and output_layer(net) == "classifier"
    assert net.rnn.forward_lstms[0].input_size == BRANCH  # the GRU never reads the recognizer's rows
    assert net.classifier.in_features == 2 * 96 + RECOGNIZER


def test_the_recognizer_branch_is_its_layers_mean_and_nothing_more():
    net = model()
    x = torch.randn(2, BRANCH + RECOGNIZER, 30)
    lengths = torch.tensor([30, 30])
    shuffled = x.clone()
    shuffled[:, BRANCH:] = x[:, BRANCH:, torch.randperm(30)]  # same mean, other order
    with torch.no_grad():
        torch.testing.assert_close(net(shuffled, lengths), net(x, lengths))
        moved = x.clone()
        moved[:, BRANCH:] += 1.0
        assert not torch.allclose(net(moved, lengths), net(x, lengths))


def test_a_padded_batch_gives_each_items_logits_as_alone():
    net = model()
    lengths = [60, 33, 5]
    items = [torch.randn(1, BRANCH + RECOGNIZER, n) for n in lengths]
    batch = torch.zeros(3, BRANCH + RECOGNIZER, 60)
    for i, item in enumerate(items):
        batch[i, :, : lengths[i]] = item[0]
        batch[i, :, lengths[i]:] = 7.0  # padding must not matter, whatever it holds
    with torch.no_grad():
        together = net(batch, torch.tensor(lengths))
        for i, item in enumerate(items):
            torch.testing.assert_close(together[i], net(item, torch.tensor([lengths[i]]))[0], rtol=1e-5, atol=1e-5)


def test_the_branch_is_normalised_per_utterance_as_the_baselines_normalisation():
    """Its input normalised per utterance (normalisation: utterance, the baseline's) or not at all
    gives the same logits: the model does it; and any per-row scale and offset (a global
    normalisation) changes nothing."""
    net = model()
    x = np.random.default_rng(0).normal(2.0, 3.0, (BRANCH + RECOGNIZER, 40)).astype(np.float32)
    normalised = x.copy()
    normalised[:BRANCH] = normalise_utterance(x[:BRANCH])
    scaled = x.copy()
    scaled[:BRANCH] = scaled[:BRANCH] * np.linspace(0.5, 4.0, BRANCH, dtype=np.float32)[:, None] + 3.0
    with torch.no_grad():
        out = [net(torch.from_numpy(a)[None], torch.tensor([40])) for a in (x, normalised, scaled)]
    torch.testing.assert_close(out[0], out[1], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(out[0], out[2], rtol=1e-4, atol=1e-4)
    with torch.no_grad():
        plain = model(branch_norm="none")(torch.from_numpy(x)[None], torch.tensor([40]))
    assert not torch.allclose(plain, out[0], atol=1e-3)


@pytest.mark.parametrize("options, message", [({}, "branch_dims"), ({"branch_dims": 76}, "leave rows"),
                                              ({"branch_dims": 28, "branch_norm": "speaker"}, "branch_norm")])
def test_bad_configurations_are_refused_naming_the_option(options, message):
    with pytest.raises(SerkitError, match=message):
        build_model("progressive", BRANCH + RECOGNIZER, 4, **options)


def test_it_trains_through_the_engine_on_emodb_with_a_recognizer_layer(recognizer, emodb_wavs):  # noqa: F811
    folder, _ = recognizer
    feature = get_feature(f"mfcc-seed003+pitch-seed003+recognizer-seed003:model={folder},layer=2,hop=160")
    wavs = [w for w in emodb_wavs if w.name[5] in EMODB_CODES]
    chosen = [w for code in EMODB_CODES for w in [w for w in wavs if w.name[5] == code][:4]]
    arrays = [feature.process_signal(load_audio(w, 16000)[: 16000 * 2]) for w in chosen]  # 2 s each: quick
    arrays = GlobalNormaliser().fit_transform(arrays)
    targets = [LABELS.index(EMODB_CODES[w.name[5]]) for w in chosen]
    data = FeatureDataset.from_arrays(arrays, targets, [w.name for w in chosen])
    net = build_model("progressive", arrays[0].shape[0], 4, branch_dims=BRANCH)
    assert arrays[0].shape[0] == BRANCH + RECOGNIZER
    config = TrainConfig(epochs=4, batch_size=4, clip_grad_norm=15.0, sort_first_epoch=True,
                         optimiser=OptimiserConfig(lr=3e-3))
    result = Trainer(net, UtteranceClassification(LABELS), config).fit(data)
    losses = [epoch["train_loss"] for epoch in result.history]
    assert result.steps == 4 * 4 and losses[-1] < losses[0]
