"""Probes of a speech recogniser's layers (seed 003, SUPERB): registry, padding, layout, export."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from serkit.errors import SerkitError
from serkit.models import build_model, model_config, model_from_config
from serkit.models.probes import GRUProbe, LayerWeightedProbe, LinearProbe
from test_models import N_CLASSES, build, one_torch_thread  # noqa: F401  (autouse fixture)
from test_models import padded_batch as padded_batch_of

N_DIMS, N_LAYERS = 40, 4
WIDTH = N_DIMS // N_LAYERS
SPECS = [
    ("linear", {}, LinearProbe),
    ("layer_weighted", {"n_layers": N_LAYERS}, LayerWeightedProbe),
    ("gru", {"hidden": 16}, GRUProbe),
]
SPEC_IDS = [name for name, _, _ in SPECS]
LABELS = ["anger", "happiness", "neutral", "sadness"]


def padded_batch(lengths: list[int], garbage: bool = True, seed: int = 1):
    """:func:`test_models.padded_batch` of the probes' width: garbage (NaN, inf) in the padding."""
    return padded_batch_of(N_DIMS, lengths, garbage, seed)


@pytest.mark.parametrize("name,options,cls", SPECS, ids=SPEC_IDS)
def test_built_by_name_and_rebuilt_equal_from_its_config(name, options, cls):
    model = build(name, options).eval()
    assert type(model) is cls and model.name == name and model.min_frames == 1
    data = json.loads(json.dumps(model_config(model)))
    assert data["name"] == name and data["config"]["n_dims"] == N_DIMS
    rebuilt = model_from_config(data)
    assert type(rebuilt) is cls and rebuilt.config == model.config
    rebuilt.load_state_dict(model.state_dict())
    x, lengths = padded_batch([30, 7], garbage=False)
    with torch.no_grad():
        assert torch.equal(rebuilt.eval()(x, lengths), model(x, lengths))


def test_defaults_are_seed_003s():
    assert build("linear", {}).config.dropout == 0.25
    gru = build("gru", {}).config
    assert (gru.hidden, gru.num_layers, gru.dropout) == (96, 1, 0.25)
    assert build("layer_weighted", {"n_layers": 2}).config.dropout == 0.25


@pytest.mark.parametrize("name,options,cls", SPECS, ids=SPEC_IDS)
def test_forward_and_backward_reach_every_parameter(name, options, cls):
    model = build(name, options).train()
    x, lengths = padded_batch([45, 31, 1, 2])
    logits = model(x, lengths)
    assert logits.shape == (4, N_CLASSES) and torch.isfinite(logits).all()
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2, 3])).backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname
        assert p.grad.abs().sum() > 0, f"{pname} has an all-zero gradient"


@pytest.mark.parametrize("name,options,cls", SPECS, ids=SPEC_IDS)
def test_batched_equals_one_at_a_time(name, options, cls):
    model = build(name, options).eval()
    lengths = [53, 20, 41, 1, 3]
    x, lengths_t = padded_batch(lengths)
    with torch.no_grad():
        batched = model(x, lengths_t)
        assert batched.shape == (len(lengths), N_CLASSES)
        for i, n in enumerate(lengths):
            alone = model(x[i : i + 1, :, :n], lengths_t[i : i + 1])
            assert torch.allclose(batched[i], alone[0], rtol=1e-5, atol=1e-5), (i, n)


def test_linear_is_the_mean_of_the_valid_frames_through_one_layer():
    model = build("linear", {}).eval()
    x, lengths = padded_batch([12, 5])
    with torch.no_grad():
        got = model(x, lengths)
        for i, n in enumerate(lengths.tolist()):
            expected = model.classifier(x[i, :, :n].mean(-1))
            assert torch.allclose(got[i], expected, atol=1e-6)


