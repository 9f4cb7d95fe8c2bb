"""SegmentEncoder: fragments complete on return, an IDR at each segment start, a continuous audio timeline, the
concatenation a valid fragmented mp4 of the right duration, odd sizes cropped, close() flushing the encoders."""
from __future__ import annotations

import io
import json
import shutil
import struct
import subprocess

import av
import numpy as np
import pytest

from tango.media.live_encode import MediaSegment, SegmentEncoder
from tango.runtime.errors import FailedPrecondition, InvalidArgument

FPS, RATE, SEGMENT = 30, 48000, 15
TONE_HZ = 440.0


def clip(first: int, count: int, width: int, height: int) -> np.ndarray:
    """(count, H, W, 3) uint8: colour gradients and a white box moving 3 px per frame."""
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([xx * 255 // width, yy * 255 // height, np.full_like(xx, 96)], axis=-1).astype(np.uint8)
    frames = np.repeat(base[None], count, axis=0)  # (n, H, W, 3)
    for i in range(count):
        x = (3 * (first + i)) % max(1, width - 16)
        frames[i, height // 3: height // 3 + 16, x: x + 16] = 255
    return frames


def tone(first: int, count: int, channels: int, rate: int = RATE) -> np.ndarray:
    """(count, channels) int16: a 440 Hz sine continuing from sample `first`."""
    t = np.arange(first, first + count) / rate
    return np.repeat((np.sin(2 * np.pi * TONE_HZ * t) * 12000).astype(np.int16)[:, None], channels, axis=1)


def encode(seconds: float, width: int = 96, height: int = 64, channels: int = 2, segment: int = SEGMENT,
           pcm_jitter: bool = False, rate: int = RATE) -> tuple[SegmentEncoder, list[MediaSegment]]:
    """A whole stream; with pcm_jitter the pcm chunks are not aligned to segments (nor to AAC frames)."""
    encoder = SegmentEncoder(width, height, FPS, rate, channels, segment)
    total, segments, sent = round(seconds * FPS), [], 0
    for first in range(0, total, segment):
        n = min(segment, total - first)
        end = (first + n) * rate // FPS
        if pcm_jitter and first + n < total:
            end -= 333 * (len(segments) % 3)
        pcm = tone(sent, end - sent, channels, rate)
        segments.append(encoder.encode_segment(clip(first, n, width, height), pcm))
        sent = end
    final = encoder.close()
    return encoder, segments + ([final] if final is not None else [])


def joined(encoder: SegmentEncoder, segments: list[MediaSegment]) -> bytes:
    return encoder.init_segment + b"".join(s.data for s in segments)


def boxes(data: bytes) -> list[tuple[bytes, int]]:
    out, at = [], 0
    while at < len(data):
        size, kind = struct.unpack(">I4s", data[at: at + 8])
        out.append((kind, size))
        at += size
    assert at == len(data)
    return out


def nal_types(sample: bytes) -> list[int]:
    """NAL unit types of a length-prefixed H.264 access unit."""
    types, at = [], 0
    while at < len(sample):
        size = struct.unpack(">I", sample[at: at + 4])[0]
        types.append(sample[at + 4] & 0x1F)
        at += 4 + size
    assert at == len(sample)
    return types


def test_init_segment_is_ready_at_construction():
    encoder = SegmentEncoder(64, 48, FPS, RATE, 1, SEGMENT)
    assert [kind for kind, _ in boxes(encoder.init_segment)] == [b"ftyp", b"moov"]
    assert b"mvex" in encoder.init_segment and encoder.codecs.startswith("avc1.")
    assert encoder.close() is None


def test_each_segment_is_complete_on_return_and_starts_with_an_idr():
    encoder = SegmentEncoder(96, 64, FPS, RATE, 2, SEGMENT)
    for index in range(3):
        first = index * SEGMENT
        segment = encoder.encode_segment(clip(first, SEGMENT, 96, 64), tone(first * 1600, SEGMENT * 1600, 2))
        assert [kind for kind, _ in boxes(segment.data)] == [b"moof", b"mdat"]
        assert (segment.index, segment.frames, segment.start_s) == (index, SEGMENT, pytest.approx(first / FPS))
        # the init + this segment alone (nothing after it) holds every frame of the segment, an IDR first
        with av.open(io.BytesIO(encoder.init_segment + segment.data)) as container:
            packets = [p for p in container.demux(video=0) if p.size]
            assert len(packets) == SEGMENT
            assert 5 in nal_types(bytes(packets[0])) and packets[0].is_keyframe
            assert not any(p.is_keyframe for p in packets[1:])
            container.seek(0)
            assert sum(1 for _ in container.decode(video=0)) == SEGMENT
    encoder.close()


def test_concatenation_is_one_fmp4_with_the_right_duration_and_both_streams():
    encoder, segments = encode(2.0, pcm_jitter=True)
    data = joined(encoder, segments)
    with av.open(io.BytesIO(data)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert (video.codec_context.name, audio.codec_context.name) == ("h264", "aac")
        assert container.duration / av.time_base == pytest.approx(2.0, abs=1 / FPS)
        keys = [i for i, p in enumerate(p for p in container.demux(video) if p.size) if p.is_keyframe]
    assert keys == list(range(0, 60, SEGMENT))
    with av.open(io.BytesIO(data)) as container:
        frames = list(container.decode(audio=0))
    pts = [f.pts for f in frames]
    assert pts[0] == 0 and np.all(np.diff(pts) == 1024)  # audio starts with the video, no gap anywhere
    signal = np.concatenate([f.to_ndarray()[0] for f in frames])[: 2 * RATE]  # (S,)
    assert len(signal) == 2 * RATE
    spectrum = np.abs(np.fft.rfft(signal[RATE // 2: RATE // 2 + RATE]))  # 1 s window: 1 Hz bins
    assert abs(int(np.argmax(spectrum)) - TONE_HZ) <= 1
    assert sum(s.audio_samples for s in segments) == 2 * RATE


@pytest.mark.parametrize("rate, channels", [(48000, 2), (16000, 1)])
def test_ffprobe_reads_the_concatenation(tmp_path, rate, channels):
    if shutil.which("ffprobe") is None:
        pytest.skip("ffprobe (Debian's ffmpeg) is absent")
    encoder, segments = encode(2.0, channels=channels, rate=rate)
    path = tmp_path / "live.mp4"
    path.write_bytes(joined(encoder, segments))
    argv = ["ffprobe", "-v", "error", "-count_packets", "-show_entries",
            "format=duration:stream=codec_name,nb_read_packets,duration", "-of", "json", str(path)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True)
    info = json.loads(done.stdout)
    assert [s["codec_name"] for s in info["streams"]] == ["h264", "aac"]
    assert int(info["streams"][0]["nb_read_packets"]) == 60
    assert float(info["format"]["duration"]) == pytest.approx(2.0, abs=1 / FPS)
    assert all(float(s["duration"]) == pytest.approx(2.0, abs=1 / FPS) for s in info["streams"])


def test_audio_timeline_is_continuous_across_segments():
    encoder, segments = encode(1.5, channels=1, pcm_jitter=True)
    ends = [(s.audio_start_s, s.audio_end_s) for s in segments if s.audio_end_s > s.audio_start_s]
    assert ends[0][0] == 0.0
    assert all(a[1] == pytest.approx(b[0]) for a, b in zip(ends, ends[1:]))
    assert ends[-1][1] >= 1.5  # everything handed in is out after close()
    assert all(s.audio_end_s <= s.end_s + 1e-9 for s in segments if s.frames)  # audio never runs ahead


def test_odd_sizes_are_cropped_to_even():
    encoder, segments = encode(0.5, width=97, height=63)
    with av.open(io.BytesIO(joined(encoder, segments))) as container:
        frame = next(container.decode(video=0))
    assert (frame.width, frame.height) == (96, 62)


def test_close_flushes_the_audio_left_and_ends_the_encoder():
    encoder = SegmentEncoder(64, 48, FPS, RATE, 2, SEGMENT)
    segment = encoder.encode_segment(clip(0, SEGMENT, 64, 48), tone(0, 24000, 2))
    final = encoder.close()
    assert final is not None and final.final and final.frames == 0 and final.index == segment.index + 1
    assert [kind for kind, _ in boxes(final.data)] == [b"moof", b"mdat"]
    assert final.audio_end_s == pytest.approx(24000 / RATE)  # 23 whole AAC frames + the short last one
    assert final.audio_start_s == pytest.approx(segment.audio_end_s)
    assert encoder.close() is None
    with pytest.raises(FailedPrecondition):
        encoder.encode_segment(clip(0, 1, 64, 48), tone(0, 0, 2))


def test_final_segment_carries_the_flushed_audio():
    encoder = SegmentEncoder(64, 48, FPS, RATE, 2, SEGMENT)
    first = encoder.encode_segment(clip(0, SEGMENT, 64, 48), tone(0, 24000, 2))
    last = encoder.encode_segment(clip(SEGMENT, 10, 64, 48), tone(24000, 16000, 2), final=True)
    assert last.final and last.frames == 10 and last.audio_end_s == pytest.approx(40000 / RATE)
    assert encoder.close() is None
    with av.open(io.BytesIO(encoder.init_segment + first.data + last.data)) as container:
        assert container.duration / av.time_base == pytest.approx(25 / FPS, abs=1 / FPS)
        assert sum(1 for p in container.demux(video=0) if p.size) == 25


def test_bad_inputs_are_refused():
    encoder = SegmentEncoder(64, 48, FPS, RATE, 2, SEGMENT)
    with pytest.raises(InvalidArgument):
        encoder.encode_segment(np.zeros((2, 48, 65, 3), np.uint8), tone(0, 10, 2))
    with pytest.raises(InvalidArgument):
        encoder.encode_segment(clip(0, 2, 64, 48), np.zeros((10, 2), np.float32))
    with pytest.raises(InvalidArgument):
        encoder.encode_segment(clip(0, 0, 64, 48), tone(0, 10, 2))
    with pytest.raises(InvalidArgument):
        SegmentEncoder(64, 48, FPS, RATE, 3, SEGMENT)
    encoder.close()


@pytest.mark.slow
@pytest.mark.parametrize("width, height", [(640, 360), (854, 480), (1280, 720)])
@pytest.mark.parametrize("preset", ["ultrafast", "veryfast"])
def test_encode_speed(width, height, preset):
    """ms per frame (video + 48 kHz stereo AAC, 1 s segments): `pytest -m slow -s -k encode_speed`."""
    import time

    clips = [clip(30 * i, 30, width, height) for i in range(4)]
    noise = np.random.default_rng(0).integers(0, 12, clips[0].shape, dtype=np.uint8)  # texture, like rendered video
    clips = [c + noise for c in clips]
    encoder = SegmentEncoder(width, height, 30, 48000, 2, 30, preset=preset)
    encoder.encode_segment(clips[0], tone(0, 48000, 2))  # warm-up
    began = time.perf_counter()
    for i, frames in enumerate(clips[1:], start=1):
        encoder.encode_segment(frames, tone(48000 * i, 48000, 2))
    ms = (time.perf_counter() - began) * 1000 / 90
    encoder.close()
    print(f"\n{width}x{height} {preset}: {ms:.2f} ms/frame")
    assert ms < 1000 / 30 * 3  # only a gross sanity bound: the figure is what matters
