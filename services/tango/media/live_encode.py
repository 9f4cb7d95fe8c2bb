"""Live encoding: continuous low-latency H.264 + AAC cut into CMAF (fragmented MP4) segments.

`SegmentEncoder` keeps ONE video and ONE audio encoder for the whole stream and turns each batch of frames
(+ the pcm that goes with it) into one complete fragment, `moof` + `mdat`, returned by the call itself:

1. The init segment (`ftyp` + `moov`, no samples) is written by FFmpeg's mp4 muxer at construction
   (`movflags=empty_moov+cmaf`), so `init_segment` is available as soon as the encoder exists.
2. Fragments are NOT written by the muxer: libavformat only closes a fragment when the next packet (or a
   flush that PyAV 18.1 does not expose) arrives, i.e. one segment late. The encoded packets are boxed
   here instead (`moof`/`mfhd`/`traf`/`tfhd`/`tfdt`/`trun` + `mdat`), with `default-base-is-moof` offsets,
   so `encode_segment` returns the whole fragment at once. The muxer's header sets the track ids and
   timescales these boxes use.
3. Video: libx264 `tune=zerolatency` (no B-frames, no lookahead, sliced threads: one packet out per frame
   in), GOP = `segment_frames`, and the first frame of every segment forced to an IDR.
4. Audio: the AAC encoder's priming packet (pts -1024, the encoder delay) is dropped rather than announced by
   an edit list: fragmented-mp4 readers (FFmpeg's among them) ignore the list when they sum durations, and
   FLV/RTMP has none, so the first packet is at pts 0 with the first video frame and every reader reports
   the true duration. The cost is a fade-in over the first AAC frame (21 ms at 48 kHz, 64 ms at 16 kHz).
   The pcm of every segment is appended to a buffer cut into 1024-sample AAC frames whose pts is
   the running sample count, so the audio timeline is continuous across segments (no gap, no
   drift); a remainder under 1024 samples waits for the next segment. The AAC encoder also holds one frame
   back, so a segment carries its audio up to ~2 AAC frames (43 ms at 48 kHz) late. The last call,
   `encode_segment(..., final=True)`, flushes both encoders into its own fragment; otherwise `close()`
   returns what was left as a final audio-only fragment.

Concatenating `init_segment` and every segment's `data` gives one valid fragmented mp4.
"""
from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np

from tango.media.encode import AAC_BITS_PER_CHANNEL, AAC_FRAME_SAMPLES, even_size, fps_fraction
from tango.runtime.errors import FailedPrecondition, InvalidArgument, TangoError

_LAYOUTS = {1: "mono", 2: "stereo"}
_MOVFLAGS = "empty_moov+default_base_moof+frag_custom+cmaf"
_KEY_FLAGS = 0x02000000  # sample_depends_on = 2 (an I / sync sample)
_NON_KEY_FLAGS = 0x01010000  # sample_depends_on = 1, sample_is_non_sync_sample


@dataclass(frozen=True)
class MediaSegment:
    """One CMAF fragment (`moof` + `mdat`) of the live stream; times are presentation seconds from 0."""

    index: int
    data: bytes
    start_s: float  # first video frame of the segment
    duration_s: float  # frames / fps (an audio-only final segment: the audio left past the video's end)
    frames: int
    audio_samples: int  # pcm samples handed in with this segment (what it muxes may be shifted, see module doc)
    audio_start_s: float = 0.0  # audio muxed in this fragment: [audio_start_s, audio_end_s)
    audio_end_s: float = 0.0
    final: bool = False  # the stream's last segment (encode_segment(final=True) or close())

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s


@dataclass(frozen=True)
class _Sample:
    data: bytes
    duration: int  # in the track's timescale
    flags: int
    cto: int = 0  # composition - decode time


