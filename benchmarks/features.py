"""Feature extraction speed: serkit against librosa on all of EMO-DB, end to end.

Each side reads every file, resamples it to 16 kHz (a no-op for EMO-DB, which
is 16 kHz already) and computes the feature, in the same number of worker
processes (default: all cores), with no feature cache.  Every worker is warmed
up (imports, compiled kernels, filterbanks) before the clock starts, and the
two sides alternate over several rounds; the best round of each counts,
because the machine may be shared.  The BLAS and OpenMP thread pools are held
to one thread per process for both sides.

Tasks: ``logmel-seed001`` (40 log mel bands, Hamming 25 ms / 10 ms, 512-point
FFT) and ``mfcc-seed000`` (13 MFCC with deltas and delta-deltas, Hann 20 ms /
10 ms, 512-point FFT), each against librosa with the same settings: librosa
``load`` (soundfile, then soxr if the rate differs), ``feature.melspectrogram``,
``power_to_db``, ``feature.mfcc`` and ``feature.delta``.  Before timing, both
sides' outputs for every file are compared with the tolerance of
``tests/test_features_spectral.py``.

The compute floor counts the arithmetic the task cannot avoid, per frame: a
real FFT (2.5 N log2 N flops), the filterbank's non-zero weights (2 flops
each), the DCT and the delta filters, over all frames; at the float32 matrix
product rate of one core times the workers, measured here with numpy.

    python benchmarks/features.py [--root ../shared/data/emodb] [--workers N] [--rounds 5]
"""

from __future__ import annotations

import os

# One thread per process for both sides, set before numpy is imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import math  # noqa: E402
import multiprocessing  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from serkit.features.extract import chunk_size  # noqa: E402
from serkit.features.presets import get_feature  # noqa: E402
from machine import cpu_model  # noqa: E402  # benchmarks/machine.py

REPO = Path(__file__).resolve().parents[1]
RATE = 16_000
TASKS = {"logmel": "logmel-seed001", "mfcc": "mfcc-seed000"}
EPS32 = float(np.finfo(np.float32).eps)


# -- the two sides --------------------------------------------------------------------


def librosa_logmel(task: str, y: np.ndarray) -> np.ndarray:
    import librosa  # noqa: PLC0415

    c = _FEATURES[task].config
    mel = librosa.feature.melspectrogram(
        y=y, sr=RATE, n_fft=c.n_fft, hop_length=c.hop, win_length=c.win_length, window=c.window, n_mels=c.n_mels
    )
    return librosa.power_to_db(mel, top_db=None)


def librosa_feature(task: str, path: str) -> np.ndarray:
    import librosa  # noqa: PLC0415

    return librosa_compute(task, librosa.load(path, sr=RATE)[0])


def librosa_compute(task: str, y: np.ndarray) -> np.ndarray:
    import librosa  # noqa: PLC0415

    logmel = librosa_logmel(task, y)
    if task == "logmel":
        return logmel
    mfcc = librosa.feature.mfcc(S=logmel, n_mfcc=_FEATURES[task].config.n_mfcc)
    return np.concatenate([mfcc, librosa.feature.delta(mfcc), librosa.feature.delta(mfcc, order=2)])


def serkit_feature(task: str, path: str) -> np.ndarray:
    return _FEATURES[task].process_file(path)


_FEATURES = {task: get_feature(name) for task, name in TASKS.items()}
_SIDES = {"serkit": serkit_feature, "librosa": librosa_feature}
_WORKER: tuple[str, str] | None = None


def _init_worker(side: str, task: str, warm_path: str, barrier) -> None:
    global _WORKER
    _WORKER = (side, task)
    _SIDES[side](task, warm_path)  # imports, compiled kernels, cached filterbanks
    barrier.wait()  # every worker is warm before the clock starts


def _work(path: str) -> int:
    side, task = _WORKER
    return _SIDES[side](task, path).shape[1]