@pytest.mark.parametrize("k", range(N_LAYERS))
def test_layer_weighted_on_one_layer_is_linear_on_its_block(k):
    """Weights one-hot on layer k give ``linear`` on rows k*width..(k+1)*width: the block layout."""
    weighted = build("layer_weighted", {"n_layers": N_LAYERS}).eval()
    linear = build("linear", {}, n_dims=WIDTH, seed=1).eval()
    linear.classifier.load_state_dict(weighted.classifier.state_dict())
    with torch.no_grad():
        weighted.layer_scores.fill_(float("-inf"))
        weighted.layer_scores[k] = 0.0
        x, lengths = padded_batch([25, 9, 16])
        block = x[:, k * WIDTH : (k + 1) * WIDTH]
        assert torch.equal(weighted.layer_weights(), torch.eye(N_LAYERS)[k])
        assert torch.allclose(weighted(x, lengths), linear(block, lengths), atol=1e-6)


def test_layer_weights_start_uniform_and_sum_to_one():
    model = build("layer_weighted", {"n_layers": N_LAYERS})
    weights = model.layer_weights()
    assert weights.shape == (N_LAYERS,)
    assert torch.allclose(weights, torch.full((N_LAYERS,), 1.0 / N_LAYERS))
    with torch.no_grad():
        model.layer_scores.copy_(torch.tensor([3.0, -1.0, 0.5, 2.0]))
    weights = model.layer_weights()
    assert torch.isclose(weights.sum(), torch.tensor(1.0)) and bool((weights > 0).all())
    assert int(weights.argmax()) == 0


@pytest.mark.parametrize(
    "name,options,pattern",
    [
        ("layer_weighted", {"n_layers": 3}, "layer_weighted.*n_dims \\(40\\).*n_layers \\(3\\)"),
        ("layer_weighted", {"n_layers": 0}, "layer_weighted.*n_layers must be positive"),
        ("layer_weighted", {}, "layer_weighted: needs n_layers"),
        ("gru", {"hidden": 0}, "gru.*hidden must be positive"),
        ("gru", {"num_layers": 0}, "gru.*num_layers must be positive"),
        ("linear", {"dropout": 1.0}, "linear.*dropout"),
        ("linear", {"hidden": 8}, "linear.*unknown option.*hidden"),
    ],
)
def test_bad_options_raise_naming_the_family(name, options, pattern):
    with pytest.raises(SerkitError, match=pattern):
        build_model(name, N_DIMS, N_CLASSES, **options)


def test_a_separable_problem_is_learned():
    """Class c raises features of layer 1 only: all fit it, and the weighted probe leans on it."""
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(32) % N_CLASSES
    x, lengths = padded_batch([int(n) for n in torch.randint(5, 30, (32,), generator=g)], False)
    signal = torch.zeros(32, N_DIMS, 1)
    signal[torch.arange(32), WIDTH + labels] = 2.0
    x = x + signal  # padding too: the models must ignore it
    for name, options, _ in SPECS:
        model = build(name, options).train()
        optimiser = torch.optim.Adam(model.parameters(), lr=0.05)
        losses = []
        for _ in range(30):
            optimiser.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x, lengths), labels)
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
        assert losses[-1] < 0.5 * losses[0], (name, losses[0], losses[-1])
        if name == "layer_weighted":
            assert int(model.layer_weights().argmax()) == 1


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("name,options,cls", SPECS, ids=SPEC_IDS)
def test_onnx_export_through_serkits_exporter(name, options, cls, tmp_path):
    """A model folder of the probe exports with dynamic axes and predicts as PyTorch does."""
    from serkit.inference import load_model
    from serkit.inference.export import export_onnx
    from serkit.artifacts import ModelInfo, write_model

    model = build(name, options).eval()
    info = ModelInfo(
        labels=tuple(LABELS),
        # a stand-in: only the model's graph and its input width matter here
        features={"family": "logmel", "config": {"n_mels": N_DIMS}},
        model=model_config(model),
    )
    write_model(tmp_path / "model", model.state_dict(), info)
    path = export_onnx(tmp_path / "model", tmp_path / f"{name}.onnx")
    backend = load_model(path).backend
    for lengths in ([131, 90, 17, 1], [400, 3]):
        x, lengths_t = padded_batch(lengths, seed=len(lengths))
        got = backend.logits(x.numpy(), lengths_t.numpy())
        with torch.no_grad():
            expected = model(x, lengths_t).numpy()
        assert got.shape == (len(lengths), N_CLASSES)
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