class SegmentEncoder:
    """frames (n, H, W, 3) uint8 RGB + pcm (m, channels) int16 in -> `MediaSegment`s out, one per call."""

    def __init__(self, width: int, height: int, fps: float, sample_rate: int, channels: int, segment_frames: int,
                 crf: int = 23, preset: str = "veryfast"):
        if width < 2 or height < 2:
            raise InvalidArgument(f"frame size {width}x{height} too small to encode")
        if channels not in _LAYOUTS or sample_rate <= 0:
            raise InvalidArgument(f"audio must be mono or stereo at a positive rate, got {channels} channels at "
                                  f"{sample_rate} Hz")
        if segment_frames < 1:
            raise InvalidArgument(f"segment_frames must be >= 1, got {segment_frames}")
        self.width, self.height = width, height
        self.enc_width, self.enc_height = even_size(width, height)
        self.rate = fps_fraction(fps)
        self.sample_rate, self.channels, self.segment_frames = int(sample_rate), int(channels), int(segment_frames)
        self.frames_encoded = 0
        self.audio_samples_in = 0  # pcm samples handed in
        self._audio_pos = 0  # samples sent to the AAC encoder
        self._pcm = np.zeros((channels, 0), np.float32)  # (C, r) waiting for a whole AAC frame
        self._audio_end = 0  # audio track time (samples) muxed so far
        self._next_index = 0
        self._closed = False
        self._buffer = io.BytesIO()
        self._container = av.open(self._buffer, mode="w", format="mp4", options={"movflags": _MOVFLAGS})
        try:
            self._video, self._audio = self._add_streams(crf, preset)
            self._container.start_encoding()  # writes ftyp + empty moov now
            header = self._buffer.getvalue()
            self._tracks = _track_ids(header)
            self.video_timescale = int(1 / self._container.streams.video[0].time_base)
            self.init_segment = header
            self._frame_ticks = self.video_timescale / self.rate  # one frame in the video timescale
            if self._frame_ticks.denominator != 1:
                raise InvalidArgument(f"fps {fps} does not fit the muxer timescale {self.video_timescale}")
        except av.FFmpegError as exc:
            self._container.close()
            raise InvalidArgument(f"cannot open the live encoders (preset {preset!r}, crf {crf}): {exc}") from exc
        except BaseException:
            self._container.close()
            raise

    def _add_streams(self, crf: int, preset: str) -> tuple[av.CodecContext, av.CodecContext]:
        video = self._container.add_stream("libx264", rate=self.rate)
        video.width, video.height, video.pix_fmt = self.enc_width, self.enc_height, "yuv420p"
        video.options = {
            "crf": str(int(crf)), "preset": preset, "tune": "zerolatency", "bf": "0", "forced-idr": "1",
            "g": str(self.segment_frames), "keyint_min": str(self.segment_frames), "sc_threshold": "0",
        }
        audio = self._container.add_stream("aac", rate=self.sample_rate, layout=_LAYOUTS[self.channels])
        audio.bit_rate = AAC_BITS_PER_CHANNEL * self.channels
        return video.codec_context, audio.codec_context

    @property
    def codecs(self) -> str:
        """The RFC 6381 codec string of the stream (HLS `CODECS`), e.g. `avc1.64001f,mp4a.40.2`."""
        extradata = bytes(self._video.extradata or b"")
        sps = extradata.find(b"\x00\x00\x01\x67")
        avc = extradata[sps + 4: sps + 7].hex() if sps >= 0 else "64001f"
        return f"avc1.{avc},mp4a.40.2"

    # ---- encoding ----------------------------------------------------------------------------------------
    def encode_segment(self, frames: np.ndarray, pcm: np.ndarray, final: bool = False) -> MediaSegment:
        """frames (n, H, W, 3) uint8 RGB, n >= 1; pcm (m, channels) int16 (m may be 0). Returns the full fragment.
        final=True also flushes the encoders into this fragment and ends the stream (close() then returns None)."""
        if self._closed:
            raise FailedPrecondition("SegmentEncoder.encode_segment called after close()")
        frames, pcm = self._checked(frames, pcm)
        first = self.frames_encoded
        video = [self._encode_frame(frame, key=(i == 0)) for i, frame in enumerate(frames)]
        audio = self._encode_audio(pcm)
        if final:
            tail_video, tail_audio = self._flush()
            video += tail_video
            audio = (audio[0] if audio[1] else tail_audio[0], audio[1] + tail_audio[1])
        return self._segment(video, audio, first, len(frames), len(pcm), final=final)

    def close(self) -> MediaSegment | None:
        """Flushes both encoders; the audio still inside them comes back as a final audio-only segment
        (None when there is nothing left or the stream already ended with `encode_segment(..., final=True)`)."""
        if self._closed:
            return None
        video, audio = self._flush()
        if not video and not audio[1]:
            return None
        return self._segment(video, audio, self.frames_encoded, len(video), 0, final=True)

    def __enter__(self) -> "SegmentEncoder":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # ---- steps ---------------------------------------------------------------------------------------------
    def _flush(self) -> tuple[list[_Sample], tuple[int | None, list[_Sample]]]:
        """Drains both encoders (the short last AAC frame included) and frees them."""
        self._closed = True
        try:
            video = self._samples_of_video(self._video.encode(None))  # zerolatency: nothing is left in x264
            packets = []
            if self._pcm.shape[1]:
                packets += self._audio.encode(self._audio_frame(self._pcm))
                self._pcm = self._pcm[:, :0]
            packets += self._audio.encode(None)
            return video, self._samples_of_audio(packets)
        finally:
            self._container.close()

    def _checked(self, frames: np.ndarray, pcm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        frames, pcm = np.asarray(frames), np.asarray(pcm)
        if frames.ndim != 4 or frames.shape[0] < 1 or frames.shape[1:] != (self.height, self.width, 3) \
                or frames.dtype != np.uint8:
            raise InvalidArgument(f"frames {frames.shape} {frames.dtype} != (n>=1, {self.height}, {self.width}, 3) "
                                  "uint8", metadata={"segment": self._next_index})
        if pcm.ndim == 1 and self.channels == 1:
            pcm = pcm[:, None]
        if pcm.ndim != 2 or pcm.shape[1] != self.channels or pcm.dtype != np.int16:
            raise InvalidArgument(f"pcm {pcm.shape} {pcm.dtype} != (m, {self.channels}) int16",
                                  metadata={"segment": self._next_index})
        return frames, pcm

    def _encode_frame(self, rgb: np.ndarray, key: bool) -> _Sample:
        cropped = np.ascontiguousarray(rgb[: self.enc_height, : self.enc_width])  # (h, w, 3)
        frame = av.VideoFrame.from_ndarray(cropped, format="rgb24")
        frame.pts, frame.time_base = self.frames_encoded, 1 / self.rate
        if key:
            frame.pict_type = av.video.frame.PictureType.I  # forced-idr=1: an IDR
        samples = self._samples_of_video(self._video.encode(frame))
        if len(samples) != 1:
            raise TangoError(f"the H.264 encoder returned {len(samples)} packets for one frame (must not buffer)",
                             reason="ENCODER_BUFFERED")
        self.frames_encoded += 1
        return samples[0]

    def _samples_of_video(self, packets: list[av.Packet]) -> list[_Sample]:
        ticks = int(self._frame_ticks)
        return [_Sample(_annexb_to_avcc(bytes(p)), ticks, _KEY_FLAGS if p.is_keyframe else _NON_KEY_FLAGS,
                        int((p.pts - p.dts) * p.time_base * self.video_timescale)) for p in packets]

    def _encode_audio(self, pcm: np.ndarray) -> tuple[int | None, list[_Sample]]:
        self.audio_samples_in += len(pcm)
        planar = pcm.T.astype(np.float32) / 32768.0  # (C, m)
        self._pcm = np.concatenate([self._pcm, planar], axis=1)
        whole = self._pcm.shape[1] // AAC_FRAME_SAMPLES * AAC_FRAME_SAMPLES
        packets = []
        for start in range(0, whole, AAC_FRAME_SAMPLES):
            packets += self._audio.encode(self._audio_frame(self._pcm[:, start: start + AAC_FRAME_SAMPLES]))
        self._pcm = self._pcm[:, whole:]
        return self._samples_of_audio(packets)

    def _audio_frame(self, chunk: np.ndarray) -> av.AudioFrame:
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout=_LAYOUTS[self.channels])
        frame.sample_rate, frame.pts, frame.time_base = self.sample_rate, self._audio_pos, Fraction(1, self.sample_rate)
        self._audio_pos += chunk.shape[1]
        return frame

    def _samples_of_audio(self, packets: list[av.Packet]) -> tuple[int | None, list[_Sample]]:
        """(pts of the first packet, samples), the priming packet (negative pts) left out."""
        packets = [p for p in packets if p.pts >= 0]
        if not packets:
            return None, []
        return int(packets[0].pts), [_Sample(bytes(p), int(p.duration), _KEY_FLAGS) for p in packets]

    def _segment(self, video: list[_Sample], audio: tuple[int | None, list[_Sample]], first_frame: int, frames: int,
                 pcm_samples: int, final: bool = False) -> MediaSegment:
        audio_start, audio_samples = audio
        tracks = []
        if video:
            tracks.append((self._tracks["vide"], first_frame * int(self._frame_ticks), video))
        if audio_samples:
            tracks.append((self._tracks["soun"], audio_start, audio_samples))
        data = _fragment(self._next_index + 1, tracks)
        fps = float(self.rate)
        start_s = first_frame / fps
        audio_start = self._audio_end if audio_start is None else audio_start
        self._audio_end = audio_start + sum(s.duration for s in audio_samples)
        audio_start_s, audio_end_s = audio_start / self.sample_rate, self._audio_end / self.sample_rate
        duration_s = frames / fps if frames else max(0.0, audio_end_s - start_s)
        segment = MediaSegment(self._next_index, data, start_s, duration_s, frames, pcm_samples,
                               audio_start_s, audio_end_s, final)
        self._next_index += 1
        return segment


