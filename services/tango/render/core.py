"""The render room's logic: a retrieved path + the speaker's footage + the target speech -> a `render`
artifact (video.mp4, H.264 + AAC, and video.json, its sidecar). No gRPC here.

Real reference frames are read from the reference videos, transitions drawn by a Triton interpolation
model (`TransitionModel`, with its fallback), lip sync applied (own mouths as the renderer's finisher, or
Wav2Lip after encoding) and output metrics written to the sidecar. Renders are content-addressed: the key
covers the speaker, the audio's hash, the path and every option that changes the pixels (plus
`RENDER_FORMAT`), so asking again returns the stored artifact.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tango.artifacts.hashing import FileHashCache, key_sha256
from tango.artifacts.inputs import InputResolver
from tango.artifacts.store import ArtifactInfo, ArtifactStore
from tango.graph.artifact_io import GraphArtifact
from tango.lipsync.render_hook import LipSyncRequest, LipSyncRun
from tango.lipsync.visemes import viseme_track
from tango.media.audio import SPEECH_SAMPLE_RATE, AudioTrack, load_speech, load_track
from tango.media.pcm import PcmFormat
from tango.media.video import read_frames
from tango.perception.artifact_io import PerceptionArtifact
from tango.render.config import RenderConfig
from tango.render.layers import WindowLayers
from tango.render.live import LiveRenderSession
from tango.render.live_core import LiveOutputSpec, LiveRequest, open_session
from tango.render.live_ladder import HeightLadder
from tango.render.metrics import motion_metrics
from tango.render.plan import RenderOptions, gather_path_frames, plan_from_path
from tango.render.renderer import render_video
from tango.render.service_metrics import RenderServiceMetrics
from tango.render.sidecar import build_sidecar, write_sidecar
from tango.render.transitions import TransitionModel
from tango.runtime.errors import InvalidArgument
from tango.runtime.slots import Slots
from tango.runtime.progress import ProgressFn, StopFn
from tango.speech.captions import write_captions
from tango.speech.transcript_files import GivenTranscript, read_transcript
from tango.triton.client import TritonClient

KIND = "render"
VIDEO_FILE, SIDECAR_FILE, CAPTIONS_FILE = "video.mp4", "video.json", "video.vtt"
RENDER_FORMAT = 33  # part of the cache key: 2 = soundtrack at its own rate and layout; 3 = own-mouth lip sync;
# 4 = transition length by jump difficulty; 5 = layered transitions; 6 = mouths placed by the head in 3-D and
# crossfaded at jumps between runs; 7 = the hardest jumps cut, not drawn; 8 = layered person shape carried at 1/4 size;
# 9 = layered faces morphed by their landmarks where the flow fails; 10 = mouths chosen by landmark distance;
# 11 = a morphed face drawn from the end that sees each part of it, its silhouette moving between the ends'
# 12 = lip-sync mask cut to both faces' ovals (no skin past the output's jaw), mouths searched within the
# compositor's 20°;
# 13 = lip sync driven by the speaker's phone model (source "both") by default; 14 = layered background motion
# by a similarity fitted to the window's flow; 15 = layered: occlusion masks not trusted where the warped ends
# disagree; 16 = captions (video.vtt) and the speech's transcript in the sidecar; 17 = pasted mouths' lips warped
# half way to the predicted lips; 18 = layered: the background plate shown only where the warped ends disagree;
# 19 = lip-sync offset fields sampled where cv2.resize puts them (they were up to 2.5 px off); 20 = the sidecar lists
# the script cues and what ingest heard in each reference; 21 = layered: an eye whose ends differ switches from
# one end to the other instead of dissolving (one lid, not two); 22 = the speaker mouth model is a kernel ridge;
# 23 = a generated frame's mouth goes where MediaPipe finds its face, not on the blend of the ends' landmarks;
# 24 = layered: the warped ends resampled bicubically where they disagree (sharper faces at jumps);
# 25 = layered: a part moving at both ends keeps the blend (smeared, as real frames show it), no quick switch
# 26 = layered: no backdrop drawn into the person (the end whose warp samples the person weighs more; holes both
# warps tear open take the ends' plain mix)
# 27 = layered: its weights drawn at half size, the bicubic detail as luminance, each end sharpened where it shows
# 28 = layered: a failed part cuts from one end to the other (switched by tau = 1/2) instead of a 3-frame dissolve
# 29 = the speaker mouth model hears the slow context where it cross-validates better (other mouths chosen)
# 30 = layered: the switch's region grown past a failed part's edge (no outline of the part left behind)
# 31 = layered: a part slower than 1.5 px a frame at either end counts as unsmeared (it cuts, not a half-faded hand)
# 32 = layered: the switch's region grown at a quarter of the frame's size (up to 11 grey levels apart from 31)
# 33 = layered: a turning face's switch only where both ends see the pixel (no stretched cheek patch)


@dataclass(frozen=True)
class Footage:
    """The speaker's footage a path walks through."""

    name: str  # "speakers/{id}": part of the cache key
    reference_uris: tuple[str, ...]
    perception_uris: tuple[str, ...]  # aligned with reference_uris
    graph_uri: str


