"""Utterance-level models: masks, padding invariance, gradients, registry, ONNX export."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from serkit.configs import to_dict
from serkit.errors import SerkitError
from serkit.models import build_model, list_models, model_config, model_from_config
from serkit.models.layers import MaskedBatchNorm2d, SameConv2d
from serkit.models.masking import (
    length_mask,
    masked_max,
    masked_mean,
    masked_softmax,
    output_lengths,
    reverse_within_lengths,
)
from serkit.models.pooling import HEADS, AttentionPooling, BilinearPooling, GlobalAveragePooling

SPECS = [
    ("cnn", {}),
    ("cnn", {"pooling": "max"}),
    ("blstm", {}),
    ("blstm", {"pooling": "last"}),
    ("cnn_blstm", {}),
    ("cnn_blstm", {"pooling": "max"}),
    ("cnn_tf_gap", {}),
    ("cnn_tf_bilinear", {}),
    ("cnn_tf_attention", {}),
    ("cnn_tf_gap", {"channels": (), "frequency_kernel": (10, 2), "time_kernel": (10, 2)}),
]
SPEC_IDS = [name + "".join(f"-{v}" for v in opts.values()) for name, opts in SPECS]
N_CLASSES = 4


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Small tensors gain nothing from threads, and CI runs two test workers on two cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def build(name: str, options: dict, n_dims: int = 40, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return build_model(name, n_dims, N_CLASSES, **options)


def padded_batch(n_dims: int, lengths: list[int], garbage: bool, seed: int = 1):
    """Random features padded to the longest item; padding is NaN/inf/huge garbage or zeros."""
    g = torch.Generator().manual_seed(seed)
    frames = max(lengths)
    x = torch.randn(len(lengths), n_dims, frames, generator=g)
    for i, n in enumerate(lengths):
        x[i, :, n:] = 0.0
        if garbage and n < frames:
            x[i, :, n:] = 1e6 * torch.randn(n_dims, frames - n, generator=g)
            x[i, 0, n] = float("nan")
            x[i, -1, -1] = float("inf")
    return x, torch.tensor(lengths, dtype=torch.int64)


def warm_up_norm_statistics(model: nn.Module, n_dims: int) -> None:
    """A few training-mode passes, so that evaluation uses non-trivial running statistics."""
    model.train()
    with torch.no_grad():
        for seed in range(2):
            x, lengths = padded_batch(n_dims, [37, 22, 30], garbage=True, seed=10 + seed)
            model(2.0 * x + 0.5, lengths)
    model.eval()


# -- mask helpers ---------------------------------------------------------------


@pytest.mark.parametrize(
    "kernel,stride,side", [(2, 2, 0), (3, 1, 1), (4, 1, 2), (3, 2, 1), (5, 3, 0)]
)
def test_output_lengths_match_torch_layers(kernel, stride, side):
    conv = nn.Conv1d(1, 1, kernel, stride=stride, padding=side)
    sizes = range(max(1, kernel - 2 * side), 40)
    for n in sizes:
        expected = conv(torch.zeros(1, 1, n)).shape[-1]
        assert output_lengths(n, kernel, stride, total_padding=2 * side) == expected
    as_tensor = output_lengths(torch.tensor(list(sizes)), kernel, stride, 2 * side)
    assert as_tensor.tolist() == [output_lengths(n, kernel, stride, 2 * side) for n in sizes]
    pool = nn.MaxPool1d(kernel, stride)
    for n in range(kernel, 40):
        assert output_lengths(n, kernel, stride) == pool(torch.zeros(1, 1, n)).shape[-1]


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("kernel", [(4, 4), (3, 3), (10, 2), (2, 8), (1, 1)])
def test_same_conv_keeps_size_and_matches_torch_same_padding(kernel):
    torch.manual_seed(0)
    ours = SameConv2d(2, 3, kernel)
    theirs = nn.Conv2d(2, 3, kernel, padding="same", bias=False)
    theirs.weight.data.copy_(ours.weight.data)
    x = torch.randn(2, 2, 13, 17)
    assert ours(x).shape == x.shape[:1] + (3,) + x.shape[2:]
    assert torch.allclose(ours(x), theirs(x), atol=1e-6)


def test_reverse_within_lengths_flips_each_item_and_is_its_own_inverse():
    x = torch.randn(3, 9, 2)
    lengths = torch.tensor([9, 4, 1])
    reversed_ = reverse_within_lengths(x, lengths)
    for i, n in enumerate(lengths.tolist()):
        assert torch.equal(reversed_[i, :n], x[i, :n].flip(0))
        assert torch.equal(reversed_[i, n:], x[i, n:])
    assert torch.equal(reverse_within_lengths(reversed_, lengths), x)


def test_masked_pooling_equals_pooling_of_valid_part():
    x = torch.randn(3, 5, 11)
    lengths = torch.tensor([11, 6, 2])
    x[1, :, 6:] = float("nan")
    x[2, :, 2:] = 1e9
    mask = length_mask(lengths, 11)
    mean, peak = masked_mean(x, mask), masked_max(x, mask)
    scores = torch.randn(3, 1, 4, 11)
    scores[1, ..., 6:] = float("inf")
    weights = masked_softmax(scores, mask)
    for i, n in enumerate(lengths.tolist()):
        assert torch.allclose(mean[i], x[i, :, :n].mean(-1), atol=1e-6)
        assert torch.equal(peak[i], x[i, :, :n].amax(-1))
        alone = torch.softmax(scores[i, ..., :n].flatten(), 0).reshape(1, 4, n)
        assert torch.allclose(weights[i, ..., :n], alone, atol=1e-7)
        assert torch.all(weights[i, ..., n:] == 0)


def test_masked_batch_norm_without_padding_is_batch_norm():
    torch.manual_seed(0)
    ours, theirs = MaskedBatchNorm2d(6), nn.BatchNorm2d(6)
    ours.train(), theirs.train()
    for step in range(3):
        x = 3.0 * torch.randn(4, 6, 5, 9) + step
        full = torch.ones(4, 9, dtype=torch.bool)
        assert torch.allclose(ours(x, full), theirs(x), atol=1e-5)
    assert torch.allclose(ours.running_mean, theirs.running_mean, atol=1e-6)
    assert torch.allclose(ours.running_var, theirs.running_var, atol=1e-5)
    assert int(ours.num_batches_tracked) == int(theirs.num_batches_tracked) == 3
    ours.eval(), theirs.eval()
    x = torch.randn(2, 6, 5, 7)
    assert torch.allclose(ours(x, torch.ones(2, 7, dtype=torch.bool)), theirs(x), atol=1e-6)


def test_masked_batch_norm_statistics_ignore_padding():
    """Padded items are normalised as BatchNorm2d normalises their valid parts laid end to end."""
    torch.manual_seed(0)
    ours, theirs = MaskedBatchNorm2d(3), nn.BatchNorm2d(3)
    lengths = [8, 3, 5]
    x = torch.randn(3, 3, 4, 8) * 2 + 1
    for i, n in enumerate(lengths):
        x[i, :, :, n:] = 1e4
    mask = length_mask(torch.tensor(lengths), 8)
    out = ours.train()(x, mask)
    joined = torch.cat([x[i, :, :, :n] for i, n in enumerate(lengths)], dim=-1)[None]
    expected = theirs.train()(joined)
    valid_out = torch.cat([out[i, :, :, :n] for i, n in enumerate(lengths)], dim=-1)[None]
    assert torch.allclose(valid_out, expected, atol=1e-5)
    assert torch.allclose(ours.running_mean, theirs.running_mean, atol=1e-6)
    assert torch.allclose(ours.running_var, theirs.running_var, atol=1e-5)


def test_masked_batch_norm_keeps_float32_statistics_of_a_bf16_input():
    """A bf16 input (as under autocast) is counted and summed in float32 (bf16 keeps 8 bits of a
    count or sum): the statistics are those of the same values in float32, the output is bf16."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 10, 30) + 100.0  # a large mean, where bf16 sums would drift most
    mask = length_mask(torch.tensor([30, 17]), 30)
    exact, halved = MaskedBatchNorm2d(3).train(), MaskedBatchNorm2d(3).train()
    exact(x.bfloat16().float(), mask)  # the same bf16 values, all in float32
    out = halved(x.bfloat16(), mask)
    assert out.dtype == torch.bfloat16 and halved.running_mean.dtype == torch.float32
    assert torch.allclose(halved.running_mean, exact.running_mean, rtol=1e-6)
    assert torch.allclose(halved.running_var, exact.running_var, rtol=1e-5)