# ---- ISO BMFF boxes ------------------------------------------------------------------------------------------
def _box(kind: bytes, *payload: bytes) -> bytes:
    body = b"".join(payload)
    return struct.pack(">I4s", 8 + len(body), kind) + body


def _full_box(kind: bytes, version: int, flags: int, *payload: bytes) -> bytes:
    return _box(kind, struct.pack(">I", (version << 24) | flags), *payload)


def _children(data: bytes, start: int = 0, end: int | None = None) -> list[tuple[bytes, bytes]]:
    """[(type, whole box bytes)] of the boxes laid one after another in data[start:end]."""
    end = len(data) if end is None else end
    boxes = []
    while start + 8 <= end:
        size, kind = struct.unpack(">I4s", data[start: start + 8])
        if size < 8:
            raise InvalidArgument(f"unsupported box size {size} for {kind!r}")
        boxes.append((kind, data[start: start + size]))
        start += size
    return boxes


def _track_ids(header: bytes) -> dict[str, int]:
    """{"vide": id, "soun": id} from the muxer's moov."""
    moov = dict(_children(header))[b"moov"]
    ids = {}
    for kind, trak in _children(moov, 8):
        if kind != b"trak":
            continue
        parts = dict(_children(trak, 8))
        tkhd, mdia = parts[b"tkhd"], dict(_children(parts[b"mdia"], 8))
        version = tkhd[8]
        track_id = struct.unpack(">I", tkhd[20:24] if version == 0 else tkhd[28:32])[0]
        ids[mdia[b"hdlr"][16:20].decode()] = track_id
    return ids


