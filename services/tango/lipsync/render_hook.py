"""Lip sync inside a render: which method runs, on which frames, and what the sidecar says about it.

Methods (`LipSyncRequest.mode`):
- "auto" (the default): the speaker's own mouths wherever the reference footage shows a face; a reference
  without any meshed face (or imported motion) is left as it is, and the sidecar says why;
- "mouths": the same, asked for explicitly;
- "wav2lip": Wav2Lip from a user's own weights (`wav2lip_dir`), as a post-pass over the encoded video;
- "off".
The own-mouths method plugs into the renderer as its finisher (no second encode); Wav2Lip re-encodes.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from tango.lipsync.bank import SpeakerMouths, build_speaker_mouths, has_faces
from tango.lipsync.mouths import GeneratedFaces, MouthCompositor, plan_mouths
from tango.perception.artifact_io import PerceptionArtifact
from tango.render.frames import FrameSource
from tango.render.lipsync import Skipped, lipsync_video, resolve_lipsync
from tango.render.plan import RenderOptions, RenderPlan, path_frame_index
from tango.render.schedule import build_schedule
from tango.runtime.errors import FailedPrecondition, InvalidArgument

MODES = ("auto", "mouths", "wav2lip", "off")
MIN_FACE_RATIO = 0.2  # below it the footage "has no face" for lip sync


@dataclasses.dataclass(frozen=True)
class LipSyncRequest:
    mode: str = "auto"
    source: str = "both"  # "both", "model" or "phones" (own mouths only)
    wav2lip_dir: str = ""

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise InvalidArgument(f"unknown lip-sync mode {self.mode!r}; one of {list(MODES)}",
                                  reason="BAD_LIPSYNC_MODE")


def face_ratio(perceptions: list[PerceptionArtifact]) -> float:
    if not has_faces(perceptions):
        return 0.0
    present = np.concatenate([p.arrays["face_present"] for p in perceptions])
    return float(present.mean()) if present.size else 0.0


def output_frame_states(speakers: SpeakerMouths, plan: RenderPlan, options: RenderOptions) -> np.ndarray:
    """(N,) mouth-bank state (all videos' perception frames concatenated) shown at each output frame;
    -1 where the renderer generates the frame."""
    schedule = build_schedule(plan, options.transition_frames, options.context_frames)
    lengths = np.diff(np.append(speakers.offsets, len(speakers.video)))  # (V,) frames of each video
    video, local = path_frame_index(plan.clip_video, plan.clip_start, lengths, schedule.frames)
    return np.where(schedule.generated, -1, speakers.state(video, local))


def mouth_finisher(perceptions: list[PerceptionArtifact], plan: RenderPlan, options: RenderOptions,
                   speech: np.ndarray, frame_source: FrameSource, source: str,
                   visemes=None) -> MouthCompositor | Skipped:
    """The renderer finisher putting the speaker's own mouths on the output, or why there is none."""
    ratio = face_ratio(perceptions)
    if ratio < MIN_FACE_RATIO:
        return Skipped(reason=f"the reference footage shows a usable face in {ratio:.0%} of its frames "
                              f"(lip sync needs {MIN_FACE_RATIO:.0%})")
    try:
        speakers = build_speaker_mouths(perceptions, visemes=visemes)
    except FailedPrecondition as error:
        return Skipped(reason=error.message)
    states = output_frame_states(speakers, plan, options)
    mouth_plan = plan_mouths(speakers, speech, plan.fps, states, source=source, visemes=visemes)
    return MouthCompositor(speakers, mouth_plan, frame_source, [p.arrays["source_frame"] for p in perceptions],
                           generated_faces=GeneratedFaces())


class LipSyncRun:
    """One render's lip sync: the renderer's finisher (own mouths, or None) and, after encoding, the sidecar
    entry (running Wav2Lip over the encoded video when that is the method)."""

    def __init__(self, request: LipSyncRequest, perceptions: list[PerceptionArtifact], plan: RenderPlan,
                 options: RenderOptions, speech: np.ndarray, frame_source: FrameSource, visemes=None):
        self.request = request
        self.finisher: MouthCompositor | None = None
        self._skipped: Skipped | None = Skipped(reason="lip sync turned off") if request.mode == "off" else None
        if request.mode in ("auto", "mouths"):
            made = mouth_finisher(perceptions, plan, options, speech, frame_source, request.source,
                                  visemes if request.source != "model" else None)
            self.finisher, self._skipped = (None, made) if isinstance(made, Skipped) else (made, None)

    def after_encoding(self, video_path: Path, speech: np.ndarray, speech_rate: int, soundtrack) -> dict:
        """The sidecar's `lipsync` entry."""
        if self.request.mode == "wav2lip":
            return wav2lip_post(self.request.wav2lip_dir, video_path, speech, speech_rate, soundtrack)
        return self._skipped.to_dict() if self._skipped is not None else self.finisher.report()


def wav2lip_post(weights_dir: str, video_path: Path, speech: np.ndarray, speech_rate: int, soundtrack) -> dict:
    """Wav2Lip over the encoded video (replaced in place); the sidecar entry."""
    if not weights_dir:
        return Skipped(reason="Wav2Lip asked for, but no weights directory is configured "
                              "(TANGO_ORCHESTRATOR_LIPSYNC_DIR)").to_dict()
    from tango.lipsync.wav2lip import build_wav2lip

    model, status = resolve_lipsync(weights_dir, build=build_wav2lip)
    if model is None:
        return status.to_dict()
    synced = video_path.with_name("lipsync.mp4")
    applied = lipsync_video(model, status, video_path, synced, speech, speech_rate, soundtrack)
    synced.replace(video_path)
    return applied.to_dict() | {"method": "wav2lip", "frames_changed": model.frames_changed,
                                "frames_left": model.frames_left}
