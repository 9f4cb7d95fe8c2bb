"""H.264 + AAC MP4 writing (PyAV) and probing of a written output.

`Mp4Writer` is a context manager: frames go in one by one, the audio track (`AudioTrack`: its own rate and
mono/stereo layout, AAC at 96 kb/s per channel) is handed over at construction
and muxed progressively alongside the video (each audio frame is encoded once the video has reached its
time), so the two streams are interleaved and share the same time origin (pts 0 = first video frame =
first audio sample). Everything goes to a hidden temporary file in the destination directory that is
renamed onto the destination only when the context exits without an exception: a failed or cancelled
render never leaves a half-written mp4 behind.

H.264 in yuv420p needs even dimensions: an odd width/height is cropped by one pixel (the last column /
row is dropped), never scaled, so the frame content keeps its geometry.
"""
from __future__ import annotations

import os
import uuid
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np

from tango.media.audio import AudioTrack
from tango.runtime.errors import CorruptMedia, InvalidArgument

AAC_FRAME_SAMPLES = 1024  # samples per AAC frame
AAC_BITS_PER_CHANNEL = 96_000


def fps_fraction(fps: float) -> Fraction:
    """29.97002997 -> 30000/1001, 25.0 -> 25; rates with a denominator up to 1001 are recovered exactly."""
    if not np.isfinite(fps) or fps <= 0:
        raise InvalidArgument(f"fps must be positive, got {fps}", metadata={"fps": fps})
    return Fraction(fps).limit_denominator(1001)


def even_size(width: int, height: int) -> tuple[int, int]:
    """The encoded size: each odd dimension loses one pixel."""
    return width - width % 2, height - height % 2


class Mp4Writer:
    """Writes `path` as H.264 (yuv420p) + optional AAC; use as `with Mp4Writer(...) as w: w.write(rgb)`."""

    def __init__(
        self,
        path: str | os.PathLike,
        width: int,
        height: int,
        fps: float,
        audio: AudioTrack | None,
        crf: int = 23,
        preset: str = "veryfast",
    ):
        if width < 2 or height < 2:
            raise InvalidArgument(f"frame size {width}x{height} too small to encode")
        self.path = Path(path)
        self.width, self.height = width, height
        self.enc_width, self.enc_height = even_size(width, height)
        self.rate = fps_fraction(fps)
        self.audio = audio if audio is not None and audio.num_samples else None
        self.crf, self.preset = int(crf), preset
        self.frames_written = 0
        self._audio_pos = 0  # samples already sent to the encoder
        self._tmp = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex[:8]}.part")
        self._container = None

    # ---- context manager -------------------------------------------------------------------------
    def __enter__(self) -> "Mp4Writer":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._container = av.open(str(self._tmp), mode="w", format="mp4")
        video = self._container.add_stream("libx264", rate=self.rate)
        video.width, video.height, video.pix_fmt = self.enc_width, self.enc_height, "yuv420p"
        video.options = {"crf": str(self.crf), "preset": self.preset}
        self._video = video
        self._audio_stream = None
        if self.audio is not None:
            stream = self._container.add_stream("aac", rate=self.audio.rate, layout=self.audio.layout)
            stream.bit_rate = AAC_BITS_PER_CHANNEL * self.audio.channels
            self._audio_stream = stream
        return self

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if exc_type is None:
            self._finish()
        else:
            self._abort()

    # ---- writing ---------------------------------------------------------------------------------
    def write(self, rgb: np.ndarray) -> None:
        """rgb: (H, W, 3) uint8 of the size given at construction."""
        if self._container is None:
            raise InvalidArgument("Mp4Writer.write called outside its `with` block")
        if rgb.shape != (self.height, self.width, 3) or rgb.dtype != np.uint8:
            raise InvalidArgument(
                f"frame {rgb.shape} {rgb.dtype} != ({self.height}, {self.width}, 3) uint8",
                metadata={"frame": self.frames_written},
            )
        cropped = np.ascontiguousarray(rgb[: self.enc_height, : self.enc_width])
        frame = av.VideoFrame.from_ndarray(cropped, format="rgb24")
        frame.pts = self.frames_written
        frame.time_base = 1 / self.rate
        self._container.mux(self._video.encode(frame))
        self.frames_written += 1
        self._write_audio_until(self.frames_written / self.rate)

    def _write_audio_until(self, time_s: float | Fraction | None) -> None:
        """Encodes whole AAC frames of audio up to `time_s` (None = to the end of the track)."""
        if self._audio_stream is None:
            return
        track = self.audio
        total = track.num_samples
        end = total if time_s is None else min(total, int(float(time_s) * track.rate))
        while self._audio_pos < end and (time_s is None or self._audio_pos + AAC_FRAME_SAMPLES <= end):
            chunk = track.samples[:, self._audio_pos : self._audio_pos + AAC_FRAME_SAMPLES]  # (C, <=1024)
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout=track.layout)
            frame.sample_rate = track.rate
            frame.pts = self._audio_pos
            frame.time_base = Fraction(1, track.rate)
            self._container.mux(self._audio_stream.encode(frame))
            self._audio_pos += chunk.shape[1]

    def _finish(self) -> None:
        try:
            self._container.mux(self._video.encode(None))
            self._write_audio_until(None)
            if self._audio_stream is not None:
                self._container.mux(self._audio_stream.encode(None))
            self._container.close()
        except BaseException:
            self._abort()
            raise
        self._container = None
        os.replace(self._tmp, self.path)

    def _abort(self) -> None:
        try:
            if self._container is not None:
                self._container.close()
        except (av.FFmpegError, OSError):
            pass  # the temporary file is deleted below whatever state the muxer was left in
        self._container = None
        self._tmp.unlink(missing_ok=True)


def probe_output(path: str | os.PathLike) -> dict:
    """Codecs, duration, frame count (demuxed packets, no decoding), fps and size of an mp4."""
    try:
        with av.open(str(path)) as container:
            video = next((s for s in container.streams if s.type == "video"), None)
            if video is None:
                raise CorruptMedia(f"{path} has no video stream")
            audio = next((s for s in container.streams if s.type == "audio"), None)
            info = {
                "video_codec": video.codec_context.name,
                "audio_codec": audio.codec_context.name if audio is not None else None,
                "duration_s": (container.duration or 0) / av.time_base,
                "fps": float(video.average_rate or video.guessed_rate or 0.0),
                "width": video.codec_context.width,
                "height": video.codec_context.height,
                "audio_rate": audio.codec_context.sample_rate if audio is not None else None,
                "audio_channels": audio.codec_context.channels if audio is not None else None,
                "video_duration_s": _stream_seconds(video),
                "audio_duration_s": _stream_seconds(audio) if audio is not None else None,
            }
            info["frames"] = sum(1 for p in container.demux(video) if p.size > 0)
            return info
    except av.FFmpegError as exc:
        raise CorruptMedia(f"cannot probe {path}: {exc}") from exc


def _stream_seconds(stream) -> float | None:
    """A stream's own duration in seconds, as the container records it."""
    if stream.duration is None or stream.time_base is None:
        return None
    return float(stream.duration * stream.time_base)
