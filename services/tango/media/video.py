"""Video probing and decoding with PyAV, on true presentation timestamps.

Frame-rate policy: the rate of a video is its stream's *average* frame rate (frames / duration, as
FFmpeg reports it). A constant-frame-rate stream is decoded frame for frame. A variable-frame-rate
stream (or an explicitly requested different rate) is resampled to a constant rate: output tick k at
`t0 + k / fps` takes the decoded frame whose true timestamp is nearest to it, and reports that frame's
source index and true timestamp. `iter_frames` and `read_frames` share this mapping, so output frame k
is the same image whichever way it is read.
"""
from __future__ import annotations

import dataclasses
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import av
import numpy as np

from tango.runtime.errors import (
    ArtifactNotFound, CorruptMedia, EmptyMedia, InvalidArgument, MediaTooLarge, NotAVideo,
)

# A stream is variable-frame-rate when a frame interval departs from the median by more than this
# fraction of the median interval.
VFR_TOLERANCE = 0.25
_STILL_IMAGE_FORMATS_SUFFIX = "_pipe"  # png_pipe, jpeg_pipe, webp_pipe, ...
_STILL_IMAGE_FORMATS = {"image2", "gif", "apng"}


@dataclasses.dataclass(frozen=True)
class MediaLimits:
    """What a file may declare or hold before it is refused (MEDIA_TOO_LARGE), checked on the header first and
    again on what demuxing finds, so a lying header cannot make decoding a bomb."""

    max_pixels: int = 4096 * 4096
    max_duration_s: float = 7200.0
    max_frames: int = 500_000  # 2 hours at 60 fps; a stream of millions of tiny frames stops being listed here


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float  # the chosen constant rate: the stream's average frame rate
    frame_count: int  # output frames at `fps` (equals decoded frames for a constant-rate stream)
    duration_s: float
    has_audio: bool
    is_vfr: bool
    source_frame_count: int  # frames actually present in the stream


@dataclasses.dataclass(frozen=True)
class DecodedFrame:
    index: int  # output frame index at the chosen constant rate
    source_index: int  # index of the decoded frame (presentation order) used for this output frame
    pts_s: float  # true presentation time of that decoded frame, seconds from the stream start
    rgb: np.ndarray  # (H, W, 3) uint8


@dataclasses.dataclass(frozen=True)
class _StreamIndex:
    """Presentation-ordered frame table of a video stream, from demuxing only (no decoding)."""

    pts: np.ndarray  # (N,) int64, sorted, in stream time_base units
    keyframe_pts: np.ndarray  # (K,) int64, sorted
    time_base: Fraction

    def seconds(self) -> np.ndarray:  # (N,) float64 from the first frame
        return (self.pts - self.pts[0]).astype(np.float64) * float(self.time_base)


