"""Live loudness following (`tango.retrieval.energy`): trailing windows, running standardisation with a warm-up,
chunking-invariant per-step loudness, the online DP equal to search_dp given the same loudness, and a live
stream whose path's energy follows its loudness."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tango.media.pcm import PcmFormat
from tango.retrieval.energy import (
    LOUDNESS_WINDOW_S,
    RunningLoudness,
    live_warmup_steps,
    step_loudness,
    trailing_loudness_db,
)
from tango.retrieval.inputs import FRAMES_PER_STEP, TargetFeatures, standardise
from tango.retrieval.live_features import LiveAudioFeatures
from tango.retrieval.live_session import LiveSearch
from tango.retrieval.options import NodePin, SearchOptions
from tango.retrieval.search_dp import search_dp
from tango.retrieval.search_online import OnlineSearch
from tango.retrieval.synthetic import random_features, synthetic_graph
from tango.runtime.errors import InputMismatch, InvalidArgument

SR, FPS, DIM = 16_000, 30, 16
STEP_SAMPLES = SR * FRAMES_PER_STEP / FPS  # 2133.3
OPTIONS = SearchOptions(jump_penalty=0.3, edge_cost_weight=0.25, revisit_penalty=0.5, revisit_window=8,
                        energy_weight=0.5)


def fake_embed(wave: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stand-in for the audio tower that hears no loudness: each frame's feature is its first DIM samples'
    signs (noise), the window's high feature their mean. Depends on the window's samples only."""
    frames = max(1, wave.shape[0] * FPS // SR)
    starts = np.minimum(np.arange(frames) * SR // FPS, max(wave.shape[0] - DIM, 0))
    index = np.minimum(starts[:, None] + np.arange(DIM), wave.shape[0] - 1)
    low = np.sign(wave[index]).astype(np.float32) + 0.01  # (w, D)
    return low, low.mean(axis=0)


def quiet_loud_speech(steps: int, period: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(samples,) noise alternating `period` quiet and `period` loud steps, and its (steps,) levels."""
    levels = np.where((np.arange(steps) // period) % 2 == 0, 0.03, 0.5)
    amplitude = np.repeat(levels, int(np.ceil(STEP_SAMPLES)))[: int(steps * STEP_SAMPLES)]
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(amplitude.shape[0]) * amplitude).astype(np.float32), levels


def run_features(live: LiveAudioFeatures, wave: np.ndarray, sizes: list[int]):
    lows, highs, loudness, position = [], [], [], 0
    for size in sizes:
        steps = live.push(wave[position: position + size])
        assert steps.loudness_db.shape == (steps.high.shape[0],)
        lows.append(steps.low), highs.append(steps.high), loudness.append(steps.loudness_db)
        position += size
    last = live.finish()
    lows.append(last.low), highs.append(last.high), loudness.append(last.loudness_db)
    return (np.concatenate([x for x in lows if x.shape[0]]), np.concatenate([x for x in highs if x.shape[0]]),
            np.concatenate(loudness))


# ---- the pure functions ----

def test_trailing_windows_end_at_each_index_and_are_cut_at_the_start():
    samples = np.random.default_rng(0).standard_normal(5000)
    ends = np.array([0, 1, 700, 1000, 4999, 5000])
    loudness = trailing_loudness_db(samples, ends, 1000)
    expected = [10 * np.log10(np.mean(samples[max(end - 1000, 0): end] ** 2) + 1e-8) if end else -80.0
                for end in ends]
    np.testing.assert_allclose(loudness, expected, rtol=1e-12, atol=1e-9)
    # a window's value does not depend on the others computed with it
    assert np.array_equal(trailing_loudness_db(samples, ends[3:4], 1000), loudness[3:4])


def naive_running(values: np.ndarray, warmup: int) -> np.ndarray:
    out = np.zeros(values.shape[0])
    for t in range(values.shape[0]):
        heard = values[: t + 1]
        if t + 1 > warmup and heard.std() > 1e-6:
            out[t] = (values[t] - heard.mean()) / heard.std()
    return out


def test_running_standardisation_values_warmup_and_grouping():
    values = -30 + 8 * np.random.default_rng(1).standard_normal(60)
    whole = RunningLoudness(warmup_steps=15).push(values)
    assert whole.dtype == np.float32 and whole.shape == (60,)
    np.testing.assert_allclose(whole, naive_running(values, 15), rtol=1e-5, atol=1e-5)
    assert not whole[:15].any() and np.all(whole[15:] != 0)  # off during the warm-up, on after
    # the last step is standardised exactly as offline over everything heard
    assert whole[-1] == pytest.approx(standardise(values)[-1], abs=1e-5)
    # any grouping of the pushes gives the same values
    running, pieces, position = RunningLoudness(warmup_steps=15), [], 0
    for size in (1, 0, 7, 2, 13, 30, 7):
        pieces.append(running.push(values[position: position + size]))
        position += size
    assert running.steps == 60 and np.array_equal(np.concatenate(pieces), whole)
    # a constant level is no signal; 2 s of 30 fps steps is the default warm-up
    assert not RunningLoudness(0).push(np.full(20, -40.0)).any()
    assert live_warmup_steps(30) == 15


# ---- the live features ----

def test_live_loudness_is_chunking_invariant_and_ends_with_each_step():
    wave, _ = quiet_loud_speech(40, period=4, seed=2)
    wave = wave[: wave.shape[0] - 700]  # a final partial step
    _, high, whole = run_features(LiveAudioFeatures(fake_embed, hop_frames=8), wave, [wave.shape[0]])
    assert whole.shape == (high.shape[0],)
    # the window of 0.5 s ending at the step's last sample (the padded last step's at the end of the audio)
    ends = np.minimum(-(-np.arange(1, whole.shape[0] + 1) * FRAMES_PER_STEP * SR // FPS), wave.shape[0])
    np.testing.assert_allclose(whole, trailing_loudness_db(wave, ends, int(LOUDNESS_WINDOW_S * SR)), atol=1e-9)
    rng = np.random.default_rng(3)
    for hop, sizes in ((8, [1] * 3000 + [wave.shape[0] - 3000]), (5, list(rng.integers(0, 900, 200))),
                       (120, list(rng.integers(0, 30000, 20)))):
        sizes.append(wave.shape[0])  # the rest
        _, high_hop, loudness = run_features(LiveAudioFeatures(fake_embed, hop_frames=hop), wave, sizes)
        assert np.array_equal(loudness, whole), hop


def test_live_loudness_tracks_the_offline_one(capsys):
    """The trailing window lags the centred one by ~0.18 s: measured, for the record, on a speech-like level."""
    steps = 300
    rng = np.random.default_rng(4)
    levels = np.exp(np.convolve(rng.standard_normal(steps), np.ones(4) / 2, mode="same"))  # smooth log-level
    wave = (rng.standard_normal(int(steps * STEP_SAMPLES)) * np.repeat(levels, int(np.ceil(STEP_SAMPLES)))[
        : int(steps * STEP_SAMPLES)] * 0.1).astype(np.float32)
    _, _, live_db = run_features(LiveAudioFeatures(fake_embed), wave, [wave.shape[0]])
    live = RunningLoudness(live_warmup_steps(FPS)).push(live_db)
    offline = step_loudness(wave, SR, float(FPS), steps)
    warm = slice(live_warmup_steps(FPS), None)
    same = float(np.corrcoef(live[warm], offline[warm])[0, 1])
    shifted = float(np.corrcoef(live[warm][1:], offline[warm][:-1])[0, 1])  # live one step later
    with capsys.disabled():
        print(f"\nlive vs offline loudness: r = {same:.3f} (r = {shifted:.3f} with the live one a step later)")
    assert same > 0.7


# ---- the online search ----

def stream(search: OnlineSearch, features, loudness, seed: int):
    rng, step, committed = np.random.default_rng(seed), 0, []
    while step < features.steps:
        size = min(int(rng.integers(1, 6)), features.steps - step)
        committed += search.push(features.audio_low[4 * step: 4 * (step + size)],
                                 features.audio_high[step: step + size],
                                 loudness=None if loudness is None else loudness[step: step + size])
        step += size
    return committed + search.finish()


def loud_case(seed: int, steps: int = 120):
    graph = synthetic_graph(300, dim=DIM, jumps_per_node=(3, 8), videos=3, seed=seed)
    levels = np.where((np.arange(steps) // 10) % 2 == 0, 0.05, 1.0)
    loudness = standardise(np.log(levels) + 0.3 * np.random.default_rng(seed).standard_normal(steps))
    features = dataclasses.replace(random_features(steps, DIM, seed=seed + 10), loudness=loudness)
    return graph, features


@pytest.mark.parametrize("seed", range(3))
def test_full_lookahead_with_loudness_equals_offline_dp(seed):
    graph, features = loud_case(seed)
    offline = search_dp(graph, features, OPTIONS)
    assert not np.array_equal(offline.path, search_dp(graph, dataclasses.replace(features, loudness=None),
                                                      OPTIONS).path)  # the loudness matters here
    search = OnlineSearch(graph, OPTIONS, lookahead_steps=features.steps)
    committed = stream(search, features, features.loudness, seed)
    np.testing.assert_array_equal([c.node for c in committed], offline.path)
    np.testing.assert_allclose([c.similarity for c in committed], offline.step_similarity)
    energy = OPTIONS.energy_weight * features.loudness.astype(np.float64) * graph.node_energy[offline.path]
    np.testing.assert_allclose([c.energy for c in committed], energy, rtol=1e-6, atol=1e-9)
    assert search.stats.energy_sum == pytest.approx(energy.sum(), abs=1e-6)
    assert search.stats.objective == pytest.approx(offline.objective, abs=1e-6)


@pytest.mark.parametrize("lookahead", [0, 4])
def test_commitments_with_loudness_are_the_pinned_offline_optimum(lookahead):
    graph, features = loud_case(5)
    search = OnlineSearch(graph, OPTIONS, lookahead)
    path = np.array([c.node for c in stream(search, features, features.loudness, 7)], dtype=np.int32)
    pushed = features.steps - lookahead - 1
    pins = tuple(NodePin(step, int(path[step])) for step in range(pushed))
    np.testing.assert_array_equal(search_dp(graph, features, dataclasses.replace(OPTIONS, pins=pins)).path, path)


def test_loudness_is_checked_and_ignored_at_weight_zero():
    graph, features = loud_case(1, steps=30)
    search = OnlineSearch(graph, OPTIONS, 2)
    with pytest.raises(InputMismatch):
        search.push(features.audio_low[:8], features.audio_high[:2], loudness=np.zeros(3))
    with pytest.raises(InvalidArgument):
        search.push(features.audio_low[:8], features.audio_high[:2], loudness=np.array([0.0, np.nan]))
    bare = dataclasses.replace(features, loudness=None)
    off = dataclasses.replace(OPTIONS, energy_weight=0.0)
    with_loudness = stream(OnlineSearch(graph, off, 3), features, features.loudness, 0)
    without = stream(OnlineSearch(graph, off, 3), bare, None, 0)
    assert [c.node for c in with_loudness] == [c.node for c in without]
    assert not any(c.energy for c in with_loudness)


# ---- the live session ----

def live_path(graph, wave: np.ndarray, options: SearchOptions, chunk: int = 3000):
    pcm = PcmFormat(SR, 1)
    live = LiveSearch(pcm, LiveAudioFeatures(fake_embed, hop_frames=8), OnlineSearch(graph, options, 4))
    pcm16 = (np.clip(wave, -1, 1) * 32767).astype("<i2").tobytes()
    steps = []
    for start in range(0, len(pcm16), 2 * chunk):
        steps += live.push(pcm16[start: start + 2 * chunk]).steps
    steps += live.finish().steps
    assert [s.step for s in steps] == list(range(len(steps)))
    return np.array([s.node for s in steps]), live


def test_a_live_stream_follows_its_loudness(capsys):
    """Quiet and loud stretches of 10 steps: with the loudness term the live path's node energy follows them."""
    steps = 160
    graph = synthetic_graph(400, dim=DIM, seed=6)
    wave, levels = quiet_loud_speech(steps, seed=6)
    options = dataclasses.replace(OPTIONS, energy_weight=SearchOptions().energy_weight)  # the default 0.2
    warm = slice(live_warmup_steps(FPS), None)

    def corr(path: np.ndarray, loudness: np.ndarray) -> float:
        return float(np.corrcoef(graph.node_energy[path][warm], loudness[warm])[0, 1])

    followed, live = live_path(graph, wave, options)
    plain, _ = live_path(graph, wave, dataclasses.replace(options, energy_weight=0.0))
    assert followed.shape == plain.shape == (steps,)
    target = np.log(levels)  # the true level, step by step
    with_term, without = corr(followed, target), corr(plain, target)
    offline_loudness = step_loudness(wave, SR, float(FPS), steps)
    low, high, _ = run_features(LiveAudioFeatures(fake_embed), wave, [wave.shape[0]])
    offline = search_dp(graph, TargetFeatures(low, high, loudness=offline_loudness), options).path
    with capsys.disabled():
        print(f"\nlive path energy vs level (after the 2 s warm-up): r = {with_term:.3f} at w_energy "
              f"{options.energy_weight}, {without:.3f} at 0; offline (centred, whole-target loudness): "
              f"r = {corr(offline, target):.3f}")
    assert live.loudness.steps == steps
    assert with_term > without + 0.3 and with_term > 0.4
