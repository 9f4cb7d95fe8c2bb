"""AuMoCLIP target features computed incrementally from streamed 16 kHz audio (the input of OnlineSearch).

Frames are 30 fps; frame f covers samples [f * sr / fps, (f + 1) * sr / fps) and is complete once those
samples have arrived. Every `hop_frames` complete frames (on a fixed grid: windows end at frames hop, 2 hop,
3 hop, ... whatever the chunking of the pushes), the window of up to 4 s (120 frames) ENDING at that frame
is embedded: `embed(wave) -> (low (w, D), high (D,))`. The low features of the hop's new frames are taken
from it, and every step (4 frames) that this completes gets the window's high vector: the nearest window
available causally. Steps are emitted whole; leftover frames wait for the next window. `finish` embeds a
last window ending at the end of the audio (frames = round(samples * fps / sr), as offline), pads the final
partial step by repeating its last frame (as `step_features`) and emits it.

Difference from the offline `embedding.audio_features` (same windows, same model):
- low: offline, a frame's feature is the mean over all the windows that cover it (up to 120 / hop of them,
  most with context on both sides); live, it comes from ONE window in which it lies within the last
  `hop_frames` frames, i.e. with past context only (and the model's right-edge padding).
- high: offline, a step takes the window whose centre is nearest the step's centre (2 s of past and 2 s of
  future around it); live, the window that completed the step, which ends with it (4 s of past, centre
  ~2 s earlier). At the start of the stream the windows are shorter than 4 s (the model accepts them).
`tests/retrieval/test_live_features.py` measures the per-step cosine between the two.

Loudness: each emitted step also gets its raw loudness in dB, of the
`energy.LOUDNESS_WINDOW_S` window ENDING at the step's last sample (`energy.trailing_loudness_db`; the final
padded step's window ends at the end of the audio). Offline the window is centred on the step: live it would need
0.25 s of future audio, so it trails instead (no added latency, a lag of ~0.18 s; see `energy`). Those samples
are always still in the kept buffer (a step emitted by a push ends at most 3 frames before the frames computed
before that push, and the buffer keeps 4 s before them: 0.5 s + 3 frames < 4 s).
The caller standardises it by running statistics (`energy.RunningLoudness`, `live_session`).

Chunking-invariant by construction (the windows depend only on the sample count, each loudness window is summed
alone); memory is bounded (the last 4 s of samples and fewer than 4 pending frames).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from tango.retrieval.energy import LOUDNESS_WINDOW_S, trailing_loudness_db
from tango.retrieval.features import HIGH_WINDOW_FRAMES
from tango.retrieval.inputs import FRAMES_PER_STEP
from tango.runtime.errors import FailedPrecondition, InputMismatch, InvalidArgument

EmbedAudio = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]  # wave (S,) -> low (w, D), high (D,)


@dataclass(frozen=True)
class LiveSteps:
    """The k steps completed by one push (or finish)."""

    low: np.ndarray  # (k*4, D) float32 unit-normalised
    high: np.ndarray  # (k, D) float32 unit-normalised
    loudness_db: np.ndarray  # (k,) float64 raw loudness of the window ending at each step's end


class LiveAudioFeatures:
    """push(samples) -> LiveSteps: audio_low (k*4, D), audio_high (k, D) unit-normalised and each step's loudness,
    for the k completed steps; finish() -> the rest."""

    def __init__(self, embed: EmbedAudio, hop_frames: int = 8, fps: int = 30, sample_rate: int = 16000):
        if not 1 <= hop_frames <= HIGH_WINDOW_FRAMES:
            raise InvalidArgument(f"hop_frames must be in 1..{HIGH_WINDOW_FRAMES}", reason="INVALID_HOP")
        if fps <= 0 or sample_rate <= 0:
            raise InvalidArgument("fps and sample_rate must be positive", reason="INVALID_AUDIO_RATE")
        self._embed, self.hop_frames, self.fps, self.sample_rate = embed, hop_frames, fps, sample_rate
        self._buffer = np.zeros(0, dtype=np.float32)  # the samples kept, from absolute sample _buffer_start
        self._buffer_start = 0
        self._samples = 0  # samples received
        self._frames = 0  # frames whose low feature is computed
        self._steps = 0  # steps emitted
        self._loudness_window = int(round(LOUDNESS_WINDOW_S * sample_rate))
        self._pending = np.zeros((0, 0), dtype=np.float32)  # (P < 4, D) computed frames not yet in a step
        self._high: np.ndarray | None = None  # (D,) the last window's high vector
        self._embed_calls = 0
        self._finished = False

    @property
    def embed_calls(self) -> int:
        return self._embed_calls

    @property
    def frames(self) -> int:
        """Frames whose low feature has been computed (emitted or pending)."""
        return self._frames

    @property
    def steps(self) -> int:
        """Steps emitted so far."""
        return self._steps

    def push(self, samples: np.ndarray) -> LiveSteps:
        if self._finished:
            raise FailedPrecondition("the live audio features have finished", reason="STREAM_FINISHED")
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim != 1:
            raise InputMismatch(f"audio samples must be mono (S,), got {samples.shape}")
        if not np.isfinite(samples).all():
            raise InvalidArgument("audio samples contain NaN or inf", reason="NON_FINITE_AUDIO")
        self._buffer = np.concatenate([self._buffer, samples])
        self._samples += samples.shape[0]
        complete = self._samples * self.fps // self.sample_rate
        lows, highs, loudness = [], [], []
        while complete - self._frames >= self.hop_frames:
            stop = self._frames + self.hop_frames
            self._add_window(stop, -(-stop * self.sample_rate // self.fps))  # ends with frame stop - 1
            self._emit(lows, highs, loudness, pad=False)
        self._trim()
        return self._stack(lows, highs, loudness)

    def finish(self) -> LiveSteps:
        """End of audio: the remaining frames, the final partial step padded with its last frame."""
        if self._finished:
            return self._stack([], [], [])
        self._finished = True
        frames = max(round(self._samples * self.fps / self.sample_rate), 1) if self._samples else 0
        lows, highs, loudness = [], [], []
        if frames > self._frames:
            self._add_window(frames, self._samples)
        self._emit(lows, highs, loudness, pad=True)
        self._buffer = np.zeros(0, dtype=np.float32)
        return self._stack(lows, highs, loudness)

    def _add_window(self, stop: int, stop_sample: int) -> None:
        """Embeds the window of up to 120 frames ending at frame `stop` and keeps frames _frames..stop-1."""
        start = max(0, stop - HIGH_WINDOW_FRAMES)
        begin = start * self.sample_rate // self.fps - self._buffer_start
        wave = self._buffer[begin: min(stop_sample, self._samples) - self._buffer_start]  # (S,)
        low, high = self._embed(wave)
        self._embed_calls += 1
        low = np.asarray(low, dtype=np.float32).reshape(-1, np.shape(high)[-1])  # (w', D)
        if low.shape[0] < stop - start:  # the model's frame count rounds down: repeat its last frame
            low = np.concatenate([low, np.repeat(low[-1:], stop - start - low.shape[0], axis=0)])
        new = low[self._frames - start: stop - start]  # (stop - _frames, D)
        pending = self._pending if self._pending.shape[0] else np.zeros((0, new.shape[1]), np.float32)
        self._pending = np.concatenate([pending, new])
        self._high = np.asarray(high, dtype=np.float32).reshape(-1)
        self._frames = stop

    def _emit(self, lows: list, highs: list, loudness: list, *, pad: bool) -> None:
        """Moves whole steps from the pending frames (all of them, padded, when `pad`) to lows/highs, and
        appends their loudness."""
        pending = self._pending
        if pad and pending.shape[0] % FRAMES_PER_STEP:
            fill = FRAMES_PER_STEP - pending.shape[0] % FRAMES_PER_STEP
            pending = np.concatenate([pending, np.repeat(pending[-1:], fill, axis=0)])
        steps = pending.shape[0] // FRAMES_PER_STEP
        if steps:
            lows.append(pending[: steps * FRAMES_PER_STEP])
            highs.append(np.repeat(self._high[None], steps, axis=0))
            index = self._steps + np.arange(1, steps + 1, dtype=np.int64)  # 1 + the steps' indices
            ends = np.minimum(-(-index * FRAMES_PER_STEP * self.sample_rate // self.fps), self._samples)  # (k,)
            loudness.append(trailing_loudness_db(self._buffer, ends - self._buffer_start, self._loudness_window))
            self._steps += steps
        self._pending = pending[steps * FRAMES_PER_STEP:]

    def _trim(self) -> None:
        """Drops the samples no later window needs (the next one starts after frame _frames - 120)."""
        keep_from = max(0, self._frames - HIGH_WINDOW_FRAMES) * self.sample_rate // self.fps
        if keep_from > self._buffer_start:
            self._buffer = self._buffer[keep_from - self._buffer_start:]
            self._buffer_start = keep_from

    def _stack(self, lows: list, highs: list, loudness: list) -> LiveSteps:
        dim = 0 if self._high is None else self._high.shape[0]
        if not lows:
            return LiveSteps(np.zeros((0, dim), np.float32), np.zeros((0, dim), np.float32), np.zeros(0))
        return LiveSteps(_unit(np.concatenate(lows)), _unit(np.concatenate(highs)), np.concatenate(loudness))


def _unit(array: np.ndarray) -> np.ndarray:
    return (array / np.maximum(np.linalg.norm(array, axis=-1, keepdims=True), 1e-12)).astype(np.float32)