def open_media(path: Path | str) -> av.container.InputContainer:
    """Open a media file, mapping file-system and container failures to domain errors."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactNotFound(f"media file {path} does not exist", metadata={"path": str(path)})
    if path.stat().st_size == 0:
        raise EmptyMedia(f"media file {path} is empty (0 bytes)", metadata={"path": str(path)})
    try:
        return av.open(str(path), metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise CorruptMedia(f"cannot read {path.name}: {exc}", metadata={"path": str(path)}) from exc


def _video_stream(container: av.container.InputContainer, path: Path) -> av.video.stream.VideoStream:
    format_names = set(container.format.name.split(","))
    if any(n.endswith(_STILL_IMAGE_FORMATS_SUFFIX) for n in format_names) or format_names & _STILL_IMAGE_FORMATS:
        raise NotAVideo(f"{path.name} is a still image ({container.format.name}), not a video")
    streams = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    if not streams:
        kinds = sorted({s.type for s in container.streams}) or ["nothing"]
        raise NotAVideo(f"{path.name} has no video stream (it holds {', '.join(kinds)})")
    return streams[0]


def _check_limits(width: int, height: int, duration_s: float, limits: MediaLimits, path: Path) -> None:
    if width * height > limits.max_pixels:
        raise MediaTooLarge(
            f"{path.name} is {width}x{height}, above the limit of {limits.max_pixels} pixels",
            metadata={"width": width, "height": height, "max_pixels": limits.max_pixels},
        )
    if duration_s > limits.max_duration_s:
        raise MediaTooLarge(
            f"{path.name} lasts {duration_s:.1f} s, above the limit of {limits.max_duration_s:.0f} s",
            metadata={"duration_s": f"{duration_s:.3f}", "max_duration_s": limits.max_duration_s},
        )


def _header_duration_s(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return 0.0


def _scan_stream(container: av.container.InputContainer, stream: av.video.stream.VideoStream, limits: MediaLimits,
                 path: Path) -> _StreamIndex:
    """Demux every packet of the stream (cheap: no decoding) to list presentation timestamps; refused as soon
    as it lists more than `limits.max_frames`."""
    pts: list[int] = []
    keys: list[int] = []
    try:
        for packet in container.demux(stream):
            if packet.pts is None or packet.size == 0:
                continue
            pts.append(packet.pts)
            if packet.is_keyframe:
                keys.append(packet.pts)
            if len(pts) > limits.max_frames:
                raise MediaTooLarge(f"{path.name} holds more than {limits.max_frames} frames",
                                    metadata={"max_frames": limits.max_frames})
    except av.FFmpegError:
        pass  # truncated file: keep what could be demuxed
    container.seek(0)
    return _StreamIndex(np.sort(np.asarray(pts, np.int64)), np.sort(np.asarray(keys, np.int64)), stream.time_base)


def _is_vfr(index: _StreamIndex) -> bool:
    if index.pts.size < 3:
        return False
    intervals = np.diff(index.pts).astype(np.float64)  # (N-1,)
    median = float(np.median(intervals))
    return median <= 0 or bool(np.any(np.abs(intervals - median) > VFR_TOLERANCE * median))


def _average_fps(stream: av.video.stream.VideoStream, index: _StreamIndex) -> float:
    if stream.average_rate:
        return float(stream.average_rate)
    span_s = float((index.pts[-1] - index.pts[0]) * index.time_base) if index.pts.size > 1 else 0.0
    return (index.pts.size - 1) / span_s if span_s > 0 else 25.0


def _probe_open(path: Path, limits: MediaLimits):
    container = open_media(path)
    try:
        stream = _video_stream(container, path)
        width, height = stream.codec_context.width, stream.codec_context.height
        if width <= 0 or height <= 0:
            raise CorruptMedia(f"{path.name}: video stream has no valid frame size")
        _check_limits(width, height, _header_duration_s(container, stream), limits, path)
        index = _scan_stream(container, stream, limits, path)
        if index.pts.size == 0:
            raise CorruptMedia(f"{path.name}: the video stream holds no readable frames")
        fps = _average_fps(stream, index)
        is_vfr = _is_vfr(index)
        span_s = float(index.seconds()[-1])
        frame_count = int(round(span_s * fps)) + 1 if is_vfr else int(index.pts.size)
        duration_s = frame_count / fps
        _check_limits(width, height, duration_s, limits, path)
        has_audio = len(container.streams.audio) > 0
        info = VideoInfo(width, height, fps, frame_count, duration_s, has_audio, is_vfr, int(index.pts.size))
        return container, stream, info, index
    except BaseException:
        container.close()
        raise


def probe_video(path: Path | str, limits: MediaLimits = MediaLimits()) -> VideoInfo:
    """Validate a video file and describe it. Raises the media errors of tango.runtime.errors."""
    container, _, info, _ = _probe_open(Path(path), limits)
    container.close()
    return info


def _tick_to_source(index: _StreamIndex, fps: float, count: int) -> np.ndarray:
    """(count,) int64: for output tick k, the source frame whose timestamp is nearest t0 + k / fps."""
    times = index.seconds()  # (N,)
    ticks = np.arange(count, dtype=np.float64) / fps  # (count,)
    right = np.clip(np.searchsorted(times, ticks), 1, max(times.size - 1, 1))
    left = right - 1
    if times.size == 1:
        return np.zeros(count, np.int64)
    take_right = np.abs(times[right] - ticks) < np.abs(ticks - times[left])
    return np.where(take_right, right, left).astype(np.int64)


def _output_map(index: _StreamIndex, info: VideoInfo, fps: float | None) -> tuple[float, np.ndarray]:
    """Chosen rate and (F,) source frame of every output frame."""
    rate = info.fps if fps is None else float(fps)
    if fps is None and not info.is_vfr:
        return rate, np.arange(index.pts.size, dtype=np.int64)
    count = int(round(float(index.seconds()[-1]) * rate)) + 1
    return rate, _tick_to_source(index, rate, count)


def _decode_sorted(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, index: _StreamIndex,
    wanted_sources: np.ndarray, seek: bool, size: tuple[int, int],
) -> Iterator[tuple[int, float, np.ndarray]]:
    """Decode the wanted source frames (sorted, unique) in order; yields (source, pts_s, rgb).

    With `seek`, jumps to the keyframe before a wanted frame whenever that keyframe lies beyond the
    current decoding position, so sparse sorted runs cost one GOP each. Wanted frames lost to decode
    errors are skipped. Every frame comes out at the probed `size` (width, height): a stream whose frames
    change size midway (a bomb that declares a small picture, or a resolution switch) is scaled back to it.
    """
    times = index.seconds()  # (N,)
    cursor, count = 0, wanted_sources.size
    while cursor < count:
        sought_pts = _keyframe_before(index, int(wanted_sources[cursor])) if seek else int(index.pts[0])
        if seek:
            container.seek(sought_pts, stream=stream, backward=True)
        for frame in _safe_decode(container, stream):
            source = int(np.searchsorted(index.pts, frame.pts)) if frame.pts is not None else index.pts.size
            if source >= index.pts.size or index.pts[source] != frame.pts:
                continue  # a frame the demuxer did not list: not addressable
            while cursor < count and wanted_sources[cursor] < source:
                cursor += 1
            if cursor < count and wanted_sources[cursor] == source:
                yield source, float(times[source]), _rgb(frame, size)
                cursor += 1
            if cursor >= count:
                return
            reached_seek_point = index.pts[source] >= sought_pts
            if seek and reached_seek_point and _seek_is_cheaper(index, source, int(wanted_sources[cursor])):
                break
        else:
            return  # end of stream (or of its readable part)


def _rgb(frame: av.VideoFrame, size: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) uint8 of a decoded frame at the probed (W, H)."""
    if (frame.width, frame.height) == size:
        return frame.to_ndarray(format="rgb24")
    return frame.to_ndarray(format="rgb24", width=size[0], height=size[1])


