"""The predictors' batches and chunks: batches bounded in items and in padded frames, and a long
input's chunks covering each output frame exactly once with the context its model needs."""

from __future__ import annotations

import numpy as np
import pytest

from serkit.inference.batching import batches, chunks


def test_batches_hold_at_most_the_items_and_padded_frames_allowed():
    rng = np.random.default_rng(0)
    lengths = list(rng.integers(50, 3000, size=200)) + [9000]  # one item longer than the budget
    grouped = batches(lengths, batch_size=8, max_frames=6000)
    assert sorted(i for batch in grouped for i in batch) == list(range(len(lengths)))
    for batch in grouped:
        longest = max(lengths[i] for i in batch)
        assert len(batch) <= 8 and (len(batch) * longest <= 6000 or len(batch) == 1)
    order = [lengths[i] for batch in grouped for i in batch]
    assert order == sorted(order)  # shortest first, as padding wastes least


@pytest.mark.parametrize(("frames", "longest", "context"), [(1000, 100, 15), (1000, 31, 15), (95, 100, 15), (1000, 100, None)])
def test_chunks_cover_every_output_frame_once_with_its_context(frames, longest, context):
    cut = chunks(3, frames, longest, context)
    kept = [frame for c in cut for frame in range(c.start + c.keep, c.start + c.keep + c.kept)]
    assert kept == list(range(frames)) and all(c.owner == 3 for c in cut)
    if context is None or frames <= longest:
        assert len(cut) == 1
        return
    for c in cut:
        first, last = c.start + c.keep, c.start + c.keep + c.kept
        assert c.start == max(0, first - context) and c.stop == min(frames, last + context)
        assert c.stop - c.start <= max(longest, 2 * context + 1)


def test_a_model_with_a_window_is_cut_exactly_where_a_recurrent_one_is_not():
    from serkit.models import build_model, model_config
    from serkit.models.registry import frames_of_context

    assert frames_of_context(model_config(build_model("frame_cnn", 40, 5))) == 15
    assert frames_of_context(model_config(build_model("frame_blstm", 40, 5))) is None