def _traf(track_id: int, base_time: int, samples: list[_Sample], data_offset: int) -> bytes:
    tfhd = _full_box(b"tfhd", 0, 0x020000, struct.pack(">I", track_id))  # default-base-is-moof
    tfdt = _full_box(b"tfdt", 1, 0, struct.pack(">Q", base_time))
    entries = b"".join(struct.pack(">IIIi", s.duration, len(s.data), s.flags, s.cto) for s in samples)
    trun = _full_box(b"trun", 1, 0x000F01, struct.pack(">Ii", len(samples), data_offset), entries)
    return _box(b"traf", tfhd, tfdt, trun)


def _fragment(sequence: int, tracks: list[tuple[int, int, list[_Sample]]]) -> bytes:
    """moof + mdat of one fragment; tracks: [(track id, decode time of the first sample, samples)]."""
    def moof(offsets: list[int]) -> bytes:
        mfhd = _full_box(b"mfhd", 0, 0, struct.pack(">I", sequence))
        return _box(b"moof", mfhd, *(_traf(tid, t0, s, off) for (tid, t0, s), off in zip(tracks, offsets)))

    sizes = [sum(len(s.data) for s in samples) for _, _, samples in tracks]
    head = len(moof([0] * len(tracks))) + 8  # moof + mdat header
    offsets = [head + sum(sizes[:i]) for i in range(len(tracks))]
    mdat = _box(b"mdat", *(s.data for _, _, samples in tracks for s in samples))
    return moof(offsets) + mdat


def _annexb_to_avcc(data: bytes) -> bytes:
    """H.264 access unit with start codes (x264's output) -> 4-byte length-prefixed NAL units (mp4 samples)."""
    starts, at = [], data.find(b"\x00\x00\x01")
    if at < 0:
        return data  # already length-prefixed
    while at >= 0:
        starts.append(at)
        at = data.find(b"\x00\x00\x01", at + 3)
    units = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(data)
        nal = data[start + 3: end].rstrip(b"\x00")  # a NAL never ends in 0x00; zeros belong to the next start code
        units.append(struct.pack(">I", len(nal)) + nal)
    return b"".join(units)
