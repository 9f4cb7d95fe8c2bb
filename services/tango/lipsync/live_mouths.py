"""Lip sync in a live stream: the speaker's own mouths, planned segment by segment as the speech arrives.

Offline plans the whole output at once (`plan_mouths` over every frame). Live plans each segment when it is
cut, over a window that reaches `pad` frames beyond it on both sides (the faces of transition windows across
its edges are blended from real frames on both sides, and the mouth model's log-mel context is whole):
1. the speaker mouth model predicts lip shapes from the speech heard so far (the audio runs ahead of the
   committed path, so the window's speech has arrived); phones are not used live, the recogniser needs whole
   utterances;
2. the mouth search picks a mouth per frame of the window, and the segment's frames are composited as
   offline (`MouthCompositor`: aligned on the rigid face, colour-matched, feathered lower-face mask);
3. where the segment's first mouth does not continue the previous segment's last one, the previous run's
   continuation is crossfaded in over `CROSSFADE_FRAMES`, as at a jump inside a plan.
"""
from __future__ import annotations

import dataclasses
import time
from collections import Counter

import numpy as np

from tango.lipsync.bank import SpeakerMouths, build_speaker_mouths
from tango.lipsync.crossfade import fade_schedule
from tango.lipsync.mouths import CROSSFADE_FRAMES, MouthCompositor, plan_mouths
from tango.lipsync.render_hook import MIN_FACE_RATIO, face_ratio
from tango.media.audio import SPEECH_SAMPLE_RATE
from tango.perception.artifact_io import PerceptionArtifact
from tango.render.frames import FrameSource
from tango.runtime.errors import FailedPrecondition


class LiveMouths:
    def __init__(self, speakers: SpeakerMouths, frame_source: FrameSource, source_frame: list[np.ndarray],
                 fps: float, pad: int):
        self.speakers = speakers
        self.frame_source = frame_source
        self.source_frame = source_frame
        self.fps = fps
        self.pad = pad
        self._speech: list[np.ndarray] = []  # the speech heard from sample `_dropped` on
        self._dropped = 0
        self._last = -1  # the mouth state shown at the previous segment's last frame (-1: none)
        self.changed = 0
        self.left: Counter = Counter()
        self.seconds = 0.0

    @classmethod
    def open(cls, perceptions: list[PerceptionArtifact], frame_source: FrameSource, fps: float,
             pad: int) -> "LiveMouths | None":
        """Lip sync for this footage, or None where it cannot run (too few faces, no reference audio)."""
        if face_ratio(perceptions) < MIN_FACE_RATIO:
            return None
        try:
            speakers = build_speaker_mouths(perceptions)
        except FailedPrecondition:
            return None
        if speakers.model is None:
            return None
        return cls(speakers, frame_source, [p.arrays["source_frame"] for p in perceptions], fps, pad)

    def add_speech(self, samples: np.ndarray) -> None:
        """16 kHz mono float32 speech, continuing what came before."""
        self._speech.append(samples)

    def apply(self, frames: np.ndarray, start: int, first: int, video: np.ndarray, local: np.ndarray,
              generated: np.ndarray) -> np.ndarray:
        """frames (n, H, W, 3) = output frames [start, start + n); video, local, generated (W,): the reference
        video and perception frame shown at output frames [first, first + W), a window that holds the segment,
        and whether the frame is generated."""
        began = time.perf_counter()
        states = np.where(generated, -1, self.speakers.state(video, local))
        speech = self._window_speech(first, len(states))
        plan = plan_mouths(self.speakers, speech, self.fps, states, source="model")
        shown = slice(start - first, start - first + len(frames))
        plan = self._continued(plan, shown)
        compositor = MouthCompositor(self.speakers, plan, self.frame_source, self.source_frame)
        out = np.stack([compositor(start - first + k, frame) for k, frame in enumerate(frames)])
        self.changed += compositor.changed
        self.left.update({k: v for k, v in compositor.left.items()})
        self._last = int(plan.mouth[shown][-1])
        self.seconds += time.perf_counter() - began
        return out

    def report(self) -> dict:
        return {"method": "mouths", "source": "model", "frames_changed": self.changed, "left": dict(self.left),
                "seconds": round(self.seconds, 3)}

    def _window_speech(self, first: int, frames: int) -> np.ndarray:
        """(S,) the speech of output frames [first, first + frames) (zeros where none has arrived); what lies
        before the window is let go (windows only move forward)."""
        begin = int(round(first / self.fps * SPEECH_SAMPLE_RATE))
        end = int(round((first + frames) / self.fps * SPEECH_SAMPLE_RATE))
        speech = np.concatenate(self._speech)[max(begin - self._dropped, 0):]
        self._dropped = max(begin, self._dropped)
        self._speech = [speech]
        window = speech[: end - begin]
        return np.pad(window, (0, end - begin - len(window)))

    def _continued(self, plan, shown: slice):
        """The plan with the previous segment's last mouth crossfaded into the segment's first frames."""
        mouths = plan.mouth[shown]
        if self._last < 0 or mouths.size == 0:
            return plan
        bank = self.speakers.bank
        state, weight = fade_schedule(np.r_[self._last, np.maximum(mouths, 0)], bank.next_frame, bank.usable,
                                      CROSSFADE_FRAMES)
        fade_state, fade_weight = plan.fade_state.copy(), plan.fade_weight.copy()
        entering = np.arange(shown.start, shown.stop)[: CROSSFADE_FRAMES]
        fade_state[entering] = np.where(mouths[: len(entering)] >= 0, state[1: len(entering) + 1], -1)
        fade_weight[entering] = weight[1: len(entering) + 1]
        return dataclasses.replace(plan, fade_state=fade_state, fade_weight=fade_weight)
