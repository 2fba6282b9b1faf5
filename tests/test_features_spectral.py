"""Spectral features: the shared grid, the FFT core, and parity with librosa and kaldi-native-fbank.

The parity tests run over all of EMO-DB.  Both serkit and the references
compute in float32, and a float32 FFT's rounding error in a bin is about
``eps`` times the frame's peak amplitude.  A band ``h`` dB below its frame's
strongest band therefore carries a relative error of about ``eps * 10**(h/20)``,
i.e. ``8.69 * eps * 10**(h/20)`` dB, on *both* sides: for the weakest bands of
a frame (80 dB and more down) neither side is exact to 1e-3 dB.  So each
parity test asserts two things: bands within 30 dB of their frame's strongest
band agree within 1e-3 dB, and every band agrees within 1e-3 dB plus 100 times
that rounding bound (the differences measured over EMO-DB stay below 45 times
it, kaldi-native-fbank's FFT being the noisier reference).
"""

from __future__ import annotations

import dataclasses
import math

import kaldi_native_fbank as knf
import librosa
import numpy as np
import pytest
import scipy.fft
import scipy.signal
import threadpoolctl

from serkit.audio.io import load_audio
from serkit.errors import AudioError
from serkit.features.base import load_feature
from serkit.features.filterbank import KaldiFbank, LogMel, kaldi_mel_banks
from serkit.features.mfcc import MFCC, dct_matrix, savgol_coefficients, savgol_derivative
from serkit.features.mulaw import MuLawSpectrogram, mu_law, rescale
from serkit.features.presets import all_presets, get_feature
from serkit.features.spectrogram import Spectrogram
from serkit.features.stft import FilterBank, ShortTimeSpectrum, compress, get_window

RATE = 16_000
EPS32 = float(np.finfo(np.float32).eps)
SPECTRAL = ("spectrogram", "logmel", "fbank", "mfcc", "mulaw")


