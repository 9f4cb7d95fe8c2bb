"""Live AuMoCLIP features: chunking-invariant, whole steps, final step padded; live vs offline measured."""
from __future__ import annotations

import time

import numpy as np
import pytest
from support import MEDIA_DIR

from tango.retrieval.live_features import LiveAudioFeatures
from tango.runtime.errors import FailedPrecondition, InputMismatch, InvalidArgument

SR, FPS, DIM = 16000, 30, 6
PROJECTION = np.random.default_rng(0).standard_normal((3, DIM)).astype(np.float32)


def fake_embed(wave: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic stand-in for the audio tower: per-frame energy/mean projected; high = window mean."""
    frames = max(1, wave.shape[0] * FPS // SR)
    edges = np.arange(frames + 1) * SR // FPS
    energy = np.array([np.mean(wave[a:b] ** 2) if b > a else 0.0 for a, b in zip(edges[:-1], edges[1:])])
    level = np.array([np.mean(wave[a:b]) if b > a else 0.0 for a, b in zip(edges[:-1], edges[1:])])
    low = np.stack([energy, level, np.ones(frames)], axis=1).astype(np.float32) @ PROJECTION  # (w, D)
    return low, low.mean(axis=0) + wave.shape[0] / SR


def run(live: LiveAudioFeatures, wave: np.ndarray, chunks: list[int]) -> tuple[np.ndarray, np.ndarray, int]:
    lows, highs, position = [], [], 0
    for size in chunks:
        steps = live.push(wave[position: position + size])
        low, high = steps.low, steps.high
        assert low.shape[0] == 4 * high.shape[0]
        lows.append(low)
        highs.append(high)
        position += size
    pushed = sum(high.shape[0] for high in highs)
    last = live.finish()
    low, high = last.low, last.high
    lows, highs = [x for x in lows + [low] if x.shape[0]], [x for x in highs + [high] if x.shape[0]]
    return np.concatenate(lows), np.concatenate(highs), pushed


def chunking(total: int, seed: int, largest: int) -> list[int]:
    rng, sizes = np.random.default_rng(seed), []
    while sum(sizes) < total:
        sizes.append(int(rng.integers(0, largest + 1)))
    return sizes


@pytest.fixture(scope="module")
def wave() -> np.ndarray:
    rng = np.random.default_rng(3)
    return (rng.standard_normal(int(SR * 7.37)) * np.repeat(rng.random(80), int(SR * 7.37) // 80 + 1)[: int(SR * 7.37)]
            ).astype(np.float32)


@pytest.mark.parametrize("hop", [8, 5, 120])
def test_any_chunking_gives_the_same_features(wave, hop):
    whole_low, whole_high, _ = run(LiveAudioFeatures(fake_embed, hop_frames=hop), wave, [wave.shape[0]])
    for seed, largest in ((0, 1), (1, 700), (2, 20000)):
        sizes = chunking(wave.shape[0], seed, largest) if largest > 1 else [1] * 9000 + [wave.shape[0] - 9000]
        low, high, _ = run(LiveAudioFeatures(fake_embed, hop_frames=hop), wave, sizes)
        np.testing.assert_array_equal(low, whole_low)
        np.testing.assert_array_equal(high, whole_high)


@pytest.mark.parametrize("samples", [1, 500, 534, 16000, int(SR * 7.37)])
def test_step_counts_padding_and_unit_norm(wave, samples):
    live = LiveAudioFeatures(fake_embed, hop_frames=8)
    low, high, pushed = run(live, wave[:samples], [samples])
    complete = samples * FPS // SR
    assert pushed == (complete // 8 * 8) // 4
    frames = max(round(samples * FPS / SR), 1)
    assert high.shape == (-(-frames // 4), DIM) and low.shape == (4 * high.shape[0], DIM)
    np.testing.assert_allclose(np.linalg.norm(low, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(high, axis=1), 1.0, rtol=1e-5)
    if frames % 4:  # the final partial step repeats its last frame
        last = low[-4:]
        np.testing.assert_array_equal(last[frames % 4:], np.repeat(last[frames % 4 - 1: frames % 4], 4 - frames % 4, 0))


def test_windows_are_causal_and_memory_bounded(wave):
    calls = []

    def spy(chunk):
        calls.append(chunk.shape[0])
        return fake_embed(chunk)

    live = LiveAudioFeatures(spy, hop_frames=8)
    for start in range(0, wave.shape[0], 3000):
        live.push(wave[start: start + 3000])
        assert live._buffer.shape[0] <= 4 * SR + 3000 + 8 * SR // FPS + 1  # the last 4 s + the newest chunk
    assert max(calls) <= 4 * SR + 1 and calls[0] == 8 * SR // FPS + 1  # the first window: 8 frames, rounded up
    assert live.embed_calls == len(calls) == wave.shape[0] * FPS // SR // 8


def test_bad_input_and_finished_stream():
    live = LiveAudioFeatures(fake_embed)
    empty = live.push(np.zeros(0, np.float32))
    low, high = empty.low, empty.high
    assert low.shape == (0, 0) and high.shape == (0, 0)
    with pytest.raises(InputMismatch):
        live.push(np.zeros((10, 2), np.float32))
    with pytest.raises(InvalidArgument):
        live.push(np.full(10, np.nan, np.float32))
    assert live.finish().low.shape == (0, 0)  # no audio, no steps
    with pytest.raises(FailedPrecondition):
        live.push(np.zeros(10, np.float32))
    with pytest.raises(InvalidArgument):
        LiveAudioFeatures(fake_embed, hop_frames=0)


# ---- with the real audio tower (random weights) ----

def speech(seconds: float | None = None, name: str = "s2g_001.wav") -> np.ndarray:
    soundfile = pytest.importorskip("soundfile")
    from scipy.signal import resample_poly

    path = MEDIA_DIR / "audio" / name
    if not path.is_file():
        pytest.skip("../shared/media is absent")
    wave, rate = soundfile.read(path, dtype="float32")  # s2g: 44.1 kHz stereo
    wave = wave.mean(axis=1) if wave.ndim > 1 else wave
    wave = wave if rate == SR else resample_poly(wave, SR, rate).astype(np.float32)
    return wave if seconds is None else wave[: int(seconds * SR)]


def torch_embed(checkpoint: str = "", **config):
    """The audio tower in-process: a checkpoint directory's, or random weights of `config`."""
    torch = pytest.importorskip("torch")
    from tango.aumoclip.checkpoint import load_checkpoint
    from tango.aumoclip.config import AuMoCLIPConfig
    from tango.aumoclip.model import AuMoCLIP

    torch.manual_seed(0)
    model = load_checkpoint(checkpoint) if checkpoint else AuMoCLIP(AuMoCLIPConfig(**config)).eval()

    def embed(wave: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with torch.inference_mode():
            low, high = model.embed_audio(torch.from_numpy(np.ascontiguousarray(wave))[None])
        return low[0].numpy(), high[0].numpy()

    return embed


class InProcessClient:
    """TritonClient.embed_audio over a torch module, for the offline `audio_features`."""

    def __init__(self, embed):
        self.embed = embed

    def embed_audio(self, wave, checkpoint=None):
        return self.embed(np.asarray(wave, np.float32))


TINY = dict(embed_dim=8, audio_conv_channels=(8, 8, 8, 8, 8, 8, 16), audio_context_layers=1, transformer_dim=16,
            transformer_heads=2, transformer_ff=32, dropout=0.0)


def test_real_audio_tower_live_matches_offline_layout():
    from tango.retrieval.embedding import audio_features

    embed, wave = torch_embed(**TINY), speech(6.0)
    offline = audio_features(InProcessClient(embed), "", wave, 8)
    low, high, _ = run(LiveAudioFeatures(embed, hop_frames=8), wave, chunking(wave.shape[0], 0, 5000))
    assert low.shape == offline.audio_low.shape and high.shape == offline.audio_high.shape
    cosine = (high * offline.audio_high).sum(axis=1)
    assert np.isfinite(low).all() and cosine.mean() > 0.5


@pytest.mark.slow
def test_measure_live_against_offline(capsys):
    """The figures of the report: embed cost, live vs offline cosine, DP path similarity. Random weights of the
    default config unless TANGO_TEST_AUMOCLIP_CHECKPOINT names a checkpoint directory (random features are
    alike everywhere: compare the cosines with the 5-s-apart floor printed next to them)."""
    import os

    from tango.retrieval.embedding import audio_features
    from tango.retrieval.options import SearchOptions
    from tango.retrieval.scoring import evaluate_path
    from tango.retrieval.search_dp import search_dp
    from tango.retrieval.search_online import OnlineSearch
    from tango.retrieval.inputs import RetrievalGraph
    from tango.retrieval.synthetic import synthetic_graph

    import torch

    embed, wave = torch_embed(os.environ.get("TANGO_TEST_AUMOCLIP_CHECKPOINT", "")), speech()
    window, threads = wave[: 4 * SR], torch.get_num_threads()
    torch.set_num_threads(1)  # one core per stream: the figure is the cost of one live session
    try:
        embed(window)
        times = []
        for _ in range(30):
            started = time.perf_counter()
            embed(window)
            times.append((time.perf_counter() - started) * 1e3)
    finally:
        torch.set_num_threads(threads)
    offline = audio_features(InProcessClient(embed), "", wave, 8)
    live = LiveAudioFeatures(embed, hop_frames=8)
    low, high, _ = run(live, wave, chunking(wave.shape[0], 0, 4000))
    low_cos = (low * offline.audio_low).sum(axis=1).reshape(-1, 4).mean(axis=1)  # (T,)
    high_cos = (high * offline.audio_high).sum(axis=1)
    unrelated = (offline.audio_high[:-40] * offline.audio_high[40:]).sum(axis=1)  # steps 5 s apart: the floor
    frames = offline.audio_low
    unrelated_low = (frames[:-160] * frames[160:]).sum(axis=1)
    centre_low, centre_high = frames.mean(axis=0), offline.audio_high.mean(axis=0)  # the common component
    centred_low = _cosine(low - centre_low, frames - centre_low).reshape(-1, 4).mean(axis=1)
    centred_high = _cosine(high - centre_high, offline.audio_high - centre_high)
    # a graph whose "motion" embeddings are offline features of other speech: real structure in the joint space
    other = audio_features(InProcessClient(embed), "", speech(None, "beat2_scott_0_4_4.wav"), 8)
    nodes = other.steps
    topology = synthetic_graph(nodes, dim=4, seed=1)
    graph = RetrievalGraph(indptr=topology.indptr, indices=topology.indices, edge_continue=topology.edge_continue,
                           edge_cost=topology.edge_cost, motion_low=other.audio_low.reshape(nodes, 4, -1),
                           motion_high=other.audio_high)
    options = SearchOptions()
    best = search_dp(graph, offline, options)
    from_live = evaluate_path(graph, offline, options, search_dp(graph, type(offline)(low, high), options).path,
                              mode="dp", search_seconds=0.0)
    online = OnlineSearch(graph, options, 8)
    committed = []
    for step in range(0, high.shape[0], 2):
        committed += online.push(low[4 * step: 4 * step + 8], high[step: step + 2])
    committed += online.finish()
    streamed = evaluate_path(graph, offline, options, np.array([c.node for c in committed]), mode="dp",
                             search_seconds=0.0)
    with capsys.disabled():
        print(f"\nembed 4 s window: median {np.median(times):.1f} ms, p90 {np.percentile(times, 90):.1f} ms; "
              f"{live.embed_calls} calls for {wave.shape[0] / SR:.1f} s")
        print(f"live vs offline cosine per step: low {low_cos.mean():.3f} (p10 {np.percentile(low_cos, 10):.3f}), "
              f"high {high_cos.mean():.3f} (p10 {np.percentile(high_cos, 10):.3f}); offline 5 s apart: low "
              f"{unrelated_low.mean():.3f}, high {unrelated.mean():.3f}; centred on the file's mean: low "
              f"{centred_low.mean():.3f}, high {centred_high.mean():.3f}")
        print(f"path similarity under offline features ({nodes} nodes): offline DP {best.similarity:.4f}, "
              f"DP on live features {from_live.similarity:.4f} ({from_live.similarity / best.similarity:.3f}), "
              f"online L=8 on live {streamed.similarity:.4f} ({streamed.similarity / best.similarity:.3f}); "
              f"objective {best.objective:.2f} / {from_live.objective:.2f} / {streamed.objective:.2f}")
    assert low.shape == offline.audio_low.shape


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=-1) / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), 1e-12)