def _autograd_masked_batch_norm(norm: MaskedBatchNorm2d, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The masked training statistics written as plain tensor operations, left to autograd (what
    MaskedBatchNorm2d computed before its gradient was written out)."""
    x = x.double()
    count = mask.sum() * x.shape[2]
    keep = mask[:, None, None, :]
    mean = torch.where(keep, x, 0.0).sum((0, 2, 3)) / count
    centred = x - mean[None, :, None, None]
    var = torch.where(keep, centred.square(), 0.0).sum((0, 2, 3)) / count
    out = centred * torch.rsqrt(var + norm.eps)[None, :, None, None]
    return out * norm.weight.double()[None, :, None, None] + norm.bias.double()[None, :, None, None]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16])
def test_masked_batch_norm_gradient_is_autograds(dtype):
    """The written-out gradient (input, weight, bias) against autograd through the masked statistics,
    with an upstream gradient at padded positions too (every output depends on the statistics) and
    large garbage in the padding, which must not leak; channels-last as the engine trains; an item
    with no valid frame among them."""
    torch.manual_seed(0)
    lengths = torch.tensor([11, 4, 0, 9, 11, 1, 6])
    x = torch.randn(7, 5, 7, 11, dtype=torch.float64) * 3 + 2
    for item, n in enumerate(lengths.tolist()):
        x[item, :, :, n:] = 1e4
    mask = length_mask(lengths, 11)
    upstream = torch.randn_like(x)
    norm = MaskedBatchNorm2d(5).train()
    with torch.no_grad():
        norm.weight.uniform_(0.5, 2.0), norm.bias.uniform_(-1.0, 1.0)
    reference = MaskedBatchNorm2d(5).train()
    reference.load_state_dict(norm.state_dict())

    ours_x = x.to(dtype).to(memory_format=torch.channels_last).requires_grad_()
    out = norm.to(torch.promote_types(dtype, torch.float32))(ours_x, mask)
    assert out.dtype == dtype
    (out.double() * upstream).sum().backward()
    theirs_x = ours_x.detach().double().requires_grad_()
    reference.double()
    (_autograd_masked_batch_norm(reference, theirs_x, mask) * upstream).sum().backward()

    tolerance = {torch.float64: 1e-9, torch.float32: 1e-4, torch.bfloat16: 2e-2}[dtype]
    # bf16: the output and the gradient reaching it are rounded to 8 bits, so relative to the largest
    for ours, theirs in ((ours_x.grad, theirs_x.grad), (norm.weight.grad, reference.weight.grad),
                         (norm.bias.grad, reference.bias.grad)):
        assert (ours.double() - theirs).abs().max() <= tolerance * theirs.abs().max()


def test_masked_batch_norm_of_a_constant_channel_is_its_bias():
    """Variance 0 on the valid frames (garbage in the padding): the output is the bias there, the
    running variance moves toward 0, and the gradient is finite."""
    norm = MaskedBatchNorm2d(2).train()
    with torch.no_grad():
        norm.bias.copy_(torch.tensor([0.5, -1.0]))
    lengths = torch.tensor([6, 3, 0])
    x = torch.full((3, 2, 4, 6), 2.0)
    x[1, :, :, 3:] = 1e4
    x.requires_grad_()
    out = norm(x, length_mask(lengths, 6))
    out.sum().backward()
    assert torch.equal(out[0], norm.bias.detach()[:, None, None].expand(2, 4, 6))
    assert torch.allclose(norm.running_var, torch.full((2,), 0.9))
    assert x.grad.isfinite().all()


def test_masked_batch_norm_sums_bf16_gradients_finely_whatever_their_layout():
    """A channels-last bf16 input with a gradient in the default layout: the fused backward kernel
    sums such a pair in bf16 (relative errors near 1e-3), so the gradient is put in the input's
    layout first."""
    torch.manual_seed(1)
    lengths = torch.tensor([30, 12, 30, 7, 30, 30, 25, 30])
    mask = length_mask(lengths, 30)
    x = (torch.randn(8, 4, 10, 30) * 3 + 2).bfloat16().to(memory_format=torch.channels_last).requires_grad_()
    upstream = (torch.randn(8, 4, 10, 30) * mask[:, None, None, :]).bfloat16().contiguous()
    norm = MaskedBatchNorm2d(4).train()
    norm(x, mask).backward(upstream)
    exact = upstream.double().sum((0, 2, 3))
    assert (norm.bias.grad.double() - exact).abs().max() <= 1e-5 * exact.abs().max()


def test_masked_batch_norm_passes_gradcheck_and_refuses_a_mask_that_is_not_a_length_mask():
    torch.manual_seed(0)
    norm = MaskedBatchNorm2d(2).double().train()
    x = torch.randn(3, 2, 3, 5, dtype=torch.float64, requires_grad=True)
    mask = length_mask(torch.tensor([5, 2, 4]), 5)
    assert torch.autograd.gradcheck(lambda x, w, b: norm(x, mask),
                                    (x, norm.weight, norm.bias))
    with pytest.raises(ValueError, match="no item of the batch has a valid frame"):
        norm(x, length_mask(torch.tensor([0, 0, 0]), 5))
    holes = mask.clone()
    holes[0, 1] = False
    with pytest.raises(ValueError, match="valid frames first"):
        norm(x, holes)

# -- pooling heads against their equations -----------------------------------------------


def _valid_positions(maps: torch.Tensor, n: int) -> np.ndarray:
    """(positions, channels) of one item's valid frames."""
    return maps[0, :, :, :n].reshape(maps.shape[1], -1).T.double().numpy()


def test_pooling_heads_follow_their_equations():
    torch.manual_seed(0)
    channels, frames, n = 6, 9, 5
    maps = torch.relu(torch.randn(1, channels, 3, frames))
    maps[..., n:] = 0.0  # the convolution stack hands heads zeros past the length
    mask = length_mask(torch.tensor([n]), frames)
    X = _valid_positions(maps, n)

    gap = GlobalAveragePooling(channels, N_CLASSES)
    w, b = gap.fc.weight.detach().double().numpy(), gap.fc.bias.detach().double().numpy()
    assert np.allclose(gap(maps, mask)[0].detach().numpy(), X.mean(0) @ w.T + b, atol=1e-5)

    bilinear = BilinearPooling(channels, N_CLASSES)
    second = (X.T @ X / len(X)).ravel()
    root = np.sign(second) * np.sqrt(np.abs(second) + 1e-8)
    w, b = bilinear.fc.weight.detach().double().numpy(), bilinear.fc.bias.detach().double().numpy()
    expected = (root / np.linalg.norm(root)) @ w.T + b
    assert np.allclose(bilinear(maps, mask)[0].detach().numpy(), expected, atol=1e-5)
    scaled = BilinearPooling(channels, N_CLASSES, scale=80.0)
    scaled.load_state_dict(bilinear.state_dict())
    expected = 80.0 * (root / np.linalg.norm(root)) @ w.T + b
    assert np.allclose(scaled(maps, mask)[0].detach().numpy(), expected, atol=1e-4)

    attention = AttentionPooling(channels, N_CLASSES)
    a = attention.top_down.weight.detach().double().numpy()[:, :, 0, 0]  # (classes, channels): a_k
    bias = attention.top_down.bias.detach().double().numpy()
    bvec = attention.bottom_up.weight.detach().double().numpy()[0, :, 0, 0]  # b
    bottom_up = X @ bvec
    weights = np.exp(bottom_up - bottom_up.max())
    weights /= weights.sum()
    expected = ((X @ a.T + bias) * weights[:, None]).sum(0)  # equation 8: 1^T (X a_k o X b)
    assert np.allclose(attention(maps, mask)[0].detach().numpy(), expected, atol=1e-5)


def test_cnn_tf_without_channels_is_the_filter_shape_probe():
    """Seed 002's Figure 2 probe: Conv1 of one filter shape, no max pooling, GAP, 16:4."""
    model = build("cnn_tf_gap", {"channels": (), "frequency_kernel": (30, 2), "time_kernel": (30, 2)}, n_dims=64)
    shapes = {tuple(p.shape) for n, p in model.named_parameters() if n.endswith("conv.frequency.weight")
              or n.endswith("conv.time.weight")}
    assert shapes == {(8, 1, 30, 2)}
    assert model.head.fc.weight.shape == (N_CLASSES, 16)
    assert model.min_frames == 1 and model.output_frames(37) == 37


def test_cnn_tf_first_layer_orientation():
    """Frequency-specific filters span 10 bins x 2 frames, time-specific ones 2 bins x 8 frames."""
    model = build("cnn_tf", {}, n_dims=64)
    first = model.convs[0].conv
    impulse = torch.zeros(1, 1, 64, 40)
    impulse[0, 0, 30, 20] = 1.0
    with torch.no_grad():
        first.frequency.weight.fill_(1.0)
        first.time.weight.fill_(1.0)
        maps = first(impulse)
    for group, (bins, frames) in ((maps[0, :8], (10, 2)), (maps[0, 8:], (2, 8))):
        rows, cols = torch.nonzero(group[0], as_tuple=True)
        extent = (int(rows.max() - rows.min()) + 1, int(cols.max() - cols.min()) + 1)
        assert extent == (bins, frames)
        assert torch.equal(group[0], group[-1])


# -- every model -------------------------------------------------------------------------


@pytest.mark.parametrize("n_dims", [129, 40, 39])
@pytest.mark.parametrize("name,options", SPECS, ids=SPEC_IDS)
def test_forward_and_backward_on_variable_lengths(name, options, n_dims):
    model = build(name, options, n_dims).train()
    x, lengths = padded_batch(n_dims, [45, 31, model.min_frames, 2], garbage=True)
    logits = model(x, lengths)
    assert logits.shape == (4, N_CLASSES)
    assert torch.isfinite(logits).all()
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2, 3])).backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{pname} got no gradient"
        assert torch.isfinite(p.grad).all(), f"{pname} has a non-finite gradient"
        assert p.grad.abs().sum() > 0, f"{pname} has an all-zero gradient"


