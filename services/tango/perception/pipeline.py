"""analyze_video: reference video -> perception result (pose, body mask, hand boxes + clarity, audio).

Bounded pipeline: a decode thread decodes and downscales frames into a bounded queue; the calling
thread runs MediaPipe on each frame and keeps only its compact per-frame record, so memory does not
grow with the video beyond those records (see frame_records.py).
"""
from __future__ import annotations

import dataclasses
import math
import queue
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

from tango.artifacts.hashing import file_sha256
from tango.media.audio import extract_audio
from tango.media.video import DecodedFrame, MediaLimits, VideoInfo, iter_frames, probe_video
from tango.perception.face import FaceAnalyzer, FaceOptions
from tango.perception.frame_records import FrameRecords
from tango.perception.models import FaceCounter, FrameAnalyzer, ModelOptions
from tango.perception.result import ARTIFACT_KIND, AUDIO_SAMPLE_RATE, SCHEMA_VERSION, PerceptionResult
from tango.perception.segments import Span, check_range, segment_frames
from tango.perception.summary import summarize
from tango.runtime.errors import Cancelled, InvalidArgument, NoPerson, SeveralPeople

ProgressCallback = Callable[[int, int], None]
StopCheck = Callable[[], bool]


@dataclasses.dataclass(frozen=True)
class PerceptionOptions:
    max_side: int = 640  # frames are downscaled to this longest side for MediaPipe
    min_pose_ratio: float = 0.2  # fewer frames with a person -> NoPerson
    check_several_people: bool = True
    several_people_samples: int = 12  # frames sampled for face counting
    mask_long_side: int = 96
    hand_box_margin: float = 0.15  # hand box grown by this fraction of its size on each side
    fps: float | None = None  # output rate; None = the stream's average rate
    max_frames: int | None = None  # analyse only the first frames (tests, previews)
    max_seconds: float | None = None  # same, in seconds of video
    # MediaPipe's trackers restart every this many seconds (0 = never), so that ranges aligned to these
    # boundaries can be analysed apart and merged identically (segments.py)
    segment_s: float = 10.0
    frame_range: tuple[int, int] | None = None  # analyse only frames [start, end) of a plan: a part artifact
    queue_size: int = 8  # decoded frames in flight between the decode thread and the analysis
    max_pixels: int = MediaLimits.max_pixels  # larger frames -> MediaTooLarge
    max_duration_s: float = MediaLimits.max_duration_s  # longer videos -> MediaTooLarge
    models: ModelOptions = ModelOptions()
    face: FaceOptions = FaceOptions()

    @property
    def limits(self) -> MediaLimits:
        return MediaLimits(max_pixels=self.max_pixels, max_duration_s=self.max_duration_s)

    def frame_budget(self, info: VideoInfo, fps: float) -> int:
        """Frames to analyse: the video's frames at `fps`, capped by max_frames / max_seconds."""
        total = info.frame_count if self.fps is None else int(math.floor(info.duration_s * fps)) + 1
        if self.max_frames is not None:
            total = min(total, self.max_frames)
        if self.max_seconds is not None:
            total = min(total, max(1, int(math.ceil(self.max_seconds * fps))))
        return max(total, 1)


@dataclasses.dataclass(frozen=True)
class _Analysed:
    frame: DecodedFrame
    small: np.ndarray  # (h, w, 3) uint8, long side <= max_side


_END = object()


def downscale(rgb: np.ndarray, max_side: int) -> np.ndarray:
    """(H, W, 3) -> (h, w, 3) C-contiguous with max(h, w) <= max_side (area interpolation)."""
    scale = max_side / max(rgb.shape[:2])
    if scale >= 1.0:
        return np.ascontiguousarray(rgb)
    size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


class _DecodeThread:
    """Decodes frames into a bounded queue; stops early when told; forwards its exception."""

    def __init__(self, path: Path, options: PerceptionOptions, span: Span) -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=options.queue_size)
        self._stop = threading.Event()
        self._args = (path, options, span)
        self._thread = threading.Thread(target=self._run, name="perception-decode", daemon=True)

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        path, options, span = self._args
        try:
            for frame in iter_frames(path, options.fps, max_frames=span.end, limits=options.limits,
                                     start_frame=span.start):
                if not self._put(_Analysed(frame, downscale(frame.rgb, options.max_side))):
                    return
            self._put(_END)
        except BaseException as exc:  # noqa: BLE001 - forwarded to the consumer, raised there
            self._put(exc)

    def frames(self) -> Iterator[_Analysed]:
        self._thread.start()
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()
        while self._thread.is_alive():
            try:
                self._queue.get(timeout=0.05)
            except queue.Empty:
                pass
        if self._thread.ident is not None:
            self._thread.join()


