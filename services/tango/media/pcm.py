"""Raw PCM16 audio as a live stream carries it: chunks checked, decoded, and resampled for the models.

A live stream's audio is PCM16 little-endian, interleaved, at 16 or 48 kHz, mono or stereo
(`tango.type.v1.AudioFormat`). `PcmFormat` checks a format and turns a chunk into samples; `SpeechResampler`
turns consecutive chunks into the 16 kHz mono float32 speech the models hear, keeping its filter state across
chunks (a chunk boundary leaves no click or gap).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np

from tango.media.audio import SPEECH_SAMPLE_RATE
from tango.runtime.errors import InvalidArgument

RATES = (16_000, 48_000)
LAYOUTS = {1: "mono", 2: "stereo"}
MAX_CHUNK_S = 1.0  # chunks of 20-500 ms are asked for; up to 1 s is taken


@dataclass(frozen=True)
class PcmFormat:
    sample_rate: int
    channels: int

    def __post_init__(self) -> None:
        if self.sample_rate not in RATES:
            raise InvalidArgument(f"live audio must be PCM16 at 16000 or 48000 Hz, not {self.sample_rate}",
                                  reason="UNSUPPORTED_AUDIO_FORMAT")
        if self.channels not in LAYOUTS:
            raise InvalidArgument(f"live audio must be mono or stereo, not {self.channels} channels",
                                  reason="UNSUPPORTED_AUDIO_FORMAT")

    @property
    def bytes_per_frame(self) -> int:
        return 2 * self.channels

    def decode(self, chunk: bytes) -> np.ndarray:
        """(m, C) int16 samples of one chunk; refuses a torn sample or a chunk longer than MAX_CHUNK_S."""
        if len(chunk) % self.bytes_per_frame:
            raise InvalidArgument(f"an audio chunk of {len(chunk)} bytes is not whole {self.channels}-channel PCM16 "
                                  "samples", reason="BAD_AUDIO_CHUNK")
        if len(chunk) > MAX_CHUNK_S * self.sample_rate * self.bytes_per_frame:
            raise InvalidArgument(f"an audio chunk of {len(chunk)} bytes is longer than {MAX_CHUNK_S:g} s",
                                  reason="AUDIO_CHUNK_TOO_LONG")
        return np.frombuffer(chunk, dtype="<i2").reshape(-1, self.channels)

    def seconds(self, samples: int) -> float:
        return samples / self.sample_rate


class SpeechResampler:
    """Consecutive (m, C) int16 chunks -> 16 kHz mono float32 speech, continuous across chunks."""

    def __init__(self, pcm: PcmFormat):
        self.pcm = pcm
        self._resampler = av.AudioResampler(format="flt", layout="mono", rate=SPEECH_SAMPLE_RATE)
        self._pts = 0

    def push(self, samples: np.ndarray) -> np.ndarray:
        """(m, C) int16 -> (s,) float32 (a few samples may wait in the filter until the next chunk)."""
        if samples.size == 0:
            return np.zeros(0, np.float32)
        return self._resample(self._frame(samples))

    def finish(self) -> np.ndarray:
        """The samples still held by the filter."""
        return self._resample(None)

    def _frame(self, samples: np.ndarray) -> av.AudioFrame:
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples.reshape(1, -1)), format="s16",
                                           layout=LAYOUTS[self.pcm.channels])
        frame.sample_rate = self.pcm.sample_rate
        frame.pts = self._pts
        frame.time_base = Fraction(1, self.pcm.sample_rate)
        self._pts += samples.shape[0]
        return frame

    def _resample(self, frame: av.AudioFrame | None) -> np.ndarray:
        out = [f.to_ndarray().reshape(-1) for f in self._resampler.resample(frame)]
        return np.concatenate(out).astype(np.float32) if out else np.zeros(0, np.float32)
