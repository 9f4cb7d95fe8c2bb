"""The perception room's logic above the MediaPipe pipeline: input checks, content-addressed caching
and storage of perception artifacts. No gRPC here."""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tango.artifacts.hashing import FileHashCache, key_sha256
from tango.artifacts.inputs import InputResolver
from tango.artifacts.store import ArtifactInfo, ArtifactStore
from tango.media.audio import extract_audio
from tango.media.video import VideoInfo, probe_video
from tango.perception.artifact_io import PerceptionArtifact, write_perception_artifact
from tango.perception.config import PerceptionConfig
from tango.perception.merge import merge_parts
from tango.perception.metrics import PerceptionMetrics
from tango.perception.pipeline import PerceptionOptions, analyze_video, plan_span, span_fps
from tango.perception.result import AUDIO_SAMPLE_RATE, SCHEMA_VERSION, PerceptionResult
from tango.speech.core import transcribe
from tango.speech.phones import recognize_phones
from tango.perception.segments import plan_ranges
from tango.perception.smplx_import import import_smplx_motion
from tango.perception.summary import summarize
from tango.runtime.errors import InvalidArgument
from tango.runtime.progress import ProgressFn, StopFn

KIND = "perception"


@dataclass(frozen=True)
class AnalysisRequestOptions:
    max_side: int = 0
    max_seconds: float = 0.0
    allow_several_people: bool = False
    skip_cache: bool = False
    frame_range: tuple[int, int] | None = None  # a planned range: the result is a part for `merge`


@dataclass(frozen=True)
class AnalysisPlan:
    ranges: list[tuple[int, int]]  # contiguous [start, end) frames; one range = analyse whole
    video: VideoInfo
    fps: float
    segment_frames: int
    cached: bool


@dataclass(frozen=True)
class PerceptionOutcome:
    artifact: ArtifactInfo
    meta: dict[str, Any]
    summary: dict[str, Any]
    cache_hit: bool
    seconds: float


def heard(result: PerceptionResult) -> PerceptionResult:
    """The result with what its audio says, kept in the artifact for the stages that need it: the recognised words
    (US English; none, with a reason, for speech the recogniser cannot handle) and the phones of the word-free phone
    loop (lip sync's visemes of the reference: heard once here, not at every render)."""
    if result.audio is None:
        return result
    words = transcribe(result.audio)
    phones = tuple(recognize_phones(result.audio))
    return dataclasses.replace(result, speech=dataclasses.replace(words, phones=phones).to_dict())


