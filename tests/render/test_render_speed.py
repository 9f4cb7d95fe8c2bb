"""Rendering speed at the main reference's size (1280x948), frames decoded beforehand (slow)."""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from support import shared_media

from tango.media.audio import AudioTrack
from tango.render.plan import RenderOptions, plan_from_path
from tango.render.renderer import frames_only, render_video


def decode_frames(path: Path, count: int) -> tuple[dict[int, np.ndarray], float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        frames = {}
        for i, frame in enumerate(container.decode(stream)):
            if i >= count:
                break
            frames[i] = frame.to_ndarray(format="rgb24")
        return frames, float(stream.average_rate)


def crossfade(before, after, n):
    weight = (np.arange(1, n + 1, dtype=np.float32) / (n + 1))[:, None, None, None]
    return np.round((1 - weight) * before[-1] + weight * after[0]).astype(np.uint8)


@pytest.mark.slow
def test_render_speed_1280x948(tmp_path):
    video = shared_media("video/tango_female_test_V1_22s.mp4")
    frames, fps = decode_frames(video, 160)
    nodes = 40
    rng = np.random.default_rng(0)
    starts = rng.integers(0, nodes - 5, 8)
    path = (starts[:, None] + np.arange(5)[None, :]).reshape(-1)  # 40 steps = 160 frames, a jump every 5
    jump = np.concatenate([[False], np.diff(path) != 1])
    audio = np.zeros(int(160 / fps * 16000), np.float32)
    plan = plan_from_path(path, jump, np.zeros(nodes, np.int32), np.arange(nodes, dtype=np.int32) * 4,
                          [np.arange(160, dtype=np.int32)], fps, AudioTrack.mono(audio, 16000))
    report = render_video(plan, lambda v, idx: {i: frames[i] for i in idx}, frames_only(crossfade), tmp_path / "speed.mp4",
                          RenderOptions())
    print(f"\nrender 1280x948: {report.render_fps:.1f} frames/s, {report.generated_frames} generated, "
          f"timings {report.timings_s}")
    assert (report.width, report.height) == (1280, 948)
    assert report.render_fps > 5.0
