"""render_video on synthetic plans (solid-colour frames tell real from generated) and on a real clip."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import av
import numpy as np
import pytest
from support import shared_media

from tango.media.audio import AudioTrack
from tango.media.encode import probe_output
from tango.render.plan import RenderOptions, RenderPlan, plan_from_path
from tango.render.renderer import render_video
from tango.render.schedule import build_schedule
from tango.runtime.errors import Cancelled, CorruptMedia, InputMismatch


RATE = 16000
FPS = 30.0


def colour(video: int, source: int) -> np.ndarray:
    """Unique solid colour of a source frame; real frames have blue 200, generated ones blue 0."""
    return np.array([8 + 9 * (source % 26), 40 + 80 * video + 4 * (source // 26), 200], dtype=np.uint8)


class SolidSource:
    """Frame source of solid-colour frames of a fixed size; records every fetch."""

    def __init__(self, height: int, width: int):
        self.height, self.width = height, width
        self.calls: list[tuple[int, list[int]]] = []

    def __call__(self, video: int, indices: list[int]) -> dict[int, np.ndarray]:
        self.calls.append((video, list(indices)))
        return {i: np.broadcast_to(colour(video, i), (self.height, self.width, 3)).copy() for i in indices}


class MarkedCrossfade:
    """Crossfade between the last frame before and the first after, blue channel zeroed as a marker."""

    def __init__(self):
        self.calls: list[tuple[np.ndarray, np.ndarray, int]] = []
        self.windows: list = []

    def __call__(self, before: np.ndarray, after: np.ndarray, n: int, window) -> np.ndarray:
        self.calls.append((before[:, 0, 0].copy(), after[:, 0, 0].copy(), n))
        self.windows.append(window)
        weight = (np.arange(1, n + 1, dtype=np.float32) / (n + 1))[:, None, None, None]  # (n, 1, 1, 1)
        frames = (1 - weight) * before[-1].astype(np.float32) + weight * after[0].astype(np.float32)
        frames[..., 2] = 0
        return np.round(frames).astype(np.uint8)


def synthetic_plan(frames_out: int, clips, jumps) -> RenderPlan:
    source_frame = (np.arange(40, dtype=np.int32) * 2, np.arange(40, dtype=np.int32))  # video 0 subsampled
    return RenderPlan(
        clip_video=np.array([v for v, _ in clips], np.int32),
        clip_start=np.array([s for _, s in clips], np.int32),
        jump=np.array(jumps, bool),
        source_frame=source_frame,
        fps=FPS,
        soundtrack=AudioTrack.mono(np.zeros(int(round(frames_out / FPS * RATE)), np.float32) + 0.01, RATE),
    )


CLIPS = [(0, 0), (0, 4), (0, 8), (1, 20), (1, 24), (1, 28), (0, 12), (0, 16)]
JUMPS = [False, False, False, True, False, False, True, False]  # junctions at output frames 12 and 24


def decode_rgb(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])  # (N, H, W, 3)


def test_schedule_windows_replace_frames_around_jumps():
    plan = synthetic_plan(32, CLIPS, JUMPS)
    schedule = build_schedule(plan, transition_frames=8, context_frames=4)
    assert schedule.windows.tolist() == [[8, 16], [20, 28]]
    assert schedule.context.tolist() == [4, 4]
    assert schedule.generated.sum() == 16
    assert schedule.source[:4].tolist() == [0, 2, 4, 6]  # perception -> decoded source map applied
    assert schedule.video[12] == 1 and schedule.source[12] == 20


def test_schedule_merges_nearby_jumps_and_keeps_real_edges():
    plan = synthetic_plan(20, CLIPS[:5], [False, True, True, False, False])
    schedule = build_schedule(plan, transition_frames=8, context_frames=4)
    assert schedule.windows.tolist() == [[1, 12]]  # [0,8) clipped to start at 1, merged with [4,12)
    assert schedule.context.tolist() == [1]
    assert not schedule.generated[0] and not schedule.generated[12:].any()


def test_render_real_and_generated_frames_exactly_where_planned(tmp_path):
    plan = synthetic_plan(32, CLIPS, JUMPS)
    source, interp = SolidSource(37, 51), MarkedCrossfade()
    progress = []
    out = tmp_path / "out.mp4"
    report = render_video(plan, source, interp, out, RenderOptions(), on_progress=lambda *a: progress.append(a))
    info = probe_output(out)
    assert info["frames"] == 32 == report.frames
    assert (info["width"], info["height"]) == (50, 36) == (report.width, report.height)
    assert report.generated_frames == 16 and report.real_frames == 16
    assert [j["step"] for j in report.jumps] == [3, 6]
    assert report.jumps[0]["time_s"] == pytest.approx(12 / FPS)
    decoded = decode_rgb(out)[:, 18, 25].astype(int)  # (N, 3) centre pixel
    schedule = build_schedule(plan, 8, 4)
    for n in range(32):
        if schedule.generated[n]:
            assert decoded[n, 2] < 12, f"frame {n} should be generated"
        else:
            expected = colour(int(schedule.video[n]), int(schedule.source[n])).astype(int)
            assert np.abs(decoded[n] - expected).max() <= 4, f"frame {n}: {decoded[n]} != {expected}"
    # the interpolator saw the 4 real frames on each side of each window
    (before, after, count), _ = interp.calls
    assert count == 8
    assert (before[-1] == colour(0, int(schedule.source[7]))).all()
    assert (after[0] == colour(1, int(schedule.source[16]))).all()
    window = interp.windows[0]  # the output positions of the context frames
    assert (window.start, window.end) == (8, 16)
    assert window.before.tolist() == [4, 5, 6, 7] and window.after.tolist() == [16, 17, 18, 19]
    assert progress[-1] == ("render", 32, 32)
    assert {"schedule", "fetch", "resize", "interpolate", "encode", "total"} <= set(report.timings_s)
    assert all(sorted(indices) == indices for _, indices in source.calls)


def test_output_length_follows_audio_trim_and_extend(tmp_path):
    source, interp = SolidSource(16, 16), MarkedCrossfade()
    short = render_video(synthetic_plan(27, CLIPS, JUMPS), source, interp, tmp_path / "a.mp4")
    assert short.frames == 27 == probe_output(tmp_path / "a.mp4")["frames"]
    long_plan = synthetic_plan(38, CLIPS, JUMPS)
    longer = render_video(long_plan, source, interp, tmp_path / "b.mp4")
    assert longer.frames == 38 == probe_output(tmp_path / "b.mp4")["frames"]
    schedule = build_schedule(long_plan, 8, 4)
    assert schedule.source[32:].tolist() == [40, 42, 44, 46, 48, 50]  # last clip continued
    assert abs(longer.duration_s - long_plan.duration_s) <= 1 / FPS


def test_cap_downscales_keeping_aspect(tmp_path):
    report = render_video(synthetic_plan(16, CLIPS[:4], JUMPS[:4]), SolidSource(120, 200), MarkedCrossfade(),
                          tmp_path / "c.mp4", RenderOptions(max_height=60))
    assert (report.height, report.width) == (60, 100)
    assert (probe_output(tmp_path / "c.mp4")["height"]) == 60


def test_hard_cuts_and_bounded_fetches(tmp_path):
    source = SolidSource(16, 16)
    report = render_video(synthetic_plan(32, CLIPS, JUMPS), source, MarkedCrossfade(), tmp_path / "d.mp4",
                          RenderOptions(transition_frames=0, fetch_chunk_frames=5))
    assert report.generated_frames == 0 and report.windows == []
    assert max(len(indices) for _, indices in source.calls) <= 5
    assert sum(len(indices) for _, indices in source.calls) == 32


def test_cancel_leaves_no_output(tmp_path):
    with pytest.raises(Cancelled):
        render_video(synthetic_plan(32, CLIPS, JUMPS), SolidSource(16, 16), MarkedCrossfade(),
                     tmp_path / "e.mp4", should_stop=lambda: True)
    assert list(tmp_path.iterdir()) == []


def test_missing_frame_and_bad_plan_are_errors(tmp_path):
    def lossy(video, indices):
        return {i: np.zeros((8, 8, 3), np.uint8) for i in indices[:-1]}

    with pytest.raises(CorruptMedia):
        render_video(synthetic_plan(16, CLIPS[:4], JUMPS[:4]), lossy, MarkedCrossfade(), tmp_path / "f.mp4")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InputMismatch):
        synthetic_plan(16, [(0, 0), (2, 0)], [False, True])
    with pytest.raises(InputMismatch):
        synthetic_plan(16, [(0, 0), (1, 40)], [False, True])


def _decode_clip(path: Path, count: int) -> tuple[dict[int, np.ndarray], float, np.ndarray]:
    """First `count` frames (by index), the fps and the audio resampled to 16 kHz mono."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate)
        frames = {}
        for i, frame in enumerate(container.decode(stream)):
            if i >= count:
                break
            frames[i] = frame.to_ndarray(format="rgb24")
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
        chunks = [r.to_ndarray().reshape(-1) for f in container.decode(audio=0) for r in resampler.resample(f)]
    return frames, fps, np.concatenate(chunks)