@pytest.mark.parametrize("n_dims", [40, 129])
@pytest.mark.parametrize("name,options", SPECS, ids=SPEC_IDS)
def test_batched_equals_one_at_a_time(name, options, n_dims):
    model = build(name, options, n_dims)
    warm_up_norm_statistics(model, n_dims)
    lengths = [53, 20, 41, model.min_frames + 1, 3]
    x, lengths_t = padded_batch(n_dims, lengths, garbage=True)
    with torch.no_grad():
        batched = model(x, lengths_t)
        for i, n in enumerate(lengths):
            alone = model(x[i : i + 1, :, :n], lengths_t[i : i + 1])
            assert torch.allclose(batched[i], alone[0], rtol=1e-5, atol=1e-5), (i, n)


@pytest.mark.parametrize("name,options", SPECS, ids=SPEC_IDS)
def test_training_mode_output_does_not_depend_on_padding(name, options):
    """Masked batch norm keeps padding out of the training statistics too."""
    model = build(name, options).train()
    x, lengths = padded_batch(40, [33, 18, 25], garbage=True)
    more = torch.cat([x, 1e3 * torch.randn(3, 40, 19)], dim=-1)
    torch.manual_seed(5)  # the same dropout mask for both
    short = model(x, lengths)
    torch.manual_seed(5)
    assert torch.allclose(short, model(more, lengths), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name,options", SPECS, ids=SPEC_IDS)
@pytest.mark.parametrize("channels_last", [False, True])
def test_training_on_unpadded_windows_takes_the_fast_path_to_the_same_output(name, options, channels_last):
    """Equal-length windows skip masking and padding in training: the same logits as the masked path."""
    model = build(name, options).train()
    if channels_last:  # the layout the trainer gives convolutional models
        model = model.to(memory_format=torch.channels_last)
    x = torch.randn(3, 40, 33)
    full = torch.full((3,), 33)
    padded = torch.cat([x, 1e3 * torch.randn(3, 40, 5)], dim=-1)  # one garbage frame and more
    torch.manual_seed(5)
    fast = model(x, full)
    torch.manual_seed(5)
    assert torch.allclose(fast, model(padded, full), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "name,expected", [("cnn", 8), ("blstm", 1), ("cnn_blstm", 8), ("cnn_tf_gap", 16)]
)
def test_min_frames_is_what_the_layers_need(name, expected):
    model = build(name, {})
    assert model.min_frames == expected
    if hasattr(model, "convs"):  # the stack itself leaves no frame of a shorter input
        maps, _ = model.convs(torch.zeros(1, 1, 40, expected), torch.tensor([expected]))
        assert maps.shape[-1] == 1
        with pytest.raises(RuntimeError, match="too small"):
            model.convs(torch.zeros(1, 1, 40, expected - 1), torch.tensor([expected - 1]))


@pytest.mark.parametrize("name,options", SPECS, ids=SPEC_IDS)
def test_shorter_than_min_frames_is_zero_padded_to_it(name, options):
    model = build(name, options)
    warm_up_norm_statistics(model, 40)
    short = max(model.min_frames - 3, 1)
    x = torch.randn(1, 40, short)
    padded = torch.nn.functional.pad(x, (0, model.min_frames - short))
    with torch.no_grad():
        got = model(x, torch.tensor([short]))
        expected = model(padded, torch.tensor([model.min_frames]))
    assert torch.isfinite(got).all()
    assert torch.allclose(got, expected, atol=1e-6)


def test_wrong_input_shape_is_refused_with_the_expected_shape():
    model = build("cnn", {})
    with pytest.raises(ValueError, match=r"\(batch, 40, frames\)"):
        model(torch.zeros(2, 39, 20), torch.tensor([20, 20]))
    with pytest.raises(ValueError, match="lengths"):
        model(torch.zeros(2, 40, 20), torch.tensor([20.0, 20.0]))


# -- registry ------------------------------------------------------------------------------


def test_registry_names():
    names = list_models()
    expected = ["blstm", "cnn", "cnn_blstm", "cnn_tf", "frame_blstm", "frame_cnn", "gru", "layer_weighted", "linear",
                "dilated", "updown", "receptive_probe", "ds2", "progressive"] + [f"cnn_tf_{h}" for h in HEADS]
    assert sorted(names) == sorted(expected)
    assert build_model("cnn_tf_bilinear", 40, 4).config.head == "bilinear"
    assert build_model("cnn_tf", 40, 4, head="gap").config.head == "gap"


def test_bilinear_scale_belongs_to_the_bilinear_head_and_leaves_older_configs_alone():
    assert build_model("cnn_tf_bilinear", 40, 4, bilinear_scale=10.0).head.scale == 10.0
    assert build_model("cnn_tf_bilinear", 40, 4).head.scale == 1.0
    with pytest.raises(SerkitError, match="bilinear_scale is the bilinear head's"):
        build_model("cnn_tf_gap", 40, 4, bilinear_scale=10.0)
    with pytest.raises(SerkitError, match="bilinear_scale must be positive"):
        build_model("cnn_tf_bilinear", 40, 4, bilinear_scale=0.0)
    # unset, the field is left out of the recorded configuration, so committed hashes hold
    assert "bilinear_scale" not in to_dict(build_model("cnn_tf_bilinear", 40, 4).config)


@pytest.mark.parametrize("name,options", SPECS, ids=SPEC_IDS)
def test_config_round_trip_through_json(name, options):
    model = build(name, options)
    warm_up_norm_statistics(model, 40)
    text = json.dumps(model_config(model))
    rebuilt = model_from_config(json.loads(text))
    assert type(rebuilt) is type(model) and rebuilt.config == model.config
    rebuilt.load_state_dict(model.state_dict())
    rebuilt.eval()
    x, lengths = padded_batch(40, [30, 17], garbage=False)
    with torch.no_grad():
        assert torch.equal(rebuilt(x, lengths), model(x, lengths))


def test_registry_errors_name_the_problem():
    with pytest.raises(SerkitError, match="unknown model 'cnnn'.*cnn_blstm"):
        build_model("cnnn", 40, 4)
    with pytest.raises(SerkitError, match="unknown option.*widht.*channels"):
        build_model("cnn", 40, 4, widht=3)
    with pytest.raises(SerkitError, match="pooling must be one of"):
        build_model("cnn", 40, 4, pooling="avg")
    with pytest.raises(SerkitError, match="head"):
        build_model("cnn_tf_gap", 40, 4, head="attention")
    with pytest.raises(SerkitError, match="at least 16 input dims"):
        build_model("cnn_tf", 12, 4)
    with pytest.raises(SerkitError, match="lacks n_classes"):
        model_from_config({"name": "blstm", "config": {"n_dims": 40}})


# -- ONNX --------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("name,options", SPECS, ids=SPEC_IDS)
def test_onnx_export_with_dynamic_batch_and_time(name, options, tmp_path):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    model = build(name, options)
    warm_up_norm_statistics(model, 40)
    example = padded_batch(40, [40, 25], garbage=False)
    path = tmp_path / f"{name}.onnx"
    torch.onnx.export(
        model,
        example,
        str(path),
        dynamo=False,
        input_names=["features", "lengths"],
        output_names=["logits"],
        dynamic_axes={
            "features": {0: "batch", 2: "frames"},
            "lengths": {0: "batch"},
            "logits": {0: "batch"},
        },
    )
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    x, lengths = padded_batch(40, [131, 90, 17, model.min_frames, 2], garbage=True, seed=3)
    (got,) = session.run(None, {"features": x.numpy(), "lengths": lengths.numpy()})
    with torch.no_grad():
        expected = model(x, lengths).numpy()
    assert got.shape == (5, N_CLASSES)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)