class _PeopleCheck:
    """Counts faces on evenly spaced frames of the whole budget; raises SeveralPeople once >= 2 faces is the
    majority. A part run sees only its range's samples: its count is summed by the merge (`multi`)."""

    def __init__(self, budget: int, samples: int, counter: FaceCounter | None) -> None:
        count = min(samples, budget)
        self._sample_at = set(np.linspace(0, budget - 1, count).round().astype(int).tolist()) if counter else set()
        self._counter = counter
        self.multi = 0

    @property
    def samples(self) -> int:
        return len(self._sample_at)

    def observe(self, index: int, small: np.ndarray) -> None:
        if index not in self._sample_at or self._counter is None:
            return
        self.multi += self._counter.count(small) >= 2
        raise_if_several_people(self.multi, self.samples)


def raise_if_several_people(multi_face_frames: int, sampled_frames: int) -> None:
    if multi_face_frames > sampled_frames / 2:
        raise SeveralPeople(
            f"{multi_face_frames} of {sampled_frames} sampled frames show two or more faces: "
            "the reference video must show ONE speaker",
            metadata={"multi_face_frames": multi_face_frames, "sampled_frames": sampled_frames},
        )


def _check_person_still_possible(records: FrameRecords, budget: int, min_ratio: float) -> None:
    """Raise NoPerson as soon as the remaining frames cannot reach `min_ratio` any more."""
    remaining = budget - records.count
    if (records.person_frames + remaining) / budget < min_ratio:
        raise_no_person(records.person_frames, budget, min_ratio)


def raise_no_person(person_frames: int, frames: int, min_ratio: float) -> None:
    raise NoPerson(
        f"a person was found in {person_frames} of {frames} frames, below the required {min_ratio:.0%}",
        metadata={"person_frames": person_frames, "frames": frames, "min_pose_ratio": min_ratio},
    )


class _Trackers:
    """MediaPipe's tracking graphs (pose + hands + segmentation, face mesh), fresh for each segment of
    `segment` frames: frame i is analysed by the graphs of segment i // segment, whatever range runs."""

    def __init__(self, options: PerceptionOptions, segment: int) -> None:
        self._options, self._segment = options, segment
        self._current: int | None = None
        self._graphs: tuple[FrameAnalyzer, FaceAnalyzer] | None = None

    def for_frame(self, index: int) -> tuple[FrameAnalyzer, FaceAnalyzer]:
        if self._graphs is None or index // self._segment != self._current:
            self.close()
            self._current = index // self._segment
            analyzer = FrameAnalyzer(self._options.models)
            try:
                self._graphs = (analyzer, FaceAnalyzer(self._options.face))
            except BaseException:
                analyzer.close()
                raise
        return self._graphs

    def close(self) -> None:
        if self._graphs is not None:
            for graph in self._graphs:
                graph.close()
            self._graphs = None


def _analyse_frames(
    path: Path, options: PerceptionOptions, info: VideoInfo, span: Span,
    on_progress: ProgressCallback | None, should_stop: StopCheck | None,
) -> tuple[FrameRecords, _PeopleCheck]:
    """MediaPipe over the span's frames, with fresh trackers at each segment (segments.py)."""
    records = FrameRecords(span.frames, info.width, info.height, options.mask_long_side, options.hand_box_margin)
    decoder = _DecodeThread(path, options, span)
    counter = FaceCounter(options.models) if options.check_several_people else None
    people = _PeopleCheck(span.budget, options.several_people_samples, counter)
    trackers = _Trackers(options, span.segment)
    try:
        for item in decoder.frames():
            if should_stop is not None and should_stop():
                raise Cancelled("perception cancelled", metadata={"frames_done": records.count})
            people.observe(item.frame.index, item.small)
            analyzer, faces = trackers.for_frame(item.frame.index)
            observation = analyzer.analyze(item.small)
            face = faces.analyze(item.frame.rgb, observation.pose.image if observation.pose else None)
            records.add(item.frame.pts_s, item.frame.source_index, observation, item.frame.rgb, face)
            if span.whole:  # a part cannot judge the whole video: the merge checks
                _check_person_still_possible(records, span.budget, options.min_pose_ratio)
            if on_progress is not None:
                on_progress(records.count, span.frames)
    finally:
        trackers.close()
        decoder.close()
        if counter is not None:
            counter.close()
    return records, people