@dataclass(frozen=True)
class PathSpec:
    nodes: tuple[int, ...]  # (T,) graph node of each step
    jump_steps: tuple[int, ...]  # steps entered through a jump edge
    jump_difficulties: tuple[float, ...] = ()  # aligned with jump_steps; empty = default transition length
    typical_jump_difficulty: float = 0.0
    # how the path honoured the job's script cues: {kind, label, requested_s, placed_s, honoured, measure} each
    cues: tuple[dict, ...] = ()


@dataclass(frozen=True)
class RenderRequestOptions:
    transition_frames: int = 0  # 0 = service default
    max_height: int = 0  # 0 = service default
    interpolator: str = ""  # "" = service default
    lip_sync: str = "auto"  # one of tango.lipsync.render_hook.MODES
    lip_sync_source: str = ""  # "" = service default; model | phones | both


@dataclass(frozen=True)
class TargetAudio:
    """The target speech twice: as the models hear it and as the output carries it."""

    speech: np.ndarray  # (S,) float32 mono at SPEECH_SAMPLE_RATE: output metrics, lip sync
    soundtrack: AudioTrack  # own rate (<= 48 kHz) and layout: muxed into the video
    sha256: str  # of the audio file
    transcript: GivenTranscript | None = None  # its transcript, when the caller gave one (read before any work)
    transcript_sha256: str = ""


@dataclass(frozen=True)
class RenderOutcome:
    artifact: ArtifactInfo
    video_path: Path
    sidecar_path: Path
    duration_s: float
    cache_hit: bool
    seconds: float
    captions_path: Path | None = None  # None where no words were heard