def timed_run(side: str, task: str, paths: list[str], workers: int) -> float:
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(workers + 1)
    with context.Pool(workers, initializer=_init_worker, initargs=(side, task, paths[0], barrier)) as pool:
        barrier.wait()
        start = time.perf_counter()
        frames = sum(pool.map(_work, paths, chunksize=chunk_size(len(paths), workers)))
        elapsed = time.perf_counter() - start
    assert frames == sum(1 + sf.info(p).frames // 160 for p in paths)
    return elapsed


# -- equal results ---------------------------------------------------------------------


def check_equal(task: str, paths: list[str]) -> str:
    """The rule of tests/test_features_spectral.py, on every file.

    Log-mel: 1e-3 dB for bands within 30 dB of their frame's peak, float32
    rounding (100x its bound) beyond.  MFCC: each coefficient within the norm of
    its frame's log-mel difference (the DCT is orthonormal) plus rounding, the
    deltas within the largest coefficient difference plus rounding.
    """
    import librosa  # noqa: PLC0415

    strong = ratio = worst = 0.0
    for path in paths:
        ours, ref = serkit_feature(task, path), librosa_feature(task, path)
        assert ours.shape == ref.shape, path
        if task == "logmel":
            ours_mel, ref_mel = ours, ref
        else:
            ours_mel = _FEATURES[task]._logmel.process_file(path)
            ref_mel = librosa_logmel(task, librosa.load(path, sr=RATE)[0])
        head = ref_mel.max(axis=0, keepdims=True) - ref_mel
        diff = np.abs(ours_mel - ref_mel)
        strong = max(strong, float(diff[head <= 30].max()))
        ratio = max(ratio, float((diff / ((20 / math.log(10)) * EPS32 * 10 ** (head / 20))).max()))
        if task == "mfcc":
            n = _FEATURES[task].config.n_mfcc
            rounding = 4 * EPS32 * np.abs(ref_mel).sum(axis=0)
            cepstrum = np.abs(ours[:n] - ref[:n])
            assert (cepstrum <= np.sqrt((diff**2).sum(axis=0)) + rounding).all(), path
            assert np.abs(ours[n:] - ref[n:]).max() <= cepstrum.max() + rounding.max(), path
            worst = max(worst, float(np.abs(ours - ref).max()))
    assert strong <= 1e-3 and ratio <= 100, (strong, ratio)
    text = f"log-mel within {strong:.1e} dB near each frame's peak, {ratio:.0f}x the float32 rounding bound beyond"
    return text + (f"; MFCC and deltas within {worst:.1e}" if task == "mfcc" else "")


# -- the compute floor -----------------------------------------------------------------------


def breakdown(task: str, paths: list[str], rounds: int) -> dict[str, float]:
    """One process: best time to read every file, and to compute every feature from memory."""
    import librosa  # noqa: PLC0415

    from serkit.audio.io import load_audio  # noqa: PLC0415

    feature = _FEATURES[task]
    signals = [load_audio(p) for p in paths]
    steps = {
        "serkit read": lambda: [load_audio(p) for p in paths],
        "librosa read": lambda: [librosa.load(p, sr=RATE) for p in paths],
        "serkit features": lambda: [feature.compute(x) for x in signals],
        "librosa features": lambda: [librosa_compute(task, x) for x in signals],
    }
    return {name: min(_time(step) for _ in range(rounds)) for name, step in steps.items()}


def flops_per_frame(task: str) -> float:
    feature = _FEATURES[task]
    c = feature.config
    logmel = feature if task == "logmel" else feature._logmel
    flops = 2.5 * c.n_fft * math.log2(c.n_fft)  # real FFT
    flops += 2 * np.count_nonzero(logmel.filterbank.weights)  # mel filterbank
    if task == "mfcc":
        flops += 2 * c.n_mfcc * c.n_mels  # DCT
        flops += c.deltas * 2 * c.delta_width * c.n_mfcc  # delta filters
    return flops


def matmul_rate(n: int = 1024, repeats: int = 10) -> float:
    """Best float32 matrix product rate of one core, flop/s."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n)).astype(np.float32) for _ in range(2))
    a @ b
    best = min(_time(lambda: a @ b) for _ in range(repeats))
    return 2 * n**3 / best


def in_fresh_process(fn, *args):
    """``fn(*args)`` in a spawned process.

    The check computes every file's features on both sides; run in this process,
    it leaves a heap that the timed workers fork from, and serkit's workers then
    ran about 10% slower (librosa's no slower), whatever the order of the rounds.
    """
    from concurrent.futures import ProcessPoolExecutor  # noqa: PLC0415

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def _time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=REPO.parent / "shared" / "data" / "emodb")
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    paths = sorted(str(p) for p in (args.root / "wav").glob("*.wav"))
    if not paths:
        sys.exit(f"no .wav files in {args.root / 'wav'}")
    audio_seconds = sum(sf.info(p).duration for p in paths)
    frames = sum(1 + sf.info(p).frames // 160 for p in paths)
    print(f"{len(paths)} files, {audio_seconds:.1f} s of audio, {frames} frames; {args.workers} workers, "
          f"best of {args.rounds} rounds; {os.cpu_count()} cores, {cpu_model()}")  # fmt: skip
    rate = matmul_rate()
    print(f"float32 matmul, one core: {rate / 1e9:.1f} GFLOP/s")
    for task in TASKS:
        print(f"\n{task} ({TASKS[task]}): {in_fresh_process(check_equal, task, paths)}")
        best = {side: math.inf for side in _SIDES}
        for _ in range(args.rounds):
            for side in _SIDES:
                best[side] = min(best[side], timed_run(side, task, paths, args.workers))
        for side in _SIDES:
            print(f"  {side:8s} {best[side]:7.3f} s  {audio_seconds / best[side]:8.0f} audio s per wall s")
        print(f"  serkit / librosa: {best['librosa'] / best['serkit']:.1f}x")
        floor = frames * flops_per_frame(task) / (rate * args.workers)
        print(f"  compute floor {floor * 1e3:.1f} ms ({flops_per_frame(task) / 1e3:.1f} kflop per frame): "
              f"serkit reaches {floor / best['serkit']:.1%} of it end to end")  # fmt: skip
        parts = breakdown(task, paths, args.rounds)
        print("  one process, " + ", ".join(f"{name} {t:.3f} s" for name, t in parts.items()))
        print(f"  features alone: serkit / librosa {parts['librosa features'] / parts['serkit features']:.1f}x, "
              f"serkit at {floor * args.workers / parts['serkit features']:.1%} of one core's floor; "
              f"reading: serkit / librosa {parts['librosa read'] / parts['serkit read']:.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()
