"""Audio: load any PyAV-readable file (wav, flac, mp3, mp4/aac...) two ways.

- `load_audio` / `extract_audio`: the signal the models analyse, mono float32 at a chosen rate (16 kHz
  speech). Channels are averaged (not FFmpeg's default downmix, which scales each channel by 1/sqrt(2)),
  then the mono signal is resampled by FFmpeg's resampler.
- `load_track`: the soundtrack as it is heard in an output video (`AudioTrack`): the file's own sample
  rate (capped at 48 kHz) and channels (mono stays mono, stereo stays stereo, more are downmixed to stereo).
Both stream frame by frame through the resampler, so memory holds only the output.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import soundfile

from tango.media.video import open_media
from tango.runtime.errors import EmptyMedia, InvalidArgument, SilentAudio, TangoError, UnsupportedAudio

SPEECH_SAMPLE_RATE = 16000
SILENCE_DBFS = -50.0  # windows quieter than this are silence
SPEECH_WINDOW_S = 0.05
MAX_TRACK_RATE = 48000  # a soundtrack above this rate is resampled down to it
_LAYOUTS = {1: "mono", 2: "stereo"}


@dataclass(frozen=True)
class AudioTrack:
    """A soundtrack as it is muxed: (C, S) float32 in [-1, 1] with C = 1 (mono) or 2 (stereo), at `rate` Hz."""

    samples: np.ndarray  # (C, S) float32
    rate: int

    def __post_init__(self) -> None:
        if self.samples.ndim != 2 or self.samples.shape[0] not in _LAYOUTS:
            raise InvalidArgument(f"an audio track is (1 or 2 channels, samples), got {self.samples.shape}")
        if self.rate <= 0:
            raise InvalidArgument(f"audio track rate must be positive, got {self.rate}")

    @classmethod
    def mono(cls, samples: np.ndarray, rate: int) -> "AudioTrack":
        """A mono track from (S,) samples."""
        return cls(np.asarray(samples, dtype=np.float32).reshape(1, -1), int(rate))

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def layout(self) -> str:
        return _LAYOUTS[self.channels]

    @property
    def num_samples(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration_s(self) -> float:
        return self.num_samples / self.rate


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


def _decode(container: av.container.InputContainer, stream: av.audio.stream.AudioStream,
            resampler: av.AudioResampler, prepare=lambda frame: frame, max_samples: int | None = None) -> np.ndarray:
    """(C, S) float32: every decodable frame of `stream`, through `prepare`, then the planar-float `resampler`.
    With `max_samples`, decoding stops once more than that many are out (a 10-hour file costs what its limit
    does, not 10 hours of samples in memory)."""
    chunks: list[np.ndarray] = []
    limit = np.inf if max_samples is None else max_samples
    held = 0
    try:
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.FFmpegError:
                continue  # a damaged packet: skip it
            for frame in frames:
                for out in resampler.resample(prepare(frame)):
                    chunks.append(out.to_ndarray())  # (C, n)
                    held += chunks[-1].shape[1]
            if held > limit:
                return np.concatenate(chunks, axis=1).astype(np.float32)
    except av.FFmpegError:
        pass  # truncated tail: keep what was decoded
    chunks.extend(out.to_ndarray() for out in resampler.resample(None))
    channels = len(resampler.layout.channels) if resampler.layout is not None else 1
    return np.concatenate(chunks, axis=1).astype(np.float32) if chunks else np.zeros((channels, 0), np.float32)


def _open_audio(path: Path) -> av.container.InputContainer:
    try:
        return open_media(path)
    except TangoError as exc:
        if exc.reason == "CORRUPT_MEDIA":
            raise UnsupportedAudio(f"cannot decode audio from {path.name}: {exc.message}") from exc
        raise


def _load(path: Path, sample_rate: int, *, require_audio: bool, max_seconds: float | None = None) -> np.ndarray | None:
    if sample_rate <= 0:
        raise InvalidArgument(f"sample_rate must be positive, got {sample_rate}")
    container = _open_audio(path)
    try:
        if not container.streams.audio:
            if require_audio:
                raise UnsupportedAudio(f"{path.name} has no audio stream")
            return None
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=sample_rate)
        max_samples = None if max_seconds is None else int(max_seconds * sample_rate)
        samples = _decode(container, container.streams.audio[0], resampler, _mono_frame, max_samples)[0]  # (S,)
    finally:
        container.close()
    if samples.size == 0 and require_audio:
        raise UnsupportedAudio(f"no audio samples could be decoded from {path.name}")
    return samples


def load_audio(path: Path | str, sample_rate: int = SPEECH_SAMPLE_RATE, max_seconds: float | None = None) -> np.ndarray:
    """(S,) float32 mono in [-1, 1] at `sample_rate`. Raises UnsupportedAudio / EmptyMedia / ArtifactNotFound.
    With `max_seconds`, decoding stops just past that length (the caller refuses what is longer)."""
    samples = _load(Path(path), sample_rate, require_audio=True, max_seconds=max_seconds)
    assert samples is not None
    return samples


def extract_audio(video_path: Path | str, sample_rate: int = SPEECH_SAMPLE_RATE) -> np.ndarray | None:
    """The audio track of a video as (S,) float32 mono, or None when the file has no audio stream."""
    return _load(Path(video_path), sample_rate, require_audio=False)


def load_track(path: Path | str, max_rate: int = MAX_TRACK_RATE) -> AudioTrack:
    """The soundtrack of a file at its own rate (at most `max_rate`) and layout (mono, or stereo for 2+ channels)."""
    path = Path(path)
    container = _open_audio(path)
    try:
        if not container.streams.audio:
            raise UnsupportedAudio(f"{path.name} has no audio stream")
        stream = container.streams.audio[0]
        rate = min(int(stream.rate or stream.codec_context.sample_rate or max_rate), int(max_rate))
        layout = "mono" if stream.codec_context.channels == 1 else "stereo"
        samples = _decode(container, stream, av.AudioResampler(format="fltp", layout=layout, rate=rate))  # (C, S)
    finally:
        container.close()
    if samples.shape[1] == 0:
        raise UnsupportedAudio(f"no audio samples could be decoded from {path.name}")
    return AudioTrack(samples, rate)


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


def centred_loudness_db(samples: np.ndarray, sample_rate: int, centres_s: np.ndarray, window_s: float) -> np.ndarray:
    """(K,) float64 loudness, 10 log10 (mean square + 1e-8), of a `window_s` window centred on each time (cut
    at the ends of the samples; one cumulative sum, no loop)."""
    centre = np.round(np.asarray(centres_s, np.float64) * sample_rate).astype(np.int64)
    half = int(window_s * sample_rate / 2)
    low, high = np.clip(centre - half, 0, len(samples)), np.clip(centre + half, 0, len(samples))
    squared = np.concatenate([[0.0], np.cumsum(np.asarray(samples, np.float64) ** 2)])
    power = (squared[high] - squared[low]) / np.maximum(high - low, 1)
    return 10.0 * np.log10(power + 1e-8)


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


def load_speech(path: str | Path, max_seconds: float) -> np.ndarray:
    """(S,) float32 mono speech at SPEECH_SAMPLE_RATE, refused when silent or longer than `max_seconds`."""
    speech = load_audio(path, SPEECH_SAMPLE_RATE, max_seconds=max_seconds)
    if len(speech) > max_seconds * SPEECH_SAMPLE_RATE:
        raise InvalidArgument(f"the audio lasts more than the limit of {max_seconds:.0f} s", reason="AUDIO_TOO_LONG")
    check_speech(speech, SPEECH_SAMPLE_RATE)
    return speech
