"""Rendering a retrieved path: real reference frames, Triton-generated transitions, H.264 + AAC, sidecar
with output metrics, and lip sync (own mouths as the renderer's finisher, or Wav2Lip after encoding). Produces a
`render` artifact."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from tango.artifacts.hashing import key_sha256
from tango.artifacts.inputs import InputResolver
from tango.artifacts.store import ArtifactInfo, ArtifactStore
from tango.lipsync.render_hook import LipSyncRequest, LipSyncRun
from tango.lipsync.visemes import viseme_track
from tango.media.audio import SPEECH_SAMPLE_RATE, AudioTrack
from tango.media.video import read_frames
from tango.orchestrator.config import OrchestratorConfig
from tango.orchestrator.stage_clients import PathOutput
from tango.orchestrator.transitions import TransitionModel
from tango.orchestrator.v1 import orchestrator_service_pb2 as pb
from tango.perception.artifact_io import PerceptionArtifact
from tango.render.layers import WindowLayers
from tango.render.metrics import motion_metrics
from tango.render.plan import RenderOptions, gather_path_frames, plan_from_path
from tango.render.renderer import render_video
from tango.render.sidecar import build_sidecar, write_sidecar
from tango.triton.client import TritonClient

KIND = "render"
VIDEO_FILE, SIDECAR_FILE = "video.mp4", "video.json"
RENDER_FORMAT = 5  # part of the cache key: 2 = soundtrack at its own rate and layout; 3 = own-mouth lip sync;
# 4 = transition length by jump difficulty; 5 = layered transitions
LIPSYNC_MODES = {pb.LIP_SYNC_UNSPECIFIED: "auto", pb.LIP_SYNC_OFF: "off", pb.LIP_SYNC_MOUTHS: "mouths",
                 pb.LIP_SYNC_WAV2LIP: "wav2lip"}
LIPSYNC_SOURCES = {pb.LIP_SYNC_SOURCE_MODEL: "model", pb.LIP_SYNC_SOURCE_PHONES: "phones",
                   pb.LIP_SYNC_SOURCE_BOTH: "both"}


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
        self.visemes = viseme_track  # phones of the speech (pocketsphinx's US-English model) -> visemes

    def render(self, speaker: pb.Speaker, path: PathOutput, audio: TargetAudio, options: pb.ReenactmentOptions,
               on_progress: Callable[[int, int], None], should_stop: Callable[[], bool]) -> RenderOutcome:
        render_options = RenderOptions(max_height=options.max_height or self.config.max_height,
                                       transition_frames=options.transition_frames or self.config.transition_frames)
        model = options.interpolator or self.config.interpolator
        lipsync = self.lipsync_request(options)
        key = key_sha256({"speaker": speaker.name, "audio": audio.sha256, "path": path.path, "jumps": path.jump_steps,
                          "difficulty": [round(d, 6) for d in path.jump_difficulty] + [path.typical_jump_difficulty],
                          "options": [render_options.max_height, render_options.transition_frames, model,
                                      self.config.transition_method],
                          "lipsync": dataclasses.astuple(lipsync), "format": RENDER_FORMAT})
        if not self.store.exists(KIND, key):
            self.store.create(KIND, key, lambda tmp: self._render_into(tmp, speaker, path, audio, render_options,
                                                                       model, lipsync, on_progress, should_stop))
        directory = self.store.local_dir(self.store.uri(KIND, key), KIND)
        return RenderOutcome(self.store.parse(self.store.uri(KIND, key)), directory / VIDEO_FILE,
                             directory / SIDECAR_FILE, audio.soundtrack.duration_s)

    def _render_into(self, directory: Path, speaker: pb.Speaker, path: PathOutput, audio: TargetAudio,
                     render_options: RenderOptions, model: str, lipsync: LipSyncRequest, on_progress,
                     should_stop) -> None:
        perceptions = [PerceptionArtifact.load(self.store.local_dir(p.uri, "perception")) for p in speaker.perceptions]
        videos = [self.inputs.resolve(uri) for uri in speaker.reference_uris]
        with np.load(self.store.local_dir(speaker.graph.uri, "graph") / "graph.npz", allow_pickle=False) as graph:
            node_video, node_start = graph["node_video"], graph["node_start_frame"]
        jump = np.zeros(len(path.path), dtype=bool)
        jump[np.asarray(path.jump_steps, dtype=np.int64)] = True
        fps = float(perceptions[0].meta["fps"])
        plan = plan_from_path(np.asarray(path.path), jump, node_video, node_start,
                              [p.arrays["source_frame"] for p in perceptions], fps, audio.soundtrack,
                              jump_frames=self._jump_frames(path, render_options))

        def frame_source(video: int, indices: list[int]) -> dict[int, np.ndarray]:
            return read_frames(videos[video], indices)

        layers = WindowLayers(perceptions, plan, render_options, frame_source) \
            if self.config.transition_method == "layered" else None
        transitions = TransitionModel(self.interp, model, self.config.interpolator_fallback,
                                      self.config.transition_method, layers)
        video_path = directory / VIDEO_FILE
        lipsync_run = LipSyncRun(lipsync, perceptions, plan, render_options, audio.speech, frame_source, self.visemes)
        report = render_video(plan, frame_source, transitions, video_path, render_options,
                              on_progress=lambda _stage, done, total: on_progress(done, total), should_stop=should_stop,
                              finish=lipsync_run.finisher)
        lipsync_entry = lipsync_run.after_encoding(video_path, audio.speech, SPEECH_SAMPLE_RATE, audio.soundtrack)
        sidecar = build_sidecar(report, plan.path_nodes, self._metrics(perceptions, plan, report.frames, audio.speech),
                                self._reference_metrics(perceptions), lipsync_entry, transitions.report())
        write_sidecar(directory / SIDECAR_FILE, sidecar)

    @staticmethod
    def _jump_frames(path: PathOutput, options: RenderOptions) -> np.ndarray | None:
        """(T,) window length of each step's jump, from its drawing difficulty; None when retrieval gave none."""
        if len(path.jump_difficulty) != len(path.jump_steps):
            return None
        frames = np.zeros(len(path.path), np.int32)
        frames[np.asarray(path.jump_steps, np.int64)] = options.transition_lengths(np.asarray(path.jump_difficulty),
                                                                                  path.typical_jump_difficulty)
        return frames

    def lipsync_request(self, options: pb.ReenactmentOptions) -> LipSyncRequest:
        source = LIPSYNC_SOURCES.get(options.lip_sync_source, self.config.lipsync_source)
        return LipSyncRequest(mode=LIPSYNC_MODES.get(options.lip_sync, f"enum value {options.lip_sync}"), source=source,
                              wav2lip_dir=self.config.lipsync_dir)

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