def _keyframe_before(index: _StreamIndex, source: int) -> int:
    key_pos = int(np.searchsorted(index.keyframe_pts, index.pts[source], side="right")) - 1
    return int(index.keyframe_pts[key_pos]) if key_pos >= 0 else int(index.pts[0])


def _seek_is_cheaper(index: _StreamIndex, current: int, next_wanted: int) -> bool:
    key_pos = np.searchsorted(index.keyframe_pts, index.pts[next_wanted], side="right") - 1
    return key_pos >= 0 and index.keyframe_pts[key_pos] > index.pts[current]


def _safe_decode(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> Iterator[av.VideoFrame]:
    """Decode frames, stopping (not raising) at a corrupt or truncated tail."""
    try:
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.FFmpegError:
                continue  # a damaged packet: skip it, keep decoding
            yield from frames
    except av.FFmpegError:
        return


def iter_frames(
    path: Path | str, fps: float | None = None, *, max_frames: int | None = None,
    limits: MediaLimits = MediaLimits(), start_frame: int = 0,
) -> Iterator[DecodedFrame]:
    """Decode a video as a constant-rate sequence of RGB frames (see the module docstring).

    With `start_frame`, output frames [start_frame, max_frames) only: decoding starts at the keyframe
    before it, so each frame is the same image as in a decode from the start.
    """
    path = Path(path)
    container, stream, info, index = _probe_open(path, limits)
    stream.thread_type = "AUTO"
    try:
        _, sources = _output_map(index, info, fps)  # (F,)
        if max_frames is not None:
            sources = sources[:max_frames]
        wanted = np.unique(sources[start_frame:])
        if start_frame > 0 and wanted.size:
            container.seek(_keyframe_before(index, int(wanted[0])), stream=stream, backward=True)
        decoded = _decode_sorted(container, stream, index, wanted, seek=False, size=(info.width, info.height))
        produced = 0
        for source, pts_s, rgb in decoded:
            first, last = np.searchsorted(sources, [source, source + 1])
            for output_index in range(max(int(first), start_frame), int(last)):
                yield DecodedFrame(output_index, source, pts_s, rgb)
                produced += 1
        if produced == 0:
            raise CorruptMedia(f"{path.name}: no frame could be decoded")
    finally:
        container.close()


def read_frames(
    path: Path | str, indices: Iterable[int], fps: float | None = None, *, limits: MediaLimits = MediaLimits(),
) -> dict[int, np.ndarray]:
    """Random access by output-frame index: {index: (H, W, 3) uint8}. Sorted runs decode once."""
    path = Path(path)
    container, stream, info, index = _probe_open(path, limits)
    stream.thread_type = "AUTO"
    try:
        _, sources = _output_map(index, info, fps)  # (F,)
        wanted = np.asarray(sorted(set(int(i) for i in indices)), np.int64)
        if wanted.size and (wanted[0] < 0 or wanted[-1] >= sources.size):
            raise InvalidArgument(
                f"frame indices must lie in [0, {sources.size}), got {int(wanted[0])}..{int(wanted[-1])}",
                reason="FRAME_OUT_OF_RANGE",
            )
        by_source: dict[int, np.ndarray] = {}
        for source, _, rgb in _decode_sorted(container, stream, index, np.unique(sources[wanted]), seek=True,
                                               size=(info.width, info.height)):
            by_source[source] = rgb
        return {int(i): by_source[int(sources[i])] for i in wanted if int(sources[i]) in by_source}
    finally:
        container.close()
