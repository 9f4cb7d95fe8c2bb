"""Audio: load any PyAV-readable file (wav, flac, mp3, mp4/aac...) as mono float32 at a chosen rate.

Channels are averaged (not FFmpeg's default downmix, which scales each channel by 1/sqrt(2)), then the
mono signal is resampled by FFmpeg's resampler, streamed frame by frame so memory holds only the
output.
"""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import soundfile

from tango.media.video import open_media
from tango.runtime.errors import EmptyMedia, InvalidArgument, SilentAudio, TangoError, UnsupportedAudio

SPEECH_SAMPLE_RATE = 16000
SILENCE_DBFS = -50.0  # windows quieter than this are silence
SPEECH_WINDOW_S = 0.05


def _mono_frame(frame: av.AudioFrame) -> av.AudioFrame:
    """Average the channels of a decoded frame into a mono float frame at the same rate."""
    raw = frame.to_ndarray()  # planar (C, n) or packed (1, n*C)
    channels = len(frame.layout.channels)
    samples = raw.astype(np.float32) if frame.format.is_planar else raw.reshape(-1, channels).T.astype(np.float32)
    if np.issubdtype(raw.dtype, np.integer):  # s16 / s32 / u8 decoders
        info = np.iinfo(raw.dtype)
        offset = 0.0 if info.min < 0 else (info.max + 1) / 2.0
        samples = (samples - offset) / (info.max - offset + 1.0)
    mono = samples.mean(axis=0, keepdims=True)  # (1, n)
    out = av.AudioFrame.from_ndarray(np.ascontiguousarray(mono), format="flt", layout="mono")
    out.sample_rate = frame.sample_rate
    return out


def _decode_mono(container: av.container.InputContainer, stream: av.audio.stream.AudioStream, sample_rate: int) -> np.ndarray:
    resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
    chunks: list[np.ndarray] = []
    try:
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.FFmpegError:
                continue  # a damaged packet: skip it
            for frame in frames:
                for out in resampler.resample(_mono_frame(frame)):
                    chunks.append(out.to_ndarray()[0])
    except av.FFmpegError:
        pass  # truncated tail: keep what was decoded
    for out in resampler.resample(None):
        chunks.append(out.to_ndarray()[0])
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)


def _load(path: Path, sample_rate: int, *, require_audio: bool) -> np.ndarray | None:
    if sample_rate <= 0:
        raise InvalidArgument(f"sample_rate must be positive, got {sample_rate}")
    try:
        container = open_media(path)
    except TangoError as exc:
        if exc.reason == "CORRUPT_MEDIA":
            raise UnsupportedAudio(f"cannot decode audio from {path.name}: {exc.message}") from exc
        raise
    try:
        if not container.streams.audio:
            if require_audio:
                raise UnsupportedAudio(f"{path.name} has no audio stream")
            return None
        samples = _decode_mono(container, container.streams.audio[0], sample_rate)  # (S,)
    finally:
        container.close()
    if samples.size == 0 and require_audio:
        raise UnsupportedAudio(f"no audio samples could be decoded from {path.name}")
    return samples


def load_audio(path: Path | str, sample_rate: int = SPEECH_SAMPLE_RATE) -> np.ndarray:
    """(S,) float32 mono in [-1, 1] at `sample_rate`. Raises UnsupportedAudio / EmptyMedia / ArtifactNotFound."""
    samples = _load(Path(path), sample_rate, require_audio=True)
    assert samples is not None
    return samples


def extract_audio(video_path: Path | str, sample_rate: int = SPEECH_SAMPLE_RATE) -> np.ndarray | None:
    """The audio track of a video as (S,) float32 mono, or None when the file has no audio stream."""
    return _load(Path(video_path), sample_rate, require_audio=False)


def write_wav(path: Path | str, samples: np.ndarray, sample_rate: int = SPEECH_SAMPLE_RATE) -> None:
    """Write (S,) float samples in [-1, 1] as mono PCM16 WAV (values outside are clipped)."""
    samples = np.clip(np.asarray(samples, np.float32).reshape(-1), -1.0, 1.0)
    soundfile.write(str(path), samples, sample_rate, subtype="PCM_16", format="WAV")


def window_rms_dbfs(samples: np.ndarray, sample_rate: int, window_s: float = SPEECH_WINDOW_S) -> np.ndarray:
    """(W,) RMS level in dBFS of consecutive non-overlapping windows (a short tail is dropped)."""
    width = max(1, int(round(window_s * sample_rate)))
    count = max(1, samples.size // width)
    windows = samples[: count * width].reshape(count, width) if samples.size >= width else samples[None]  # (W, w)
    rms = np.sqrt(np.mean(np.square(windows, dtype=np.float64), axis=1))  # (W,)
    return 20.0 * np.log10(np.maximum(rms, 1e-12))


def check_speech(
    samples: np.ndarray, sample_rate: int, *, silence_dbfs: float = SILENCE_DBFS, min_voiced_fraction: float = 0.02,
) -> None:
    """Raise EmptyMedia for no samples, SilentAudio when (almost) no 50 ms window rises above silence."""
    samples = np.asarray(samples)
    if samples.size == 0:
        raise EmptyMedia("the audio holds no samples")
    if not np.all(np.isfinite(samples)):
        raise UnsupportedAudio("the audio holds non-finite samples")
    levels = window_rms_dbfs(samples.astype(np.float32).reshape(-1), sample_rate)  # (W,)
    voiced_fraction = float(np.mean(levels > silence_dbfs))
    if voiced_fraction < min_voiced_fraction:
        raise SilentAudio(
            f"the audio is silent: {voiced_fraction:.1%} of 50 ms windows exceed {silence_dbfs:.0f} dBFS "
            f"(peak window {levels.max():.1f} dBFS)",
            metadata={"voiced_fraction": f"{voiced_fraction:.4f}", "peak_dbfs": f"{levels.max():.1f}"},
        )
