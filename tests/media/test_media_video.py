"""tango.media.video: probing, constant/variable-rate decoding, random access and bad inputs."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import soundfile
from support import shared_media

from tango.media.video import MediaLimits, iter_frames, probe_video, read_frames
from tango.runtime.errors import ArtifactNotFound, CorruptMedia, EmptyMedia, MediaTooLarge, NotAVideo, NotFound


def _video(name: str) -> Path:
    return shared_media(f"video/{name}")


def _encode_grey_levels(path: Path, levels: list[int], pts_ms: list[int], size: int = 64) -> None:
    """Encode flat grey frames with explicit timestamps (ms) as lossless-ish H.264 in mp4."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30, options={"qp": "0", "preset": "ultrafast"})
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, 1000)
        for level, pts in zip(levels, pts_ms):
            frame = av.VideoFrame.from_ndarray(np.full((size, size, 3), level, np.uint8), format="rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, 1000)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def _faststart_copy(source: Path, target: Path) -> None:
    """Remux (no re-encode) with the index at the front, so a truncated copy stays partly readable."""
    with av.open(str(source)) as src, av.open(str(target), "w", options={"movflags": "faststart"}) as dst:
        in_stream = src.streams.video[0]
        out_stream = dst.add_stream_from_template(in_stream)
        for packet in src.demux(in_stream):
            if packet.dts is None:
                continue
            packet.stream = out_stream
            dst.mux(packet)


def test_probe_real_video():
    info = probe_video(_video("tango_female_test_V1_22s.mp4"))
    assert (info.width, info.height) == (1280, 948)
    assert info.fps == pytest.approx(29.94, abs=0.01)  # the stream's average rate
    assert info.frame_count == 665 and info.source_frame_count == 665
    assert info.duration_s == pytest.approx(22.21, abs=0.05)
    assert info.has_audio and not info.is_vfr


def test_iter_frames_true_timestamps_and_shapes():
    frames = list(iter_frames(_video("tango_speaker8.mp4"), max_frames=20))
    assert [f.index for f in frames] == list(range(20))
    assert [f.source_index for f in frames] == list(range(20))
    np.testing.assert_allclose([f.pts_s for f in frames], np.arange(20) / 30.0, atol=1e-3)
    assert frames[0].rgb.shape == (768, 768, 3) and frames[0].rgb.dtype == np.uint8


def test_read_frames_matches_sequential_decode():
    path = _video("tango_speaker12.mp4")
    sequential = {f.index: f.rgb for f in iter_frames(path)}
    wanted = [149, 3, 4, 5, 77, 120, 0]
    random_access = read_frames(path, wanted)
    assert sorted(random_access) == sorted(wanted)
    for index in wanted:
        np.testing.assert_array_equal(random_access[index], sequential[index])


def test_read_frames_out_of_range_index():
    with pytest.raises(Exception) as caught:
        read_frames(_video("tango_speaker8.mp4"), [10_000])
    assert getattr(caught.value, "reason", "") == "FRAME_OUT_OF_RANGE"


def test_variable_frame_rate_is_resampled_to_nearest_frame(tmp_path):
    path = tmp_path / "vfr.mp4"
    # 6 frames on 1/30 s slots 0, 1, 4, 5, 8, 11: odd gaps, so no tick is equidistant from two frames
    levels, pts_ms = [0, 50, 100, 150, 200, 250], [0, 33, 133, 167, 267, 367]
    _encode_grey_levels(path, levels, pts_ms)
    info = probe_video(path)
    assert info.is_vfr and info.source_frame_count == 6
    with av.open(str(path)) as container:  # the encoder rounds timestamps to its 1/30 s clock
        stream = container.streams.video[0]
        true_pts = np.sort([float(p.pts * stream.time_base) for p in container.demux(stream) if p.pts is not None])
    frames = list(iter_frames(path, fps=30))
    assert len(frames) == int(round(true_pts[-1] * 30)) + 1
    ticks = np.arange(len(frames)) / 30.0
    expected_source = [int(np.argmin(np.abs(true_pts - t))) for t in ticks]
    assert [f.source_index for f in frames] == expected_source
    assert [f.index for f in frames] == list(range(len(frames)))
    for frame in frames:  # the pixels are those of the chosen source frame, at its TRUE timestamp
        assert abs(int(frame.rgb.mean()) - levels[frame.source_index]) <= 3
        assert frame.pts_s == pytest.approx(true_pts[frame.source_index], abs=1e-6)
    again = read_frames(path, [len(frames) - 1, 2], fps=30)
    np.testing.assert_array_equal(again[2], frames[2].rgb)


def test_missing_file():
    with pytest.raises(ArtifactNotFound):
        probe_video("/nonexistent/video.mp4")
    assert issubclass(ArtifactNotFound, NotFound)


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(EmptyMedia):
        probe_video(path)


def test_random_bytes(tmp_path):
    path = tmp_path / "garbage.mp4"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 200_000, dtype=np.uint8).tobytes())
    with pytest.raises(CorruptMedia):
        probe_video(path)


