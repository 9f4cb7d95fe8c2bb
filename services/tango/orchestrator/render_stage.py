"""Rendering a retrieved path: real reference frames, Triton-generated transitions, H.264 + AAC, sidecar
with output metrics, and the optional lip-sync post-process. Produces a `render` artifact."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from tango.artifacts.hashing import key_sha256
from tango.artifacts.inputs import InputResolver
from tango.artifacts.store import ArtifactInfo, ArtifactStore
from tango.media.audio import SPEECH_SAMPLE_RATE, AudioTrack
from tango.media.video import read_frames
from tango.orchestrator.config import OrchestratorConfig
from tango.orchestrator.stage_clients import PathOutput
from tango.orchestrator.transitions import TransitionModel
from tango.orchestrator.v1 import orchestrator_service_pb2 as pb
from tango.perception.artifact_io import PerceptionArtifact
from tango.render.lipsync import Skipped, lipsync_video, resolve_lipsync
from tango.render.metrics import motion_metrics
from tango.render.plan import RenderOptions, gather_path_frames, plan_from_path
from tango.render.renderer import render_video
from tango.render.sidecar import build_sidecar, write_sidecar
from tango.triton.client import TritonClient

KIND = "render"
VIDEO_FILE, SIDECAR_FILE = "video.mp4", "video.json"
RENDER_FORMAT = 2  # part of the cache key: 2 = the soundtrack at the target audio's own rate and layout


@dataclass(frozen=True)
class TargetAudio:
    """The target speech twice: as the models hear it and as the output carries it."""

    speech: np.ndarray  # (S,) float32 mono at SPEECH_SAMPLE_RATE: output metrics, lip sync
    soundtrack: AudioTrack  # own rate (<= 48 kHz) and layout: muxed into the video
    sha256: str  # of the audio file


@dataclass(frozen=True)
class RenderOutcome:
    artifact: ArtifactInfo
    video_path: Path
    sidecar_path: Path
    duration_s: float


class RenderStage:
    def __init__(self, config: OrchestratorConfig, store: ArtifactStore, inputs: InputResolver, interp: TritonClient):
        self.config = config
        self.store = store
        self.inputs = inputs
        self.interp = interp

    def render(self, speaker: pb.Speaker, path: PathOutput, audio: TargetAudio, options: pb.ReenactmentOptions,
               on_progress: Callable[[int, int], None], should_stop: Callable[[], bool]) -> RenderOutcome:
        render_options = RenderOptions(max_height=options.max_height or self.config.max_height,
                                       transition_frames=options.transition_frames or self.config.transition_frames)
        model = options.interpolator or self.config.interpolator
        key = key_sha256({"speaker": speaker.name, "audio": audio.sha256, "path": path.path, "jumps": path.jump_steps,
                          "options": [render_options.max_height, render_options.transition_frames, model],
                          "lipsync": options.lipsync, "format": RENDER_FORMAT})
        if not self.store.exists(KIND, key):
            self.store.create(KIND, key, lambda tmp: self._render_into(tmp, speaker, path, audio, render_options,
                                                                       model, options.lipsync, on_progress, should_stop))
        directory = self.store.local_dir(self.store.uri(KIND, key), KIND)
        return RenderOutcome(self.store.parse(self.store.uri(KIND, key)), directory / VIDEO_FILE,
                             directory / SIDECAR_FILE, audio.soundtrack.duration_s)

    def _render_into(self, directory: Path, speaker: pb.Speaker, path: PathOutput, audio: TargetAudio,
                     render_options: RenderOptions, model: str, lipsync: bool, on_progress, should_stop) -> None:
        perceptions = [PerceptionArtifact.load(self.store.local_dir(p.uri, "perception")) for p in speaker.perceptions]
        videos = [self.inputs.resolve(uri) for uri in speaker.reference_uris]
        with np.load(self.store.local_dir(speaker.graph.uri, "graph") / "graph.npz", allow_pickle=False) as graph:
            node_video, node_start = graph["node_video"], graph["node_start_frame"]
        jump = np.zeros(len(path.path), dtype=bool)
        jump[np.asarray(path.jump_steps, dtype=np.int64)] = True
        fps = float(perceptions[0].meta["fps"])
        plan = plan_from_path(np.asarray(path.path), jump, node_video, node_start,
                              [p.arrays["source_frame"] for p in perceptions], fps, audio.soundtrack)

        def frame_source(video: int, indices: list[int]) -> dict[int, np.ndarray]:
            return read_frames(videos[video], indices)

        transitions = TransitionModel(self.interp, model, self.config.interpolator_fallback)
        video_path = directory / VIDEO_FILE
        report = render_video(plan, frame_source, transitions, video_path, render_options,
                              on_progress=lambda _stage, done, total: on_progress(done, total), should_stop=should_stop)
        lipsync_status = self._lipsync(video_path, audio) if lipsync else Skipped(reason="lip sync not requested")
        sidecar = build_sidecar(report, plan.path_nodes, self._metrics(perceptions, plan, report.frames, audio.speech),
                                self._reference_metrics(perceptions), lipsync_status, transitions.report())
        write_sidecar(directory / SIDECAR_FILE, sidecar)

    def _lipsync(self, video_path: Path, audio: TargetAudio):
        """The optional post-process: applied when weights and an architecture are installed, else skipped."""
        if not self.config.lipsync_dir:
            return Skipped(reason="no lip-sync model directory configured (TANGO_ORCHESTRATOR_LIPSYNC_DIR)")
        model, status = resolve_lipsync(self.config.lipsync_dir)
        if model is None:
            return status
        synced = video_path.with_name("lipsync.mp4")
        applied = lipsync_video(model, status, video_path, synced, audio.speech, SPEECH_SAMPLE_RATE,
                                audio.soundtrack)
        synced.replace(video_path)
        return applied

    @staticmethod
    def _metrics(perceptions: list[PerceptionArtifact], plan, frames: int, speech: np.ndarray) -> dict:
        poses = [p.arrays["pose_world"] for p in perceptions]
        clarity = [p.arrays["hand_clarity"] for p in perceptions]
        positions = gather_path_frames(poses, plan.clip_video, plan.clip_start, frames)
        hands = gather_path_frames(clarity, plan.clip_video, plan.clip_start, frames)
        return motion_metrics(np.nan_to_num(positions), plan.fps, speech, SPEECH_SAMPLE_RATE, hand_clarity=hands)

    @staticmethod
    def _reference_metrics(perceptions: list[PerceptionArtifact]) -> dict:
        first = perceptions[0]
        audio = first.audio()
        if audio is None:
            return {}
        return motion_metrics(np.nan_to_num(first.arrays["pose_world"]), float(first.meta["fps"]), audio,
                              SPEECH_SAMPLE_RATE, hand_clarity=first.arrays["hand_clarity"])