class RenderCore:
    def __init__(self, config: RenderConfig, store: ArtifactStore, inputs: InputResolver, interp: TritonClient,
                 metrics: RenderServiceMetrics):
        self.config = config
        self.store = store
        self.inputs = inputs
        self.interp = interp
        self.metrics = metrics
        self.hashes = FileHashCache()
        self.visemes = viseme_track  # phones of the speech (pocketsphinx's US-English model) -> visemes
        self.live_slots = Slots(config.live_streams, f"this render replica already carries {config.live_streams} "
                                "live streams", "LIVE_CAPACITY")
        self.live_ladder = HeightLadder(tuple(int(h) for h in config.live_ladder.split(",") if h.strip()),
                                        config.live_budget, floor=config.live_render_floor,
                                        on_step=lambda direction: metrics.live_rung_steps.labels(direction).inc())

    def open_live(self, footage: Footage, pcm: PcmFormat, request: LiveRequest, outputs: LiveOutputSpec,
                  should_stop: StopFn) -> LiveRenderSession:
        """A live rendering session (`tango.render.live`); hold one of `live_slots` while it runs."""
        check_footage(footage)
        return open_session(self, footage, pcm, request, outputs, should_stop)

    def render(self, footage: Footage, path: PathSpec, audio_uri: str, options: RenderRequestOptions,
               on_progress: ProgressFn, should_stop: StopFn, transcript_uri: str = "") -> RenderOutcome:
        started = time.perf_counter()
        check_request(footage, path, audio_uri)
        render_options = RenderOptions(max_height=options.max_height or self.config.max_height,
                                       transition_frames=options.transition_frames or self.config.transition_frames,
                                       crf=self.config.crf)
        model = options.interpolator or self.config.interpolator
        lipsync = LipSyncRequest(mode=options.lip_sync, source=options.lip_sync_source or self.config.lipsync_source,
                                 wav2lip_dir=self.config.lipsync_dir)
        audio = self._target_audio(audio_uri, transcript_uri)
        key = key_sha256({"speaker": footage.name, "audio": audio.sha256, "transcript": audio.transcript_sha256,
                          "path": list(path.nodes),
                          "jumps": list(path.jump_steps),
                          "difficulty": [round(d, 6) for d in path.jump_difficulties] + [path.typical_jump_difficulty],
                          "options": [render_options.max_height, render_options.transition_frames, render_options.crf, model,
                                      self.config.transition_method],
                          "lipsync": dataclasses.astuple(lipsync), "cues": list(path.cues), "format": RENDER_FORMAT})
        cache_hit = self.store.exists(KIND, key)
        if not cache_hit:
            self.store.create(KIND, key, lambda tmp: self._render_into(
                tmp, footage, path, audio, render_options, model, lipsync, on_progress, should_stop))
        directory = self.store.local_dir(self.store.uri(KIND, key), KIND)
        seconds = time.perf_counter() - started
        label = "hit" if cache_hit else "miss"
        self.metrics.videos.labels(label).inc()
        self.metrics.render_seconds.labels(label).observe(seconds)
        captions = directory / CAPTIONS_FILE
        return RenderOutcome(self.store.parse(self.store.uri(KIND, key)), directory / VIDEO_FILE,
                             directory / SIDECAR_FILE, audio.soundtrack.duration_s, cache_hit, seconds,
                             captions if captions.is_file() else None)

    def _target_audio(self, audio_uri: str, transcript_uri: str) -> TargetAudio:
        path = self.inputs.resolve(audio_uri)
        speech = load_speech(path, self.config.max_audio_seconds)
        if not transcript_uri:
            return TargetAudio(speech, load_track(path), self.hashes.sha256(path))
        transcript = self.inputs.resolve(transcript_uri)
        return TargetAudio(speech, load_track(path), self.hashes.sha256(path), read_transcript(transcript),
                           self.hashes.sha256(transcript))

    def _render_into(self, directory: Path, footage: Footage, path: PathSpec, audio: TargetAudio,
                     render_options: RenderOptions, model: str, lipsync: LipSyncRequest, on_progress: ProgressFn,
                     should_stop: StopFn) -> None:
        # first: a transcript that cannot be the speech's fails before any frame is drawn
        speech = write_captions(directory / CAPTIONS_FILE, audio.speech, audio.transcript)
        perceptions = [PerceptionArtifact.load(self.store.local_dir(uri, "perception")) for uri in footage.perception_uris]
        videos = [self.inputs.resolve(uri) for uri in footage.reference_uris]
        graph = GraphArtifact.load(self.store.local_dir(footage.graph_uri, "graph"))
        nodes = np.asarray(path.nodes, dtype=np.int64)  # (T,)
        if nodes.min() < 0 or nodes.max() >= graph.nodes:
            raise InvalidArgument(f"the path visits nodes outside the speaker's graph of {graph.nodes} nodes",
                                  reason="PATH_OUTSIDE_GRAPH")
        jump = np.zeros(len(nodes), dtype=bool)  # (T,)
        jump[np.asarray(path.jump_steps, dtype=np.int64)] = True
        fps = float(perceptions[0].meta["fps"])
        plan = plan_from_path(nodes, jump, graph.arrays["node_video"], graph.arrays["node_start_frame"],
                              [p.arrays["source_frame"] for p in perceptions], fps, audio.soundtrack,
                              jump_frames=jump_frames(path, render_options))

        def frame_source(video: int, indices: list[int]) -> dict[int, np.ndarray]:
            return read_frames(videos[video], indices)

        layers = WindowLayers(perceptions, plan, render_options, frame_source) \
            if self.config.transition_method == "layered" else None
        transitions = TransitionModel(self.interp, model, self.config.interpolator_fallback,
                                      self.config.transition_method, layers)
        video_path = directory / VIDEO_FILE
        lipsync_run = LipSyncRun(lipsync, perceptions, plan, render_options, audio.speech, frame_source, self.visemes)
        report = render_video(plan, frame_source, transitions, video_path, render_options,
                              on_progress=on_progress, should_stop=should_stop, finish=lipsync_run.finisher)
        lipsync_entry = lipsync_run.after_encoding(video_path, audio.speech, SPEECH_SAMPLE_RATE, audio.soundtrack)
        cuts = 0 if plan.jump_frames is None else int(np.count_nonzero(plan.jump & (plan.jump_frames == 0)))
        speech["references"] = [reference_speech(p) for p in perceptions]
        sidecar = build_sidecar(report, plan.path_nodes, output_metrics(perceptions, plan, report.frames, audio.speech),
                                reference_metrics(perceptions), lipsync_entry, {**transitions.report(), "cuts": cuts},
                                speech, list(path.cues))
        write_sidecar(directory / SIDECAR_FILE, sidecar)
        self.metrics.frames.inc(report.frames)
        self.metrics.fallback_windows.inc(transitions.fallback_windows)