def _validate(options: PerceptionOptions) -> None:
    if options.max_side < 64:
        raise InvalidArgument(f"max_side must be >= 64, got {options.max_side}")
    if not 0.0 <= options.min_pose_ratio <= 1.0:
        raise InvalidArgument(f"min_pose_ratio must lie in [0, 1], got {options.min_pose_ratio}")
    if options.fps is not None and options.fps <= 0:
        raise InvalidArgument(f"fps must be positive, got {options.fps}")
    if options.queue_size < 1 or options.mask_long_side < 8:
        raise InvalidArgument("queue_size must be >= 1 and mask_long_side >= 8")


def analyze_video(
    path: Path | str,
    options: PerceptionOptions = PerceptionOptions(),
    on_progress: ProgressCallback | None = None,
    should_stop: StopCheck | None = None,
    *,
    source_uri: str | None = None,
    source_sha256: str | None = None,
) -> PerceptionResult:
    """Analyse a reference video of ONE speaker into the perception artifact arrays + meta + audio.

    With `options.frame_range`, only that range (a part: meta `part`, no audio, no person-ratio check;
    merge.py joins the parts). Raises the media errors of probe_video, NoPerson, SeveralPeople,
    Cancelled (should_stop() true). on_progress(done, total) is called after each analysed frame.
    """
    path = Path(path)
    _validate(options)
    started = time.perf_counter()
    info = probe_video(path, options.limits)
    span = plan_span(info, options)
    records, people = _analyse_frames(path, options, info, span, on_progress, should_stop)
    if span.whole and (records.count == 0 or records.person_frames / records.count < options.min_pose_ratio):
        raise_no_person(records.person_frames, max(records.count, 1), options.min_pose_ratio)
    arrays = records.arrays()
    audio = extract_audio(path, AUDIO_SAMPLE_RATE) if span.whole else None
    fps = span_fps(info, options)
    if audio is not None:
        audio = audio[: int(round(records.count / fps * AUDIO_SAMPLE_RATE))]
    source = {"uri": source_uri or path.resolve().as_uri(), "sha256": source_sha256 or file_sha256(path)}
    base = base_meta(info, fps, source, options.max_side)
    meta = finish_meta(base, arrays, has_audio=audio is not None if span.whole else info.has_audio,
                       analysis_seconds=time.perf_counter() - started)
    if not span.whole:
        meta["part"] = {"start_frame": span.start, "end_frame": span.end, "budget": span.budget,
                        "segment_frames": span.segment, "multi_face_frames": people.multi,
                        "sampled_frames": people.samples}
    return PerceptionResult(arrays=arrays, meta=meta, audio=audio)


def span_fps(info: VideoInfo, options: PerceptionOptions) -> float:
    return info.fps if options.fps is None else float(options.fps)


def plan_span(info: VideoInfo, options: PerceptionOptions) -> Span:
    """The frames this analysis covers: the budget, or the requested range of it (checked)."""
    fps = span_fps(info, options)
    budget = options.frame_budget(info, fps)
    segment = segment_frames(options.segment_s, fps, budget)
    start, end = options.frame_range or (0, 0)
    return check_range(start, end, budget, segment)


def base_meta(info: VideoInfo, fps: float, source: dict, max_side: int) -> dict:
    """The meta fields that depend on the video and options only (not on the analysed frames)."""
    return {
        "kind": ARTIFACT_KIND, "schema_version": SCHEMA_VERSION, "representation": "mediapipe", "fps": fps,
        "width": info.width, "height": info.height, "source": source,
        "stats": {"is_vfr": info.is_vfr, "source_frames": info.source_frame_count, "analysis_max_side": max_side},
    }


def finish_meta(base: dict, arrays: dict[str, np.ndarray], has_audio: bool, analysis_seconds: float) -> dict:
    """meta.json of an artifact: `base` + fields, frames, duration, audio flag and summary stats."""
    frames = int(arrays["timestamps_s"].shape[0])
    meta = {key: value for key, value in base.items() if key not in ("stats", "part")}
    meta |= {"fields": list(arrays), "frames": frames, "duration_s": frames / meta["fps"], "has_audio": has_audio}
    extra = {key: base["stats"][key] for key in ("is_vfr", "source_frames", "analysis_max_side")}
    meta["stats"] = summarize(arrays, meta) | {
        "analysis_seconds": round(analysis_seconds, 3),
        "analysis_frames_per_second": round(frames / analysis_seconds, 2) if analysis_seconds > 0 else None,
    } | extra
    return meta
