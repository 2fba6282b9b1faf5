"""Seed 004's continuous models (dilated, down/up, receptive-field probe): frames, padding, export, CCC.

Random tensors only: every model gives exactly the input's frames at any length, a padded batch
equals its items alone, ONNX gives PyTorch's values at lengths the export never saw, the CCC loss
falls on a toy trace, and the dilated network reads exactly the frames its formula says.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from serkit.errors import SerkitError
from serkit.models import build_model, model_config, model_from_config
from serkit.models.dilated import DilatedCNN
from serkit.models.receptive_probe import ReceptiveProbe, fft_filter
from serkit.models.registry import frame_models, parameter_count
from serkit.models.updown import UpDownCNN
from serkit.training.regression import Regression
from test_models import one_torch_thread, padded_batch  # noqa: F401  (autouse fixture)

N_DIMS = 160  # seed 004: four stacked 40-band frames
TARGETS = ("arousal", "valence")
SPECS = [
    ("dilated", {}, DilatedCNN),
    ("dilated", {"alignment": "causal", "kernel": 3, "depth": 6, "activation": "relu"}, DilatedCNN),
    ("updown", {}, UpDownCNN),
    ("updown", {"depth": 2, "factor": 2, "kernel": 3, "up_kernel": 4, "width": 8}, UpDownCNN),
    ("receptive_probe", {"length": 64}, ReceptiveProbe),
    ("receptive_probe", {"length": 7, "alignment": "causal"}, ReceptiveProbe),
]
SPEC_IDS = [f"{name}-{i}" for i, (name, _, _) in enumerate(SPECS)]
#: Not divisible by 81 (and shorter than it) as well as around its multiples.
LENGTHS = [1, 2, 3, 26, 80, 81, 82, 161, 162, 244, 500]


def build(name: str, options: dict, seed: int = 0):
    torch.manual_seed(seed)
    return build_model(name, N_DIMS, len(TARGETS), **options)


@pytest.mark.parametrize("name,options,cls", SPECS, ids=SPEC_IDS)
def test_registered_frame_models_rebuilt_equal_from_their_config(name, options, cls):
    model = build(name, options).eval()
    assert type(model) is cls and model.frame_level and name in frame_models() and model.min_frames == 1
    rebuilt = model_from_config(json.loads(json.dumps(model_config(model))))
    assert type(rebuilt) is cls and rebuilt.config == model.config
    rebuilt.load_state_dict(model.state_dict())
    x, lengths = padded_batch(N_DIMS, [90, 41], garbage=False)
    with torch.no_grad():
        assert torch.equal(rebuilt(x, lengths), model(x, lengths))


@pytest.mark.parametrize("name,options,cls", SPECS, ids=SPEC_IDS)
def test_every_length_gives_exactly_its_frames(name, options, cls):
    model = build(name, options).eval()
    with torch.no_grad():
        for frames in LENGTHS:
            out = model(torch.randn(1, N_DIMS, frames), torch.tensor([frames]))
            assert out.shape == (1, frames, len(TARGETS)) and torch.isfinite(out).all(), (frames, out.shape)


@pytest.mark.parametrize("name,options,cls", SPECS, ids=SPEC_IDS)
def test_a_padded_batch_equals_each_item_alone(name, options, cls):
    """Padding holds NaN, inf and huge values: none of it may reach an item's valid frames."""
    model = build(name, options).eval()
    lengths = [244, 1, 82, 80, 163, 26]
    x, lengths_t = padded_batch(N_DIMS, lengths, garbage=True, seed=2)
    with torch.no_grad():
        batch = model(x, lengths_t)
        for i, n in enumerate(lengths):
            alone = model(x[i:i + 1, :, :n], torch.tensor([n]))
            torch.testing.assert_close(batch[i, :n], alone[0], atol=1e-5, rtol=1e-5)