class PerceptionCore:
    def __init__(self, config: PerceptionConfig, store: ArtifactStore, inputs: InputResolver, metrics: PerceptionMetrics):
        self.config = config
        self.store = store
        self.inputs = inputs
        self.metrics = metrics
        self.hashes = FileHashCache()

    def analyze(self, uri: str, request: AnalysisRequestOptions, on_progress: ProgressFn, should_stop: StopFn) -> PerceptionOutcome:
        started = time.perf_counter()
        path = self.inputs.resolve(uri)
        options = self._pipeline_options(request)
        key = self._key(path, options)
        if not request.skip_cache and self.store.exists(KIND, key):
            return self._outcome(self.store.uri(KIND, key), cache_hit=True, started=started)

        def progress(done: int, total: int) -> None:
            on_progress("perception", done, total)

        result = analyze_video(path, options, on_progress=progress, should_stop=should_stop,
                               source_uri=uri, source_sha256=self.hashes.sha256(path))
        if options.frame_range is None:  # a part's words are heard once, over the whole audio, by the merge
            result = heard(result)
        if request.skip_cache and self.store.exists(KIND, key):
            self.store.delete(KIND, key)
        info = self.store.create(KIND, key, lambda tmp: write_perception_artifact(tmp, result))
        outcome = self._outcome(info.uri, cache_hit=False, started=started)
        frames = outcome.summary["frames"]
        self.metrics.frames.inc(frames)
        self.metrics.frames_per_second.set(frames / max(outcome.seconds, 1e-9))
        return outcome

    def plan(self, uri: str, request: AnalysisRequestOptions, max_ranges: int, min_range_s: float) -> AnalysisPlan:
        """Ranges for `max_ranges` replicas, none under `min_range_s`; one range when the artifact exists."""
        path = self.inputs.resolve(uri)
        options = self._pipeline_options(dataclasses.replace(request, frame_range=None))
        info = probe_video(path, options.limits)
        span, fps = plan_span(info, options), span_fps(info, options)
        cached = not request.skip_cache and self.store.exists(KIND, self._key(path, options))
        ranges = [(0, span.budget)] if cached else plan_ranges(
            span.budget, span.segment, max(max_ranges, 1), int(round(min_range_s * fps)))
        return AnalysisPlan(ranges, info, fps, span.segment, cached)

    def merge(self, uri: str, request: AnalysisRequestOptions, part_uris: list[str]) -> PerceptionOutcome:
        """The parts of a plan -> the artifact (and cache key) of the whole analysis (merge.py)."""
        started = time.perf_counter()
        path = self.inputs.resolve(uri)
        options = self._pipeline_options(dataclasses.replace(request, frame_range=None))
        key = self._key(path, options)
        if not request.skip_cache and self.store.exists(KIND, key):
            return self._outcome(self.store.uri(KIND, key), cache_hit=True, started=started)
        if not part_uris:
            raise InvalidArgument("MergeAnalyses needs the part artifacts", reason="NO_PARTS")
        parts = [self._part(path, options, part_uri) for part_uri in part_uris]
        result = heard(merge_parts(parts, extract_audio(path, AUDIO_SAMPLE_RATE), options.min_pose_ratio))
        if self.store.exists(KIND, key):
            self.store.delete(KIND, key)
        info = self.store.create(KIND, key, lambda tmp: write_perception_artifact(tmp, result))
        return self._outcome(info.uri, cache_hit=False, started=started)

    def _part(self, path: Path, options: PerceptionOptions, part_uri: str) -> PerceptionArtifact:
        """A part artifact, checked to be this video's analysis with these options (its cache key)."""
        part = self.load(part_uri)
        bounds = part.meta.get("part", {})
        frame_range = (int(bounds.get("start_frame", -1)), int(bounds.get("end_frame", -1)))
        expected = self._key(path, dataclasses.replace(options, frame_range=frame_range))
        if self.store.parse(part_uri, KIND).sha256 != expected:
            raise InvalidArgument(f"{part_uri} is not a part of this video's analysis with these options",
                                  reason="PART_MISMATCH", metadata={"part_uri": part_uri})
        return part

    def _key(self, path: Path, options: PerceptionOptions) -> str:
        return key_sha256({"op": "analyze", "schema": SCHEMA_VERSION, "video": self.hashes.sha256(path),
                           "options": dataclasses.asdict(options)})

    def import_motion(self, motion_uri: str, audio_uri: str) -> PerceptionOutcome:
        started = time.perf_counter()
        motion_path = self.inputs.resolve(motion_uri)
        audio_path = self.inputs.resolve(audio_uri) if audio_uri else None
        key = key_sha256({"op": "import_motion", "schema": SCHEMA_VERSION, "motion": self.hashes.sha256(motion_path),
                          "audio": self.hashes.sha256(audio_path) if audio_path else None,
                          "smplx_model_dir": self.config.smplx_model_dir})
        if self.store.exists(KIND, key):
            return self._outcome(self.store.uri(KIND, key), cache_hit=True, started=started)
        model_dir = Path(self.config.smplx_model_dir) if self.config.smplx_model_dir else None
        result = heard(import_smplx_motion(motion_path, audio_path, model_dir, source_uri=motion_uri,
                                           source_sha256=self.hashes.sha256(motion_path)))
        info = self.store.create(KIND, key, lambda tmp: write_perception_artifact(tmp, result))
        return self._outcome(info.uri, cache_hit=False, started=started)

    def describe(self, artifact_uri: str) -> PerceptionOutcome:
        return self._outcome(artifact_uri, cache_hit=True, started=time.perf_counter())

    def load(self, artifact_uri: str) -> PerceptionArtifact:
        return PerceptionArtifact.load(self.store.local_dir(artifact_uri, KIND))

    def _pipeline_options(self, request: AnalysisRequestOptions) -> PerceptionOptions:
        return PerceptionOptions(
            max_side=request.max_side or self.config.max_side,
            max_seconds=request.max_seconds or None,
            check_several_people=not request.allow_several_people,
            max_pixels=self.config.max_pixels,
            max_duration_s=self.config.max_duration_s,
            segment_s=self.config.segment_s,
            frame_range=request.frame_range,
        )

    def _outcome(self, uri: str, cache_hit: bool, started: float) -> PerceptionOutcome:
        artifact = self.load(uri)
        seconds = time.perf_counter() - started
        self.metrics.analysis_seconds.labels("hit" if cache_hit else "miss").observe(seconds)
        return PerceptionOutcome(
            artifact=self.store.parse(uri, KIND),
            meta=artifact.meta,
            summary=summarize(artifact.arrays, artifact.meta, artifact.speech()),
            cache_hit=cache_hit,
            seconds=seconds,
        )