def check_request(footage: Footage, path: PathSpec, audio_uri: str) -> None:
    """Refuses requests that cannot name a render, before any file is read."""
    if not audio_uri:
        raise InvalidArgument("a render needs the target speech (audio_uri)", reason="MISSING_AUDIO")
    check_footage(footage)
    if not path.nodes:
        raise InvalidArgument("the path is empty", reason="EMPTY_PATH")
    steps = np.asarray(path.jump_steps, dtype=np.int64)
    if steps.size and (steps.min() < 0 or steps.max() >= len(path.nodes)):
        raise InvalidArgument(f"jump steps outside the path's {len(path.nodes)} steps", reason="BAD_JUMP_STEPS")


def check_footage(footage: Footage) -> None:
    if not footage.name or not footage.perception_uris or not footage.graph_uri:
        raise InvalidArgument("a render needs the speaker's name, perceptions and graph", reason="MISSING_FOOTAGE")
    if len(footage.reference_uris) != len(footage.perception_uris):
        raise InvalidArgument(f"{len(footage.reference_uris)} reference videos for {len(footage.perception_uris)} "
                              "perceptions", reason="FOOTAGE_MISMATCH")


def jump_frames(path: PathSpec, options: RenderOptions) -> np.ndarray | None:
    """(T,) window length of each step's jump, from its drawing difficulty; None when retrieval gave none."""
    if len(path.jump_difficulties) != len(path.jump_steps):
        return None
    frames = np.zeros(len(path.nodes), np.int32)
    frames[np.asarray(path.jump_steps, np.int64)] = options.transition_lengths(np.asarray(path.jump_difficulties),
                                                                              path.typical_jump_difficulty)
    return frames


def output_metrics(perceptions: list[PerceptionArtifact], plan, frames: int, speech: np.ndarray) -> dict:
    poses = [p.arrays["pose_world"] for p in perceptions]
    clarity = [p.arrays["hand_clarity"] for p in perceptions]
    positions = gather_path_frames(poses, plan.clip_video, plan.clip_start, frames)
    hands = gather_path_frames(clarity, plan.clip_video, plan.clip_start, frames)
    return motion_metrics(np.nan_to_num(positions), plan.fps, speech, SPEECH_SAMPLE_RATE, hand_clarity=hands)


def reference_speech(perception: PerceptionArtifact) -> dict | None:
    """What ingest heard in a reference's audio (its words are in the perception artifact's speech.json)."""
    heard = perception.speech()
    if heard is None:
        return None
    return {"status": heard.status, "words": len(heard.words), "language": heard.language, "reason": heard.reason,
            "confidence": round(heard.confidence, 4)}


def reference_metrics(perceptions: list[PerceptionArtifact]) -> dict:
    first = perceptions[0]
    audio = first.audio()
    if audio is None:
        return {}
    return motion_metrics(np.nan_to_num(first.arrays["pose_world"]), float(first.meta["fps"]), audio,
                          SPEECH_SAMPLE_RATE, hand_clarity=first.arrays["hand_clarity"])
