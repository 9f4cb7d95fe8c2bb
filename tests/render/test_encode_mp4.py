"""Mp4Writer / probe_output: codecs, duration, fps, audio sync, odd sizes, atomic writes."""
from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from tango.media.audio import AudioTrack
from tango.media.encode import Mp4Writer, fps_fraction, probe_output
from tango.runtime.errors import CorruptMedia, InvalidArgument

RATE = 16000


def _click_audio(seconds: float, click_s: float) -> np.ndarray:
    audio = np.zeros(int(seconds * RATE), dtype=np.float32)  # (S,)
    at = int(click_s * RATE)
    audio[at : at + 80] = 0.9
    return audio


def _write(path, width, height, fps, audio, frames):
    track = None if audio is None else AudioTrack.mono(audio, RATE)
    with Mp4Writer(path, width, height, fps, track) as writer:
        for i in range(frames):
            writer.write(np.full((height, width, 3), (i * 5) % 256, dtype=np.uint8))
    return writer


def test_fps_fraction_recovers_ntsc_rate():
    assert fps_fraction(30000 / 1001) == Fraction(30000, 1001)
    assert fps_fraction(25.0) == 25
    with pytest.raises(InvalidArgument):
        fps_fraction(0.0)


def test_h264_aac_duration_matches_audio_within_one_frame(tmp_path):
    fps, seconds = 30000 / 1001, 2.0
    frames = round(seconds * fps)
    out = tmp_path / "out.mp4"
    _write(out, 64, 48, fps, _click_audio(seconds, 1.0), frames)
    info = probe_output(out)
    assert info["video_codec"] == "h264" and info["audio_codec"] == "aac"
    assert info["frames"] == frames
    assert info["fps"] == pytest.approx(fps, abs=1e-6)
    assert (info["width"], info["height"]) == (64, 48)
    assert abs(info["video_duration_s"] - seconds) <= 1 / fps
    assert abs(info["audio_duration_s"] - seconds) <= 1024 / RATE  # one AAC frame of padding at most
    assert abs(info["duration_s"] - seconds) <= 1 / fps


def test_audio_is_in_sync_with_video_clock(tmp_path):
    out = tmp_path / "sync.mp4"
    _write(out, 32, 32, 30.0, _click_audio(2.0, 1.0), 60)
    with av.open(str(out)) as container:
        stream = container.streams.audio[0]
        chunks, starts = [], []
        for frame in container.decode(stream):
            samples = frame.to_ndarray().reshape(-1)
            chunks.append(samples)
            starts.append(float(frame.pts * frame.time_base) if frame.pts is not None else np.nan)
    decoded = np.concatenate(chunks)
    first_pts = starts[0]
    peak_s = first_pts + int(np.argmax(np.abs(decoded))) / stream.codec_context.sample_rate
    assert peak_s == pytest.approx(1.0, abs=0.01)  # the click sits where it was put, within 10 ms


def test_stereo_44k_soundtrack_is_muxed_as_is(tmp_path):
    rate, seconds = 44100, 1.0
    t = np.arange(int(seconds * rate)) / rate
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.zeros_like(t)]).astype(np.float32) * 0.5  # (2, S)
    out = tmp_path / "stereo.mp4"
    with Mp4Writer(out, 32, 32, 25.0, AudioTrack(stereo, rate)) as writer:
        for _ in range(25):
            writer.write(np.zeros((32, 32, 3), np.uint8))
    info = probe_output(out)
    assert (info["audio_rate"], info["audio_channels"]) == (44100, 2)
    with av.open(str(out)) as container:
        decoded = np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1)  # (2, S')
    assert decoded.shape[0] == 2
    assert np.abs(decoded[0]).max() > 0.4 and np.abs(decoded[1]).max() < 0.05  # channels kept apart


def test_odd_size_is_cropped_to_even(tmp_path):
    out = tmp_path / "odd.mp4"
    _write(out, 51, 37, 25.0, None, 10)
    info = probe_output(out)
    assert (info["width"], info["height"]) == (50, 36)
    assert info["audio_codec"] is None and info["frames"] == 10


def test_failure_leaves_no_file(tmp_path):
    out = tmp_path / "broken.mp4"
    with pytest.raises(RuntimeError):
        with Mp4Writer(out, 32, 32, 30.0, None) as writer:
            writer.write(np.zeros((32, 32, 3), np.uint8))
            raise RuntimeError("render failed half way")
    assert list(tmp_path.iterdir()) == []


def test_wrong_frame_shape_is_rejected(tmp_path):
    with pytest.raises(InvalidArgument):
        with Mp4Writer(tmp_path / "x.mp4", 32, 32, 30.0, None) as writer:
            writer.write(np.zeros((32, 30, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_probe_rejects_non_video(tmp_path):
    bogus = tmp_path / "bogus.mp4"
    bogus.write_bytes(b"not a video at all" * 10)
    with pytest.raises(CorruptMedia):
        probe_output(bogus)