def test_layers_run_in_order_from_input_to_output():
    assert [n for n, _ in build("dilated", {"depth": 3}).layers()] == ["convs.0", "convs.1", "convs.2", "output"]
    assert [n for n, _ in build("updown", {"depth": 2}).layers()] == [
        "down.0", "down.1", "middle", "up.0", "up.1", "output"]
    assert [n for n, _ in build("receptive_probe", {}).layers()] == ["filter", "output"]


def _reach(model, frames: int, at: int) -> tuple[int, int]:
    """Frames (before, after) ``at`` that the output at frame ``at`` depends on (by its gradient;
    in float64, where an FFT's rounding elsewhere is some 1e-16 of it)."""
    model = model.double().eval()
    x = torch.randn(1, N_DIMS, frames, dtype=torch.float64, requires_grad=True)
    model(x, torch.tensor([frames]))[0, at].sum().backward()
    gradient = x.grad[0].abs().sum(0)
    touched = torch.nonzero(gradient > 1e-10 * gradient.max()).flatten()
    return at - int(touched.min()), int(touched.max()) - at


@pytest.mark.parametrize("depth,kernel,alignment", [(10, 2, "centred"), (6, 2, "causal"), (5, 3, "centred")])
def test_the_dilated_receptive_field_is_its_formula(depth, kernel, alignment):
    model = build("dilated", {"depth": depth, "kernel": kernel, "alignment": alignment})
    before, after = model.receptive_field
    assert before + after + 1 == 1 + (kernel - 1) * (2**depth - 1)
    assert (after == 0) == (alignment == "causal")
    frames = 2 * (before + after) + 50
    assert _reach(model, frames, at=before + after) == (before, after)


def test_the_paper_dilated_network_sees_1024_frames_and_the_probe_its_filter():
    assert sum(build("dilated", {}).receptive_field) + 1 == 1024  # 40.96 s at 40 ms
    assert _reach(build("receptive_probe", {"length": 512}), 1500, at=700) == (255, 256)


def test_the_down_up_network_reads_a_long_context_around_each_frame():
    """Its field is fixed by the layers (documented in the benchmark): a few hundred frames either side."""
    before, after = _reach(build("updown", {}), 2000, at=1000)
    assert 150 < before < 400 and 150 < after < 400


@pytest.mark.parametrize("length,alignment", [(1, "centred"), (2, "centred"), (64, "causal"), (512, "centred")])
def test_the_probe_filters_by_fft_as_the_direct_convolution_its_export_runs(length, alignment):
    probe = build("receptive_probe", {"length": length, "alignment": alignment})
    for frames in (1, 300, 7500):
        x = torch.randn(2, N_DIMS, frames)
        with torch.no_grad():
            torch.testing.assert_close(fft_filter(x, probe.filter), probe.filter(x), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name,options,expected", [
    # first layer n_dims*width*kernel + width; others width*width*kernel + width; output width*2 + 2
    ("dilated", {}, 160 * 32 * 2 + 32 + 9 * (32 * 32 * 2 + 32) + 32 * 2 + 2),
    ("updown", {}, 160 * 32 * 5 + 32 + 8 * (32 * 32 * 5 + 32) + 32 * 2 + 2),
    ("updown", {"width": 128}, 160 * 128 * 5 + 128 + 8 * (128 * 128 * 5 + 128) + 128 * 2 + 2),
    ("receptive_probe", {"length": 512}, 160 * 512 + 1 + 1 * 2 + 2),
])
def test_parameter_counts_are_the_layers(name, options, expected):
    assert parameter_count(lambda: build_model(name, N_DIMS, len(TARGETS), **options)) == expected


def _toy_recordings(seed: int = 0):
    """Four recordings whose trace is a slow moving average of one input band (a learnable target)."""
    g = torch.Generator().manual_seed(seed)
    lengths = [300, 251, 170, 283]
    x = torch.randn(len(lengths), N_DIMS, max(lengths), generator=g)
    kernel = torch.ones(1, 1, 25) / 25
    trace = torch.nn.functional.conv1d(x[:, :1], kernel, padding=12)[:, 0]
    targets = [np.stack([trace[i, :n].numpy(), -trace[i, :n].numpy()], axis=1) for i, n in enumerate(lengths)]
    return x, torch.tensor(lengths), targets


