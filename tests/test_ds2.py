"""Seed 003's recognizer (``ds2``): its layers and frame rate, padding that never leaks (into the
logits or the CTC loss), gradients, ONNX, the recipe's speaker split, and a CTC loss that falls on
a few real utterances."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from serkit.errors import SerkitError
from serkit.experiments.ctc_targets import character_set, encode_text, normalise_text
from serkit.experiments.recipe import load_recipe
from serkit.features.normalise import normalise_utterance
from serkit.features.presets import get_feature
from serkit.models import build_model
from serkit.models.ds2 import PAD_LOGIT
from serkit.training.ctc import BLANK_INDEX, CTCRecognition

RECIPE = "recipes/seed003/seed003-ds2-librispeech.yaml"
SMALL = {"channels": (4, 4), "hidden": 16, "num_layers": 4}
N_DIMS, N_CLASSES = 161, 6


def small_model(seed: int = 0, **options):
    torch.manual_seed(seed)
    return build_model("ds2", N_DIMS, N_CLASSES, **{**SMALL, **options})


def padded(lengths: list[int], seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Random features, NaN and huge garbage past each item's length."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(len(lengths), N_DIMS, max(lengths), generator=g)
    for i, n in enumerate(lengths):
        x[i, :, n:] = 1e6 * torch.randn(N_DIMS, max(lengths) - n, generator=g)
        if n < max(lengths):
            x[i, 0, n] = float("nan")
    return x, torch.tensor(lengths)


def evaluating(model):
    """The model in evaluation mode, after training passes gave its norms non-trivial statistics."""
    model.train()
    with torch.no_grad():
        for seed in range(2):
            model(*padded([40, 23, 31], seed=10 + seed))
    return model.eval()


def test_layers_are_the_papers_in_order_and_the_first_convolution_halves_the_frame_rate():
    model = build_model("ds2", N_DIMS, 29)
    assert [name for name, _ in model.layers()] == ["conv1", "conv2", "gru1", "gru2", "gru3", "gru4", "gru5",
                                                    "output"]
    assert model.gru1.rnn.forward_lstms[0].input_size == 16 * 41  # 161 bins -> 81 -> 41, times 16 maps
    small = small_model(time_strides=(2, 2))
    for n in (1, 2, 7, 50, 101):
        assert small_model().output_frames(n) == -(-n // 2)
        assert small.output_frames(n) == -(-n // 4)
        with torch.no_grad():
            assert small.eval()(torch.randn(1, N_DIMS, n), torch.tensor([n])).shape == (1, -(-n // 4), N_CLASSES)


def test_a_padded_batch_gives_each_item_its_logits_alone_and_blanks_past_its_end():
    model = evaluating(small_model())
    lengths = [57, 20, 1, 33]
    x, lengths_t = padded(lengths)
    with torch.no_grad():
        batch = model(x, lengths_t)
        for i, n in enumerate(lengths):
            alone = model(x[i : i + 1, :, :n], lengths_t[i : i + 1])[0]
            frames = model.output_frames(n)
            assert alone.shape[0] == frames
            torch.testing.assert_close(batch[i, :frames], alone, rtol=1e-5, atol=1e-5)
            past = batch[i, frames:]
            assert (past[:, BLANK_INDEX] == 0).all() and (past[:, 1:] == PAD_LOGIT).all()


def test_training_mode_output_does_not_depend_on_padding():
    model = small_model().train()
    x, lengths = padded([33, 18, 25])
    more = torch.cat([x, 1e3 * torch.randn(3, N_DIMS, 11)], dim=-1)
    short, longer = model(x, lengths), model(more, lengths)
    torch.testing.assert_close(longer[:, : short.shape[1]], short, rtol=1e-5, atol=1e-5)


def test_the_trainers_channels_last_layout_and_unpadded_fast_path_give_the_same_output():
    model = small_model().train()
    fast = small_model().train().to(memory_format=torch.channels_last)
    x = torch.randn(3, N_DIMS, 33)
    full = torch.full((3,), 33)
    padded_x = torch.cat([x, 1e3 * torch.randn(3, N_DIMS, 6)], dim=-1)  # the masked path
    torch.testing.assert_close(fast(x, full), model(padded_x, full)[:, :17], rtol=1e-4, atol=1e-4)


def test_the_ctc_loss_of_a_padded_batch_is_the_mean_of_each_items_alone():
    """The task counts frames at the input rate; the blanks past each end add nothing."""
    model = evaluating(small_model())
    task = CTCRecognition(("<b>", " ", "A", "B", "C", "D"))
    lengths = [60, 31, 44]
    texts = [np.array([2, 3, 1, 4, 4]), np.array([5, 2]), np.array([3, 3, 3])]
    x, lengths_t = padded(lengths)
    with torch.no_grad():
        batch = task.loss(model(x, lengths_t), task.attach_frames(task.collate_targets(texts), lengths_t))
        alone = [task.loss(model(x[i : i + 1, :, :n], lengths_t[i : i + 1]),
                           task.attach_frames(task.collate_targets([texts[i]]), lengths_t[i : i + 1]))
                 for i, n in enumerate(lengths)]
    assert batch.item() == pytest.approx(float(np.mean(alone)), rel=1e-5)


def test_every_parameter_learns_from_the_ctc_loss():
    model = small_model().train()
    task = CTCRecognition(("<b>", " ", "A", "B", "C", "D"))
    x, lengths = padded([45, 30, 8])
    targets = task.attach_frames(task.collate_targets([np.array([2, 3, 4]), np.array([5]), np.array([1, 2])]),
                                 lengths)
    task.loss(model(x, lengths), targets).backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
        assert parameter.grad.abs().sum() > 0, name


@pytest.mark.parametrize("options, message", [
    ({"time_kernels": (10, 11)}, "kernels must be odd"),
    ({"channels": (16,)}, "channels must be a list of 2 integers"),
    ({"num_layers": 0}, "num_layers must be positive"),
])
def test_a_configuration_that_cannot_work_is_refused(options, message):
    with pytest.raises(SerkitError, match=message):
        build_model("ds2", N_DIMS, N_CLASSES, **options)


@pytest.mark.filterwarnings("ignore")
def test_onnx_export_gives_the_logits_of_pytorch(tmp_path):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    model = evaluating(small_model())
    path = tmp_path / "ds2.onnx"
    torch.onnx.export(model, padded([40, 25]), str(path), dynamo=False, input_names=["features", "lengths"],
                      output_names=["logits"], opset_version=17,
                      dynamic_axes={"features": {0: "batch", 2: "frames"}, "lengths": {0: "batch"},
                                    "logits": {0: "batch", 1: "frames"}})  # as serkit export names them
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    x, lengths = padded([131, 90, 17, 2], seed=3)
    (got,) = session.run(None, {"features": x.numpy(), "lengths": lengths.numpy()})
    with torch.no_grad():
        np.testing.assert_allclose(got, model(x, lengths).numpy(), rtol=1e-4, atol=1e-4)


def test_the_recipe_holds_out_speakers_for_validation_and_test(librispeech_root):
    from serkit.corpora import read_corpus
    from serkit.protocols import make_folds

    recipe = load_recipe(RECIPE)
    assert recipe.model == "ds2" and recipe.task == "ctc" and recipe.train.sort_first_epoch
    table = read_corpus("librispeech", librispeech_root)
    (fold,) = make_folds(table, recipe.protocol, recipe.validation, hashes=table["path"].to_numpy())
    parts = {name: set(table["speaker"].iloc[list(rows)]) for name, rows in fold.parts.items()}
    assert len(parts["test"]) == len(parts["validation"]) == 2 and len(parts["train"]) == 12
    assert not (parts["train"] & parts["test"]) and not (parts["train"] & parts["validation"])
    for part in ("validation", "test"):  # a woman and a man each
        assert set(table.set_index("speaker").loc[sorted(parts[part]), "gender"]) == {"female", "male"}


def test_the_ctc_loss_falls_on_a_few_real_utterances(librispeech_root):
    """A smoke test of the whole model on real spectrograms: the 2 shortest utterances of a
    speaker, 10 Adam steps."""
    from serkit.audio.io import load_audio

    feature = get_feature(load_recipe(RECIPE).features)
    flacs = sorted((librispeech_root / "train-clean-5" / "1737").glob("*/*.flac"), key=lambda p: p.stat().st_size)[:2]
    lines = dict(line.split(" ", 1) for p in {f.parent for f in flacs}
                 for line in next(p.glob("*.trans.txt")).read_text().splitlines())
    texts = [normalise_text(lines[f.stem]) for f in flacs]
    labels = character_set(texts)
    arrays = [normalise_utterance(feature.process_signal(load_audio(f, feature.sample_rate))) for f in flacs]
    x = torch.nn.utils.rnn.pad_sequence([torch.from_numpy(a.T.astype(np.float32)) for a in arrays],
                                        batch_first=True).transpose(1, 2)
    lengths = torch.tensor([a.shape[1] for a in arrays])
    task = CTCRecognition(labels)
    targets = task.attach_frames(task.collate_targets([encode_text(t, labels) for t in texts]), lengths)
    torch.manual_seed(0)
    model = build_model("ds2", x.shape[1], len(labels), channels=(4, 4), hidden=16, num_layers=4).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=5e-3)
    losses = []
    for _ in range(10):
        optimiser.zero_grad()
        loss = task.loss(model(x, lengths), targets)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    print(f"CTC loss {losses[0]:.2f} -> {losses[-1]:.2f} over {len(losses)} steps")
    assert losses[-1] < 0.7 * losses[0] and np.isfinite(losses).all()