def test_truncated_mp4_with_index_at_the_end_is_corrupt(tmp_path):
    source = _video("tango_speaker8.mp4")
    path = tmp_path / "truncated.mp4"
    path.write_bytes(source.read_bytes()[: int(source.stat().st_size * 0.3)])
    with pytest.raises(CorruptMedia):
        list(iter_frames(path))


def test_truncated_faststart_mp4_decodes_what_it_can(tmp_path):
    full = tmp_path / "faststart.mp4"
    _faststart_copy(_video("tango_speaker8.mp4"), full)
    path = tmp_path / "truncated.mp4"
    path.write_bytes(full.read_bytes()[: int(full.stat().st_size * 0.3)])
    frames = list(iter_frames(path))
    assert 0 < len(frames) < 95
    assert all(f.rgb.shape == (768, 768, 3) for f in frames)


def test_image_is_not_a_video(tmp_path):
    for suffix in (".png", ".jpg"):
        path = tmp_path / f"picture{suffix}"
        cv2.imwrite(str(path), np.zeros((32, 48, 3), np.uint8))
        with pytest.raises(NotAVideo):
            probe_video(path)


def test_audio_only_file_is_not_a_video(tmp_path):
    path = tmp_path / "speech.wav"
    soundfile.write(str(path), np.zeros(16000, np.float32), 16000)
    with pytest.raises(NotAVideo):
        probe_video(path)


def test_limits():
    path = _video("tango_speaker8.mp4")
    with pytest.raises(MediaTooLarge) as caught:
        probe_video(path, MediaLimits(max_pixels=640 * 480))
    assert caught.value.metadata["width"] == "768"
    with pytest.raises(MediaTooLarge):
        probe_video(path, MediaLimits(max_duration_s=1.0))


def test_a_ten_hour_video_of_two_frames_is_refused_before_decoding(tmp_path):
    """A decompression bomb by duration: two frames ten hours apart, a few hundred bytes on disk."""
    path = tmp_path / "ten_hours.mp4"
    _encode_grey_levels(path, [0, 255], [0, 10 * 3600 * 1000])
    with pytest.raises(MediaTooLarge) as caught:
        list(iter_frames(path))
    assert caught.value.reason == "MEDIA_TOO_LARGE" and "max_duration_s" in caught.value.metadata


def test_a_stream_of_more_frames_than_the_limit_stops_being_listed():
    with pytest.raises(MediaTooLarge) as caught:
        probe_video(_video("tango_speaker8.mp4"), MediaLimits(max_frames=50))
    assert caught.value.metadata["max_frames"] == "50"


def _encode_ts(path: Path, size: tuple[int, int], frames: int) -> None:
    with av.open(str(path), "w", format="mpegts") as out:
        stream = out.add_stream("libx264", rate=25, options={"preset": "ultrafast"})
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for k in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((size[1], size[0], 3), 40 * k % 255, np.uint8), format="rgb24")
            frame.pts = k
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def test_frames_that_grow_midstream_come_out_at_the_probed_size(tmp_path):
    """A stream that switches from 64x48 to 1280x960 halfway (two MPEG-TS segments joined, as a bomb that
    declares a small picture or a resolution switch would): every decoded frame has the probed size, the one
    the limits were checked on (FFmpeg's probe may report either)."""
    small, large, joined = tmp_path / "small.ts", tmp_path / "large.ts", tmp_path / "joined.ts"
    _encode_ts(small, (64, 48), 5)
    _encode_ts(large, (1280, 960), 5)
    joined.write_bytes(small.read_bytes() + large.read_bytes())
    info = probe_video(joined)
    probed = (info.height, info.width, 3)
    assert probed in {(48, 64, 3), (960, 1280, 3)}
    assert {frame.rgb.shape for frame in iter_frames(joined)} == {probed}
    assert {rgb.shape for rgb in read_frames(joined, range(info.frame_count)).values()} == {probed}
