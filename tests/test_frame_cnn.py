"""Seed 001's frame ConvNet: once per utterance equals once per 31-frame window, padding never leaks,
every k-th frame equals those frames of the full output, and its layers are the paper's."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from serkit.errors import SerkitError
from serkit.models import build_model
from serkit.models.transfer import freeze, hold_frozen_norms
from serkit.training.optim import training_layout


def _model(seed: int = 0, **options):
    torch.manual_seed(seed)
    model = build_model("frame_cnn", 40, 5, **options)
    # running statistics far from (0, 1), so that a wrong batch-norm path shows
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    return model.eval()


def _per_window(model, x: torch.Tensor) -> torch.Tensor:
    """The plain Table 1 network on each frame's own centred window (valid convolutions, 2x2 pools
    with stride 2, flatten, fully connected layers): the reference the per-utterance path must equal."""
    half = model.config.context // 2
    padded = F.pad(x, (half, half))
    frames = x.shape[-1]
    windows = torch.stack([padded[:, :, t:t + model.config.context] for t in range(frames)], 1)
    h = windows.flatten(0, 1).unsqueeze(1)  # (batch * frames, 1, bands, context)

    def conv(layer, h):
        h = F.conv2d(h, layer.conv.weight, layer.conv.bias)
        return F.max_pool2d(F.relu(F.batch_norm(h, layer.norm.running_mean, layer.norm.running_var,
                                                layer.norm.weight, layer.norm.bias, eps=layer.norm.eps)), 2)

    h = conv(model.conv2, conv(model.conv1, h))
    for layer in (model.fc3, model.fc4, model.fc5):
        weight = layer.conv.weight.flatten(1)
        h = F.linear(h.flatten(1), weight, layer.conv.bias)
        h = F.relu(F.batch_norm(h, layer.norm.running_mean, layer.norm.running_var, layer.norm.weight,
                                layer.norm.bias, eps=layer.norm.eps))
    out = F.linear(h, model.output.weight.flatten(1), model.output.bias)
    return out.reshape(x.shape[0], frames, -1)


def test_one_pass_over_the_utterance_equals_the_network_on_every_window():
    model = _model()
    x = torch.randn(2, 40, 47)
    with torch.no_grad():
        whole = model(x, torch.tensor([47, 47]))
        reference = _per_window(model, x)
    assert whole.shape == (2, 47, 5)
    torch.testing.assert_close(whole, reference, rtol=1e-4, atol=1e-4)


def test_table_1_sizes_and_he_initialisation():
    model = _model()
    assert model.config.pooled_window == (5, 8)  # 31 frames x 40 bands after both poolings
    assert tuple(model.fc3.conv.weight.shape) == (1024, 128, 8, 5)
    assert [name for name, _ in model.layers()] == ["conv1", "conv2", "fc3", "fc4", "fc5", "output"]
    weight = model.fc4.conv.weight
    assert abs(weight.std().item() - (2 / 1024) ** 0.5) < 0.002  # N(0, 2 / fan_in)


def test_a_padded_batch_gives_each_item_its_own_frames():
    model = _model()
    x = torch.randn(3, 40, 60)
    lengths = torch.tensor([60, 33, 1])
    with torch.no_grad():
        batch = model(x, lengths)
        for k, n in enumerate(lengths.tolist()):
            alone = model(x[k:k + 1, :, :n], lengths[k:k + 1])
            torch.testing.assert_close(batch[k, :n], alone[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("step", "offset"), [(1, 0), (4, 0), (4, 3), (3, 1)])
def test_every_kth_frame_equals_those_frames_of_the_whole_output(step, offset):
    model = _model()
    x = torch.randn(2, 40, 50)
    lengths = torch.tensor([50, 50])
    with torch.no_grad():
        every = model.logits_at(x, lengths, step, offset)
        whole = model.logits(x, lengths)
    torch.testing.assert_close(every, whole[:, offset::step], rtol=1e-5, atol=1e-5)


def test_freezing_two_layers_keeps_their_weights_and_batch_norm_statistics_through_training():
    model = _model()
    frozen = freeze(model, 2)
    assert frozen == ["conv1", "conv2"]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimiser = torch.optim.RMSprop([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    for _ in range(3):
        model.train()
        hold_frozen_norms(model)
        loss = model(torch.randn(2, 40, 40), torch.tensor([40, 30])).square().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    after = model.state_dict()
    for key in before:
        same = torch.equal(before[key], after[key])
        assert same == key.startswith(("conv1.", "conv2.")), key


def test_the_head_over_layer_3s_cached_output_is_the_same_network_in_evaluation_and_in_training():
    model = _model()
    assert model.frozen_split(2) is None  # below layer 3 a dropout would sit inside the cut
    stem, head = model.frozen_split(3)
    assert [name for name, _ in head.layers()] == ["fc4", "fc5", "output"]
    assert head.fc4 is model.fc4  # shared: training the head trains the model
    x, lengths = torch.randn(2, 40, 50), torch.tensor([50, 37])
    with torch.no_grad():
        cached = torch.cat([stem(x[:1], lengths[:1]), F.pad(stem(x[1:, :, :37], lengths[1:]), (0, 13))])
        whole, over_cache = model(x, lengths), head(cached, lengths)
    torch.testing.assert_close(over_cache[0], whole[0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(over_cache[1, :37], whole[1, :37], rtol=1e-5, atol=1e-5)
    # a training step on every 4th frame, laid out as serkit trains: the same dropout draws and gradients
    freeze(training_layout(model), 3)
    gradients = []
    for net, inputs in ((model, x), (head, cached)):
        model.train()
        hold_frozen_norms(model)
        model.zero_grad()
        torch.manual_seed(7)
        logits = net(inputs, lengths, every=(4, 1))  # frames 1, 5, ..., 49: 13, of which 9 within 37
        torch.cat([logits[0], logits[1, :9]]).square().mean().backward()  # padding is never a target
        gradients.append(model.fc4.conv.weight.grad.clone())
    torch.testing.assert_close(gradients[1], gradients[0], rtol=1e-4, atol=1e-6)


def test_a_window_that_does_not_survive_the_poolings_is_refused():
    with pytest.raises(SerkitError, match="does not survive"):
        build_model("frame_cnn", 40, 5, context=7)
    with pytest.raises(SerkitError, match="odd"):
        build_model("frame_cnn", 40, 5, context=30)


def test_training_on_every_fourth_frame_scores_those_frames_and_evaluates_every_frame():
    from serkit.training import FeatureDataset, FrameClassification, Trainer, TrainConfig
    from serkit.training.config import OptimiserConfig

    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((40, n)).astype(np.float32) for n in (37, 52, 45, 60)]
    # a frame's class is whether band 0 is positive: learnable from the window's centre
    targets = [(x[0] > 0).astype(np.int64) for x in arrays]
    data = FeatureDataset.from_arrays(arrays, targets, [f"u{k}" for k in range(4)])
    task = FrameClassification(("low", "high"))
    calls = []
    model = build_model("frame_cnn", 40, 2, hidden=32, channels=(4, 8))
    original = model.logits_at
    model.logits_at = lambda x, lengths, step, offset: calls.append((step, offset)) or original(x, lengths, step, offset)
    config = TrainConfig(epochs=2, batch_size=2, frame_step=4, optimiser=OptimiserConfig(name="rmsprop", lr=1e-3))
    result = Trainer(model, task, config).fit(data, data)
    trained = [offset for step, offset in calls if step == 4]
    assert len(trained) == 4 and all(0 <= offset < 4 for offset in trained)  # 2 batches x 2 epochs
    assert len(set(trained)) > 1  # a fresh offset per batch
    assert (1, 0) in calls  # evaluation: every frame
    row = result.history[-1]
    assert 0.0 <= row["train_ua"] <= 1.0 and 0.0 <= row["validation_ua"] <= 1.0


def test_frame_step_needs_targets_per_frame():
    from serkit.training import FeatureDataset, Trainer, TrainConfig, UtteranceClassification

    data = FeatureDataset.from_arrays([np.zeros((40, 20), np.float32)] * 2, [0, 1], ["a", "b"])
    model = build_model("cnn", 40, 2)
    with pytest.raises(SerkitError, match="frame_step"):
        Trainer(model, UtteranceClassification(("a", "b")), TrainConfig(epochs=1, frame_step=2)).fit(data)


def test_weight_decay_on_the_convolution_weights_only():
    from serkit.training.config import OptimiserConfig
    from serkit.training.optim import build_optimiser, parameter_groups

    model = build_model("frame_cnn", 40, 3, hidden=16, channels=(4, 8))
    config = OptimiserConfig(name="rmsprop", lr=1e-4, weight_decay=2e-3,
                             decay_only=("conv1.conv.weight", "conv2.conv.weight"))
    optimiser = build_optimiser(parameter_groups(model.named_parameters(), config), config)
    decayed, rest = optimiser.param_groups
    assert decayed["weight_decay"] == 2e-3 and rest["weight_decay"] == 0.0
    assert [p.shape for p in decayed["params"]] == [model.conv1.conv.weight.shape, model.conv2.conv.weight.shape]
    with pytest.raises(SerkitError, match="names no parameter"):
        parameter_groups(model.named_parameters(), OptimiserConfig(weight_decay=1e-3, decay_only=("conv9",)))