@pytest.mark.parametrize("name,options,cls", SPECS[::2], ids=SPEC_IDS[::2])
def test_training_on_the_ccc_loss_reduces_it(name, options, cls):
    model = build(name, {**options, "width": 16} if name != "receptive_probe" else options).train()
    task = Regression(TARGETS)
    x, lengths, targets = _toy_recordings()
    batch = task.collate_targets(targets)
    optimiser = torch.optim.Adam(model.parameters(), lr=0.03)
    losses = []
    for _ in range(30):
        optimiser.zero_grad()
        loss = task.loss(model(x, lengths), batch)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0], losses


@pytest.mark.parametrize("name,options,message", [
    ("updown", {"up_kernel": 2}, "up_kernel 2 < factor 3"),
    ("updown", {"factor": 1}, "factor must be at least 2"),
    ("updown", {"depth": 20}, "factor\\*\\*depth"),
    ("dilated", {"alignment": "left"}, "alignment must be one of centred, causal"),
    ("dilated", {"activation": "gelu"}, "activation must be one of"),
    ("receptive_probe", {"length": 0}, "length must be positive"),
])
def test_unusable_settings_are_refused_naming_them(name, options, message):
    with pytest.raises(SerkitError, match=message):
        build_model(name, N_DIMS, 2, **options)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("name,options,cls", SPECS, ids=SPEC_IDS)
def test_onnx_export_gives_pytorchs_trace_at_lengths_it_never_saw(name, options, cls, tmp_path):
    """Through serkit's exporter (a regression model folder of fbank-seed004 features)."""
    pytest.importorskip("onnxruntime")
    from serkit.artifacts import ModelInfo, write_model
    from serkit.features.presets import get_feature
    from serkit.inference import load_model
    from serkit.inference.export import EXAMPLE_FRAMES, export_onnx

    model = build(name, options).eval()
    info = ModelInfo(labels=TARGETS, features=get_feature("fbank-seed004").to_dict(), model=model_config(model),
                     task=Regression(TARGETS).to_dict())
    write_model(tmp_path / "model", model.state_dict(), info)
    backend = load_model(export_onnx(tmp_path / "model", tmp_path / f"{name}.onnx")).backend
    for lengths in ([163, 80, 7, 1], [400, 82], [26]):
        assert not set(lengths) & set(EXAMPLE_FRAMES)
        x, lengths_t = padded_batch(N_DIMS, lengths, garbage=True, seed=len(lengths))
        got = backend.logits(x.numpy(), lengths_t.numpy())
        with torch.no_grad():
            expected = model(x, lengths_t).numpy()
        assert got.shape == (len(lengths), max(lengths), len(TARGETS))
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name,options", [("dilated", {"depth": 4, "width": 16}), ("updown", {"depth": 1, "width": 16}),
                                          ("receptive_probe", {"length": 9})])
def test_the_engine_trains_them_on_a_frame_regression(name, options):
    """Through the Trainer (padded batches of 30-80 frames): held-out CCC.  The target is a 5-frame
    moving average, detail an 81x bottleneck cannot keep by design: the down/up net pools once."""
    from serkit.training import Trainer, TrainConfig
    from test_training_engine import FAST, regression_data

    torch.manual_seed(0)
    model = build_model(name, 2, 1, **options)
    trainer = Trainer(model, Regression(("arousal",)), TrainConfig(epochs=12, batch_size=8, optimiser=FAST), threads=1)
    trainer.fit(regression_data(48, 1), regression_data(24, 2))
    assert trainer.evaluate(regression_data(24, 3))["ccc"] > 0.7