def test_real_clip_end_to_end(tmp_path):
    clip = shared_media("video/tango_speaker7.mp4")
    frames, fps, audio = _decode_clip(clip, 48)
    identity = np.arange(48, dtype=np.int32)
    path = np.array([0, 1, 2, 7, 8, 9, 3, 4])  # node i = frames 4i..4i+3; jumps 2->7 and 9->3
    jump = np.array([False, False, False, True, False, False, True, False])
    audio = audio[: int(32 / fps * RATE)]
    plan = plan_from_path(path, jump, np.zeros(12, np.int32), np.arange(12, dtype=np.int32) * 4, [identity],
                          fps, AudioTrack.mono(audio, RATE))

    def source(video, indices):
        return {i: frames[i] for i in indices}

    def crossfade(before, after, n, _window):
        weight = (np.arange(1, n + 1) / (n + 1))[:, None, None, None]
        return np.round((1 - weight) * before[-1] + weight * after[0]).astype(np.uint8)

    out = tmp_path / "real.mp4"
    report = render_video(plan, source, crossfade, out, RenderOptions(max_height=384))
    info = probe_output(out)
    assert info["video_codec"] == "h264" and info["audio_codec"] == "aac"
    assert info["frames"] == report.frames == round(len(audio) / RATE * fps)
    assert (info["width"], info["height"]) == (384, 384)
    assert abs(info["video_duration_s"] - len(audio) / RATE) <= 1 / fps
    first = decode_rgb(out)[0].astype(np.float64)
    reference = frames[0][::2, ::2].astype(np.float64) * 0.25 + frames[0][1::2, ::2] * 0.25 \
        + frames[0][::2, 1::2] * 0.25 + frames[0][1::2, 1::2] * 0.25
    psnr = 10 * np.log10(255.0**2 / np.mean((first - reference) ** 2))
    assert psnr > 30.0, psnr


