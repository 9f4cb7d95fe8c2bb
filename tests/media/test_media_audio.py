"""tango.media.audio: decoding to 16 kHz mono, writing PCM16, speech checks, bad inputs."""
from __future__ import annotations

import av
import numpy as np
import pytest
import soundfile
from support import shared_media

from tango.media.audio import AudioTrack, check_speech, extract_audio, load_audio, load_track, write_wav
from tango.runtime.errors import ArtifactNotFound, EmptyMedia, InvalidArgument, SilentAudio, UnsupportedAudio


_media = shared_media


def _tone(seconds: float, rate: int, freq: float = 440.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_stereo_44k_is_resampled_to_16k_mono(tmp_path):
    left = _tone(2.0, 44100, 440.0)
    path = tmp_path / "stereo.wav"
    soundfile.write(str(path), np.stack([left, np.zeros_like(left)], axis=1), 44100, subtype="PCM_16")
    samples = load_audio(path)
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert abs(samples.size - 32000) <= 16
    middle = samples[1000:-1000]
    assert np.abs(middle).max() == pytest.approx(0.25, abs=0.01)  # channels are averaged
    spectrum = np.abs(np.fft.rfft(middle))
    assert np.fft.rfftfreq(middle.size, 1 / 16000)[spectrum.argmax()] == pytest.approx(440.0, abs=2.0)


def test_track_keeps_its_own_rate_and_stereo_channels(tmp_path):
    left, right = _tone(2.0, 44100, 440.0), _tone(2.0, 44100, 660.0, 0.25)
    path = tmp_path / "stereo.wav"
    soundfile.write(str(path), np.stack([left, right], axis=1), 44100, subtype="PCM_16")
    track = load_track(path)
    assert (track.rate, track.channels, track.layout) == (44100, 2, "stereo")
    assert track.samples.dtype == np.float32 and track.num_samples == left.size
    np.testing.assert_allclose(track.samples[0], left, atol=2e-3)  # no averaging, no resampling
    np.testing.assert_allclose(track.samples[1], right, atol=2e-3)
    assert track.duration_s == pytest.approx(2.0)


def test_track_above_48k_is_resampled_and_surround_downmixed(tmp_path):
    path = tmp_path / "surround.wav"
    tone = _tone(1.0, 96000, 1000.0, 0.3)
    soundfile.write(str(path), np.stack([tone] * 6, axis=1), 96000, subtype="PCM_16")
    track = load_track(path)
    assert (track.rate, track.channels) == (48000, 2)
    assert abs(track.num_samples - 48000) <= 64
    mono = load_track(tmp_path / "surround.wav", max_rate=16000)
    assert mono.rate == 16000


def test_track_of_a_mono_file_stays_mono(tmp_path):
    path = tmp_path / "mono.flac"
    soundfile.write(str(path), _tone(1.0, 22050), 22050)
    track = load_track(path)
    assert (track.rate, track.layout, track.num_samples) == (22050, "mono", 22050)


def test_track_shape_is_checked():
    with pytest.raises(InvalidArgument):
        AudioTrack(np.zeros((3, 10), np.float32), 16000)
    with pytest.raises(InvalidArgument):
        AudioTrack(np.zeros(10, np.float32), 16000)


@pytest.mark.parametrize("suffix", [".flac", ".wav"])
def test_mono_round_trip_keeps_level(tmp_path, suffix):
    tone = _tone(1.0, 16000, 1000.0, 0.3)
    path = tmp_path / f"tone{suffix}"
    soundfile.write(str(path), tone, 16000)
    samples = load_audio(path)
    assert samples.size == 16000
    np.testing.assert_allclose(samples, tone, atol=2e-3)


def test_mp3_decodes(tmp_path):
    path = tmp_path / "tone.mp3"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libmp3lame" if "libmp3lame" in av.codecs_available else "mp2", rate=22050)
        stream.layout = "mono"
        tone = _tone(1.0, 22050)
        for start in range(0, tone.size, 1152):
            frame = av.AudioFrame.from_ndarray(tone[None, start:start + 1152], format="flt", layout="mono")
            frame.sample_rate = 22050
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    samples = load_audio(path)
    assert abs(samples.size - 16000) < 2000 and np.abs(samples).max() > 0.3


def test_extract_audio_from_real_video():
    samples = extract_audio(_media("video/tango_female_test_V1_22s.mp4"))
    assert samples is not None and samples.dtype == np.float32
    assert samples.size / 16000 == pytest.approx(22.2, abs=0.1)
    check_speech(samples, 16000)


def test_extract_audio_without_audio_stream_is_none(tmp_path):
    path = tmp_path / "silent_video.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width = stream.height = 32
        stream.pix_fmt = "yuv420p"
        for _ in range(3):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")))
        out.mux(stream.encode(None))
    assert extract_audio(path) is None
    with pytest.raises(UnsupportedAudio):
        load_audio(path)


def test_write_wav_is_pcm16_and_clipped(tmp_path):
    path = tmp_path / "out.wav"
    write_wav(path, np.array([0.0, 0.5, 2.0, -3.0], np.float32), 16000)
    info = soundfile.info(str(path))
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    data, _ = soundfile.read(str(path), dtype="float32")
    np.testing.assert_allclose(data, [0.0, 0.5, 1.0, -1.0], atol=1e-4)


def test_real_speech_passes_and_silence_fails():
    check_speech(load_audio(_media("audio/s2g_001.wav")), 16000)
    with pytest.raises(SilentAudio):
        check_speech(np.zeros(32000, np.float32), 16000)
    with pytest.raises(SilentAudio):
        check_speech(np.random.default_rng(0).normal(0, 1e-4, 32000).astype(np.float32), 16000)
    with pytest.raises(EmptyMedia):
        check_speech(np.zeros(0, np.float32), 16000)


def test_bad_audio_inputs(tmp_path):
    with pytest.raises(ArtifactNotFound):
        load_audio(tmp_path / "missing.wav")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(EmptyMedia):
        load_audio(empty)
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(np.random.default_rng(1).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    with pytest.raises(UnsupportedAudio):
        load_audio(garbage)


def test_a_long_file_is_decoded_only_up_to_its_limit(tmp_path):
    """An hour of audio against a 5 s limit: decoding stops just past 5 s, and speech loading refuses it with
    AUDIO_TOO_LONG (a 10-hour file costs its limit, not 10 hours of samples in memory)."""
    from tango.media.audio import load_speech

    path = tmp_path / "hour.wav"
    rate = 8000
    with soundfile.SoundFile(str(path), "w", rate, 1, subtype="PCM_16") as out:
        minute = _tone(60.0, rate)
        for _ in range(60):
            out.write(minute)
    assert len(load_audio(path, 16000, max_seconds=5.0)) < 6 * 16000
    with pytest.raises(InvalidArgument) as caught:
        load_speech(path, max_seconds=5.0)
    assert caught.value.reason == "AUDIO_TOO_LONG"
