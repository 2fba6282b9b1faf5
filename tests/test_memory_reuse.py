"""``serkit.devices.reuse_freed_memory``: inside the block a large freed tensor's memory is reused
(no fresh page faults), after it the heap is handed back; training's numbers do not change."""

from __future__ import annotations

import os
import platform
import threading
import resource
from pathlib import Path

import pytest
import torch

from serkit.devices import reuse_freed_memory
from serkit.training import TrainConfig, Trainer, UtteranceClassification, build_seeded

from test_training_engine import FAST, LABELS, UtteranceNet, assert_same_weights, utterance_data, weights_of

pytestmark = [
    pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's allocator only"),
    # A thread other than the main one allocates from its own arena, whose heaps hold at most 64 MB,
    # so its large blocks are mapped afresh whatever the setting (pytest-xdist runs tests in one).
    pytest.mark.skipif(threading.current_thread() is not threading.main_thread(),
                       reason="glibc keeps freed blocks on the main thread's heap only"),
]

MB = 2**20


def faults_of_repeated_allocations(times: int = 4, size: int = 200 * MB) -> int:
    """Minor page faults while a ``size``-byte tensor is allocated, written and freed ``times`` times."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(times):
        torch.ones(size // 4).sum()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def resident_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize()


@pytest.fixture
def no_user_settings(monkeypatch):
    """No ``MALLOC_*`` variable of the user's, which would switch the reuse off."""
    for name in [n for n in os.environ if n.startswith("MALLOC_")]:
        monkeypatch.delenv(name)


def test_a_large_freed_block_is_reused_inside_and_handed_back_after(no_user_settings):
    pages = 200 * MB // resource.getpagesize()
    assert faults_of_repeated_allocations() > 3 * pages  # every allocation mapped and faulted afresh
    with reuse_freed_memory():
        faults_of_repeated_allocations(1)  # the first one grows the heap
        assert faults_of_repeated_allocations() < 1.5 * pages  # at most one of the four faulted in
        held = resident_bytes()
    assert held - resident_bytes() > 150 * MB  # trimmed on leaving
    assert faults_of_repeated_allocations() > 3 * pages  # and the default back


def test_an_inner_block_leaves_the_outer_one_reusing(no_user_settings):
    pages = 200 * MB // resource.getpagesize()
    with reuse_freed_memory():
        with reuse_freed_memory():
            faults_of_repeated_allocations(1)
        assert faults_of_repeated_allocations() < 1.5 * pages  # at most one of the four faulted in
    assert faults_of_repeated_allocations() > 3 * pages


def test_a_users_own_malloc_settings_are_left_alone(monkeypatch):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "2")
    pages = 200 * MB // resource.getpagesize()
    with reuse_freed_memory():
        assert faults_of_repeated_allocations() > 3 * pages


def test_training_gives_the_same_weights_with_and_without_it(monkeypatch):
    config = TrainConfig(epochs=3, batch_size=8, optimiser=FAST)
    trained = []
    for user_settings in (False, True):  # a MALLOC_ variable switches the reuse off
        if user_settings:
            monkeypatch.setenv("MALLOC_ARENA_MAX", "8")
        model = build_seeded(lambda: UtteranceNet(4, 3), 0)
        trainer = Trainer(model, UtteranceClassification(LABELS), config, threads=1)
        trainer.fit(utterance_data(40, 1), utterance_data(20, 2))
        trained.append(weights_of(model))
    assert_same_weights(*trained)