def test_window_length_follows_jump_difficulty_and_the_hardest_jumps_are_cut():
    options = RenderOptions(transition_frames=8, min_transition_frames=4, max_transition_frames=16, cut_difficulty=0)
    np.testing.assert_array_equal(options.transition_lengths(np.array([0.1, 0.5, 0.7, 2.0, np.nan]), 0.5),
                                  [4, 8, 12, 16, 8])
    cutting = dataclasses.replace(options, cut_difficulty=1.4)  # the default
    np.testing.assert_array_equal(cutting.transition_lengths(np.array([0.1, 0.5, 0.7, 0.75, 2.0]), 0.5),
                                  [4, 8, 12, 0, 0])
    assert RenderOptions().cut_difficulty == 1.4
    fixed = RenderOptions(adaptive_transitions=False)
    assert fixed.transition_lengths(np.array([0.1, 3.0]), 0.5).tolist() == [8, 8]
    assert options.transition_lengths(np.array([0.1, 3.0]), 0.0).tolist() == [8, 8]  # no typical jump known
    frames = np.zeros(len(CLIPS), np.int32)
    frames[[3, 6]] = options.transition_lengths(np.array([0.2, 1.0]), 0.5)  # an easy join, a hard one
    plan = dataclasses.replace(synthetic_plan(40, CLIPS, JUMPS), jump_frames=frames)
    schedule = build_schedule(plan, transition_frames=8, context_frames=4)
    assert schedule.windows.tolist() == [[10, 14], [16, 32]]