def noise(n: int, seed: int = 0) -> np.ndarray:
    return (0.3 * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


def spectral_presets():
    return {name: p for name, p in all_presets().items() if p.feature.family in SPECTRAL}


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    # librosa's mel product goes through BLAS; threads fighting over a busy 2-core CI box cost 10x.
    with threadpoolctl.threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def emodb_signals(emodb_wavs):
    return [load_audio(path) for path in emodb_wavs]


def assert_db_close(ours: np.ndarray, reference: np.ndarray, where: str) -> None:
    """The two-part rule of this module's docstring, for (bands, frames) arrays in dB."""
    head = reference.max(axis=0, keepdims=True) - reference
    diff = np.abs(ours - reference)
    strong = head <= 30
    assert diff[strong].max() <= 1e-3, f"{where}: {diff[strong].max():.2e} dB within 30 dB of the peak"
    bound = 1e-3 + 100 * (20 / np.log(10)) * EPS32 * 10 ** (head / 20)
    worst = np.unravel_index(np.argmax(diff / bound), diff.shape)
    assert (diff <= bound).all(), f"{where}: band {worst[0]}, frame {worst[1]}: {diff[worst]:.2e} dB"


# -- the FFT core ---------------------------------------------------------------


def reference_spectrum(signal, n_fft, hop, window, power, pad_mode="constant", remove_dc=False, preemph=0.0, scale=1.0):
    """float64, one frame at a time, written from the definitions."""
    x = signal.astype(np.float64) * scale
    frames = 1 + len(x) // hop
    padded = np.pad(x, (n_fft // 2, n_fft), mode=pad_mode)
    offset = (n_fft - len(window)) // 2
    out = []
    for i in range(frames):
        seg = padded[i * hop + offset : i * hop + offset + len(window)].copy()
        if remove_dc:
            seg -= seg.mean()
        if preemph:
            seg = np.concatenate([seg[:1] * (1 - preemph), seg[1:] - preemph * seg[:-1]])
        out.append(np.abs(np.fft.rfft(seg * window, n=n_fft)) ** power)
    return np.array(out).T


@pytest.mark.parametrize(
    ("n_fft", "win_length", "window", "hop"),
    [(16, 16, "hann", 4), (32, 20, "hamming", 8), (128, 100, "hann", 40), (256, 256, "hann", 160),
     (320, 320, "hamming", 160), (512, 400, "hamming", 160), (1024, 640, "blackman", 160), (2048, 2048, "hann", 512)],
)
@pytest.mark.parametrize("power", [1.0, 2.0])
@pytest.mark.parametrize("pad_mode", ["constant", "reflect"])
@pytest.mark.filterwarnings("ignore:n_fft=.* is too large:UserWarning")
def test_spectrum_matches_librosa_stft(n_fft, win_length, window, hop, power, pad_mode):
    stft = ShortTimeSpectrum(n_fft, hop, get_window(window, win_length), power=power, pad_mode=pad_mode)
    assert stft.fast == (n_fft in (16, 32, 128, 256, 512, 1024, 2048))
    for n in (3 * n_fft + 7, 5 * hop, 16_000):
        signal = noise(n, n_fft + n)
        ours = stft(signal)
        ref = reference_spectrum(signal, n_fft, hop, get_window(window, win_length).astype(np.float64), power, pad_mode)
        assert ours.dtype == np.float32 and ours.flags.c_contiguous
        assert ours.shape == ref.shape == (n_fft // 2 + 1, 1 + n // hop)
        np.testing.assert_allclose(ours, ref, rtol=0, atol=2e-6 * ref.max())
        if pad_mode == "constant":
            # (librosa's reflect-padded last frames are computed apart, and stray ~1e-5 from the definition)
            lib = librosa.stft(signal, n_fft=n_fft, hop_length=hop, win_length=win_length, window=window)
            np.testing.assert_allclose(ours, np.abs(lib) ** power, rtol=0, atol=2e-6 * ref.max())


@pytest.mark.parametrize("n_fft", [512, 400])  # the numba kernel and the scipy path
@pytest.mark.parametrize("pad_mode", ["symmetric", "edge"])
def test_kaldi_preprocessing_matches_a_float64_reference(n_fft, pad_mode):
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 399)) ** 0.85
    stft = ShortTimeSpectrum(
        n_fft, 160, window, pad_mode=pad_mode, remove_dc=True, preemphasis=0.97, scale=32768.0
    )
    signal = noise(8_123, n_fft) + 0.2  # a DC offset for remove_dc to remove
    ref = reference_spectrum(signal, n_fft, 160, window, 2.0, pad_mode, True, 0.97, 32768.0)
    np.testing.assert_allclose(stft(signal), ref, rtol=0, atol=2e-6 * ref.max())


@pytest.mark.parametrize("n_samples", [1, 2, 159, 160, 161, 511, 3_201, 16_000, 16_001])
def test_every_spectral_preset_follows_the_shared_grid(n_samples):
    signal = noise(n_samples, n_samples)
    for name, preset in spectral_presets().items():
        feature = preset.feature
        if n_samples < feature.min_samples:
            continue
        out = feature.process_signal(signal)
        assert out.dtype == np.float32, name
        assert out.shape == (feature.dims, 1 + n_samples // 160), name
        assert out.shape[1] == feature.n_frames(n_samples), name
        assert np.isfinite(out).all(), name


def test_frame_i_is_centred_on_sample_i_times_hop():
    # An impulse at sample 30 * hop sits at the centre of frame 30's window,
    # where a periodic Hann window is exactly 1; frame 31 sees it `hop` samples
    # before the centre.
    window = get_window("hann", 400)
    stft = ShortTimeSpectrum(512, 160, window, power=1.0)
    signal = np.zeros(16_000, np.float32)
    signal[30 * 160] = 1.0
    out = stft(signal)
    np.testing.assert_allclose(out[:, 30], 1.0, atol=1e-6)
    np.testing.assert_allclose(out[:, 31], window[200 - 160], atol=1e-6)
    np.testing.assert_allclose(out[:, 29], window[200 + 160], atol=1e-6)
    assert out[:, [28, 32]].max() == 0


@pytest.mark.parametrize("name", ["hann", "hamming", "blackman", "bartlett", "boxcar", "triang"])
@pytest.mark.parametrize("length", [1, 2, 7, 400])
def test_windows_match_scipy(name, length):
    np.testing.assert_allclose(get_window(name, length), scipy.signal.get_window(name, length), atol=1e-7)


def test_filterbank_matches_the_dense_product():
    rng = np.random.default_rng(3)
    weights = rng.random((6, 50)) * (rng.random((6, 50)) < 0.3)
    weights[2] = 0  # a band with no bins
    weights[:, 10] = 1.0  # a bin every band uses
    spectrum = rng.random((50, 37)).astype(np.float32)
    np.testing.assert_allclose(FilterBank(weights)(spectrum), weights @ spectrum, rtol=1e-5)
    mel = librosa.filters.mel(sr=RATE, n_fft=512, n_mels=40)
    spectrum = rng.random((257, 100)).astype(np.float32)
    np.testing.assert_allclose(FilterBank(mel)(spectrum), mel @ spectrum, rtol=1e-5)


@pytest.mark.parametrize("n_fft", [512, 256, 2048, 400])  # the numba kernel (radix-4 and radix-2 last), scipy
@pytest.mark.parametrize("power", [1.0, 2.0])
@pytest.mark.parametrize("kaldi", [False, True])
def test_bands_summed_in_the_kernel_equal_the_two_steps(n_fft, power, kaldi):
    window = get_window("hamming", min(n_fft, 400))
    options = dict(pad_mode="edge", remove_dc=True, preemphasis=0.97, scale=2.0) if kaldi else {}
    stft = ShortTimeSpectrum(n_fft, 160, window, power=power, **options)
    bank = FilterBank(librosa.filters.mel(sr=RATE, n_fft=n_fft, n_mels=40))
    for n in (1, 159, 5_000, 1024 * 160 + 1, 90_011):  # under one vector of frames, one block, two balanced blocks
        signal = noise(n, n_fft + n)
        two_steps = bank(stft(signal))
        fused = stft.banded(signal, bank)
        assert fused.shape == two_steps.shape == (40, 1 + n // 160) and fused.dtype == np.float32
        np.testing.assert_allclose(fused, two_steps, rtol=1e-5, atol=1e-6 * two_steps.max())
    with pytest.raises(ValueError, match="bins"):
        stft.banded(signal, FilterBank(np.ones((3, 10))))


def test_work_buffer_is_reused_aligned_and_left_dirty_without_harm():
    stft = ShortTimeSpectrum(512, 160, get_window("hamming", 400))
    bank = FilterBank(librosa.filters.mel(sr=RATE, n_fft=512, n_mels=40))
    long_, short = noise(90_011, 1), noise(3_001, 2)
    stft.banded(long_, bank)  # leaves its samples in the buffer
    first = stft._work.buffer
    assert first.ctypes.data % 64 == 0
    again = stft.banded(short, bank)
    assert stft._work.buffer is first  # no new allocation
    # the short signal's zero padding is written, not inherited from the long one's samples
    np.testing.assert_array_equal(again, ShortTimeSpectrum(512, 160, get_window("hamming", 400)).banded(short, bank))


def test_threads_sharing_one_spectrum_get_their_own_work_buffers():
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

    stft = ShortTimeSpectrum(512, 160, get_window("hann", 400))
    signals = [noise(16_000 + 997 * i, i) for i in range(8)]
    expected = [stft(x) for x in signals]
    with ThreadPoolExecutor(4) as pool:  # the kernel releases the GIL, so these overlap
        for _ in range(5):
            for got, want in zip(pool.map(stft, signals), expected, strict=True):
                np.testing.assert_array_equal(got, want)


def test_spectrum_pickles_without_its_work_buffer():
    import pickle  # noqa: PLC0415

    stft = ShortTimeSpectrum(512, 160, get_window("hann", 400))
    signal = noise(20_000)
    expected = stft(signal)
    copy = pickle.loads(pickle.dumps(stft))
    assert copy._work is not stft._work
    np.testing.assert_array_equal(copy(signal), expected)


@pytest.mark.parametrize("top_db", [None, 80.0])
def test_compression_matches_librosa(top_db):
    power = np.abs(librosa.stft(noise(4_000) * np.linspace(0, 1, 4_000, dtype=np.float32), n_fft=256)) ** 2
    np.testing.assert_allclose(
        compress(power.copy(), "db", 2.0, 1e-10, top_db), librosa.power_to_db(power, top_db=top_db), atol=1e-4
    )
    magnitude = np.sqrt(power)
    np.testing.assert_allclose(
        compress(magnitude.copy(), "db", 1.0, 1e-5, top_db), librosa.amplitude_to_db(magnitude, top_db=top_db), atol=1e-4
    )
    np.testing.assert_allclose(compress(power.copy(), "ln", 2.0, 1e-10, None), np.log(np.maximum(power, 1e-10)), rtol=1e-6)


# -- configuration and presets ------------------------------------------------------


def test_presets_are_the_papers_settings():
    presets = spectral_presets()
    expected_rows = {
        "spectrogram-seed000": 129, "spectrogram-seed003": 161, "logmel-seed001": 40, "logmel-seed000": 40,
        "fbank-kaldi": 40, "mfcc-seed000": 39, "mfcc-seed003": 26, "mulaw-seed002": 400, "mulaw-seed002-800": 200,
    }  # fmt: skip
    assert set(expected_rows) <= set(presets)
    for name, rows in expected_rows.items():
        feature = presets[name].feature
        assert feature.dims == rows, name
        assert feature.process_signal(noise(16_000)).shape == (rows, 101), name
        assert feature.hop == 160 and feature.sample_rate == RATE, name
    assert presets["spectrogram-seed000"].input_frames == 251
    seed000 = presets["spectrogram-seed000"].feature.config
    assert (seed000.window, seed000.win_length, seed000.n_fft, seed000.power) == ("hann", 256, 256, 1.0)
    seed003 = presets["spectrogram-seed003"].feature.config
    assert (seed003.window, seed003.win_length, seed003.power) == ("hamming", 320, 2.0)
    assert presets["logmel-seed001"].feature.config.win_length == 400
    fbank = presets["fbank-kaldi"].feature.config
    assert (fbank.window, fbank.preemphasis, fbank.remove_dc, fbank.low_freq) == ("povey", 0.97, True, 20.0)
    mulaw = presets["mulaw-seed002"].feature.config
    assert (mulaw.win_length, mulaw.n_fft, mulaw.fmax, mulaw.mu) == (640, 1600, 4000.0, 255.0)


@pytest.mark.parametrize("name", sorted(spectral_presets()))
def test_configuration_round_trips(name, tmp_path):
    feature = get_feature(name)
    feature.save(tmp_path / "feature.json")
    again = load_feature(tmp_path / "feature.json")
    assert again == feature and again.config_hash() == feature.config_hash()
    signal = noise(5_000)
    np.testing.assert_array_equal(again.process_signal(signal), feature.process_signal(signal))
    changed = get_feature(f"{name}:hop=80")
    assert changed.config_hash() != feature.config_hash()
    assert changed.process_signal(signal).shape[1] == 1 + 5_000 // 80


@pytest.mark.parametrize(
    ("cls", "overrides"),
    [
        (Spectrogram, {"win_length": 300, "n_fft": 256}),
        (Spectrogram, {"hop": 0}),
        (Spectrogram, {"log": "log2"}),
        (Spectrogram, {"top_db": 80.0}),  # top_db needs log="db"
        (Spectrogram, {"pad_mode": "wrap"}),
        (Spectrogram, {"window": "no-such-window"}),
        (LogMel, {"fmax": 9_000.0}),
        (LogMel, {"n_mels": 0}),
        (KaldiFbank, {"window": "hann"}),  # Kaldi calls it "hanning"
        (KaldiFbank, {"low_freq": 8_000.0}),
        (KaldiFbank, {"preemphasis": 1.0}),
        (MFCC, {"n_mfcc": 41}),
        (MFCC, {"deltas": 3}),
        (MFCC, {"delta_width": 8}),
        (MFCC, {"log": "none"}),
        (MuLawSpectrogram, {"fmax": 9_000.0}),
        (MuLawSpectrogram, {"mu": 0.0}),
    ],
)
def test_inconsistent_configurations_are_refused(cls, overrides):
    with pytest.raises(ValueError):
        cls(**overrides)


def test_mfcc_deltas_need_delta_width_frames():
    feature = MFCC()
    assert feature.min_samples == 8 * 160
    with pytest.raises(AudioError, match="too short"):
        feature.process_signal(noise(8 * 160 - 1))
    assert feature.process_signal(noise(8 * 160)).shape == (39, 9)
    assert MFCC(deltas=0).process_signal(noise(1)).shape == (13, 1)


# -- building blocks against the libraries they replace --------------------------------


def test_dct_matches_scipy():
    data = np.random.default_rng(0).standard_normal((40, 7))
    expected = scipy.fft.dct(data, type=2, norm="ortho", axis=0)[:13]
    np.testing.assert_allclose(dct_matrix(13, 40) @ data, expected, atol=1e-10)


@pytest.mark.parametrize("width", [3, 5, 9])
@pytest.mark.parametrize("frames", [9, 10, 57])
def test_deltas_match_librosa(width, frames):
    if frames < width:
        pytest.skip("librosa needs width frames")
    data = np.random.default_rng(frames).standard_normal((13, frames)).astype(np.float32)
    first = savgol_derivative(data, savgol_coefficients(width, 1))
    second = savgol_derivative(data, savgol_coefficients(width, 2))
    np.testing.assert_allclose(first, librosa.feature.delta(data, width=width), atol=1e-5)
    np.testing.assert_allclose(second, librosa.feature.delta(data, width=width, order=2), atol=1e-5)


def test_mfcc_of_a_given_log_mel_is_librosas():
    # Isolates the cepstrum, lifter and deltas from the spectral front end.
    feature = MFCC(lifter=22.0)
    signal = noise(20_000)
    logmel = feature._logmel.compute(signal)
    cepstrum = librosa.feature.mfcc(S=logmel, n_mfcc=13, lifter=22.0)
    expected = np.concatenate(
        [cepstrum, librosa.feature.delta(cepstrum), librosa.feature.delta(cepstrum, order=2)]
    )
    np.testing.assert_allclose(feature.compute(signal), expected, atol=1e-3, rtol=1e-5)


def test_mu_law_is_the_papers_equation():
    x = np.linspace(-1, 1, 101, dtype=np.float32)
    np.testing.assert_allclose(mu_law(x, 255.0), librosa.mu_compress(x, mu=255, quantize=False), atol=1e-6)
    np.testing.assert_allclose(mu_law(np.array([-1.0, 0.0, 0.5, 1.0], np.float32), 255.0),
                               [-1.0, 0.0, math.log(128.5) / math.log(256), 1.0], atol=1e-6)  # fmt: skip
    scaled = rescale(np.array([[2.0, 3.0], [4.0, 6.0]], np.float32))
    np.testing.assert_allclose(scaled, [[-1.0, -0.5], [0.0, 1.0]], atol=1e-7)
    np.testing.assert_array_equal(rescale(np.full((3, 4), 7.0, np.float32)), 0.0)


def test_kaldi_mel_banks_are_triangles_on_kaldis_scale():
    banks = kaldi_mel_banks(40, 512, RATE, 20.0, 0.0)
    assert banks.shape == (40, 257)
    assert banks[:, -1].max() == 0  # Kaldi's filters never reach the Nyquist bin
    assert banks.max() <= 1.0 and banks.min() == 0.0
    mel = 1127 * np.log1p(np.arange(256) * (RATE / 512) / 700)
    peaks = mel[banks[:, :256].argmax(axis=1)]
    centres = 1127 * np.log1p(20 / 700) + (np.arange(40) + 1) * (1127 * np.log1p(8000 / 700) - 1127 * np.log1p(20 / 700)) / 41
    assert np.abs(peaks - centres).max() < 40  # each band peaks at the FFT bin nearest its centre
    assert (np.diff(banks.argmax(axis=1)) >= 0).all()


# -- parity on all of EMO-DB --------------------------------------------------------------


def test_spectrograms_match_librosa_stft_on_emodb(emodb_signals):
    seed000, seed003 = get_feature("spectrogram-seed000"), get_feature("spectrogram-seed003")
    for i, signal in enumerate(emodb_signals):
        ref = np.abs(librosa.stft(signal, n_fft=256, hop_length=160, window="hann"))
        ours = seed000.compute(signal)
        # float32 FFTs: rounding of a few eps times the utterance's peak, nothing more
        assert np.abs(ours - ref).max() <= 4e-6 * ref.max(), i
        ref = np.abs(librosa.stft(signal, n_fft=320, hop_length=160, window="hamming")) ** 2
        ours = seed003.compute(signal)
        assert np.abs(ours - ref).max() <= 4e-6 * ref.max(), i


def test_logmel_matches_librosa_on_emodb(emodb_wavs, emodb_signals):
    seed001, seed000 = get_feature("logmel-seed001"), get_feature("logmel-seed000")
    for path, signal in zip(emodb_wavs, emodb_signals, strict=True):
        mel = librosa.feature.melspectrogram(
            y=signal, sr=RATE, n_fft=512, hop_length=160, win_length=400, window="hamming", n_mels=40
        )
        assert_db_close(seed001.compute(signal), librosa.power_to_db(mel, top_db=None), path.name)
        mel = librosa.feature.melspectrogram(y=signal, sr=RATE, n_fft=256, hop_length=160, window="hann", n_mels=40, power=1)
        assert_db_close(seed000.compute(signal), librosa.amplitude_to_db(mel, top_db=None), path.name)
    np.testing.assert_array_equal(seed001.process_file(emodb_wavs[0]), seed001.compute(emodb_signals[0]))


def test_mfcc_with_deltas_matches_librosa_on_emodb(emodb_wavs, emodb_signals):
    """The cepstrum is an orthonormal DCT of the dB log-mel, so each coefficient differs by at
    most the norm of its frame's log-mel difference (checked against librosa by the log-mel rule
    above), plus float32 rounding of the 40-term sums (a few eps times the sum of magnitudes);
    the deltas are filters whose weights sum in absolute value to at most 1, so they differ by
    at most the largest cepstral difference, plus rounding."""
    feature = get_feature("mfcc-seed000")
    c = feature.config
    l1 = max(np.abs(savgol_coefficients(9, order)).sum() for order in (1, 2))
    assert l1 <= 1
    for path, signal in zip(emodb_wavs, emodb_signals, strict=True):
        mel = librosa.feature.melspectrogram(
            y=signal, sr=RATE, n_fft=c.n_fft, hop_length=c.hop, win_length=c.win_length, window=c.window, n_mels=c.n_mels
        )
        logmel = librosa.power_to_db(mel, top_db=None)
        cepstrum = librosa.feature.mfcc(S=logmel, n_mfcc=13)
        ours = feature.compute(signal)
        ours_logmel = feature._logmel.compute(signal)
        assert_db_close(ours_logmel, logmel, path.name)
        rounding = 4 * EPS32 * np.abs(logmel).sum(axis=0)
        frame_bound = np.sqrt(((ours_logmel - logmel) ** 2).sum(axis=0)) + rounding
        diff = np.abs(ours[:13] - cepstrum)
        assert (diff <= frame_bound).all(), path.name
        assert diff.max() <= 2e-3, path.name
        for order, rows in ((1, slice(13, 26)), (2, slice(26, 39))):
            delta_diff = np.abs(ours[rows] - librosa.feature.delta(cepstrum, order=order))
            assert delta_diff.max() <= l1 * diff.max() + rounding.max(), (path.name, order)


def test_fbank_matches_kaldi_native_fbank_on_emodb(emodb_wavs, emodb_signals):
    """kaldi-native-fbank with snip_edges=false centres frame i on sample i * hop + hop / 2; fed
    the signal behind hop / 2 zeros, its frame i is centred on our sample i * hop.  The edges
    then differ by design (zeros there, our mirrored signal here), so only the frames whose
    400-sample window lies inside the signal are compared."""
    feature = get_feature("fbank-kaldi")
    opts = knf.FbankOptions()
    opts.frame_opts.dither = 0.0
    opts.frame_opts.snip_edges = False
    opts.frame_opts.samp_freq = RATE
    opts.mel_opts.num_bins = 40
    for path, signal in zip(emodb_wavs, emodb_signals, strict=True):
        fbank = knf.OnlineFbank(opts)
        fbank.accept_waveform(RATE, np.concatenate([np.zeros(80, np.float32), signal]) * 32768)
        fbank.input_finished()
        reference = np.array([fbank.get_frame(i) for i in range(fbank.num_frames_ready)]).T
        ours = feature.compute(signal)
        first, stop = math.ceil(200 / 160), (signal.size - 200) // 160 + 1
        assert stop - first > 50 and reference.shape[1] >= stop
        to_db = 10 / np.log(10)  # natural-log energies to dB
        assert_db_close(to_db * ours[:, first:stop], to_db * reference[:, first:stop], path.name)


def test_mulaw_matches_a_librosa_reference_on_emodb(emodb_signals):
    full, cheap = get_feature("mulaw-seed002"), get_feature("mulaw-seed002-800")
    for signal in emodb_signals[::5]:
        for feature, n_fft, rows in ((full, 1600, 400), (cheap, 800, 200)):
            magnitude = np.abs(librosa.stft(signal, n_fft=n_fft, hop_length=160, win_length=640, window="hamming"))
            band = magnitude[:rows]  # bins below 4 kHz
            expected = librosa.mu_compress(2 * (band - band.min()) / (band.max() - band.min()) - 1, mu=255, quantize=False)
            ours = feature.compute(signal)
            assert ours.shape == expected.shape
            # mu-law's slope at 0 is mu / ln(1 + mu) = 46: float32 rounding of the rescaled value, times 46
            np.testing.assert_allclose(ours, expected, atol=1e-4)
            assert ours.min() == pytest.approx(-1, abs=1e-6) and ours.max() == pytest.approx(1, abs=1e-6)


def test_configs_are_frozen_dataclasses():
    for preset in spectral_presets().values():
        config = preset.feature.config
        assert dataclasses.is_dataclass(config)
        with pytest.raises(dataclasses.FrozenInstanceError):
            config.hop = 1  # type: ignore[misc]
