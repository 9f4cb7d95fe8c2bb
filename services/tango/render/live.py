"""Live rendering: committed path steps and the audio stream in, encoded media segments out.

The path grows as live retrieval commits steps; frames are drawn as soon as nothing still to come can change
them, with the offline renderer's rules (`tango.render.schedule`: a jump's window of generated frames around
its junction, windows that touch merge, k real context frames on each side):
- a future jump enters at a step not committed yet, so its junction is at or after the committed frames N_c and
  its window starts at or after N_c - max_window // 2 (the horizon): every real frame before the horizon is
  final;
- a window is final once its after-context ends before the horizon too (a later window could otherwise take
  its context frames or merge with it). Frames up to the first window that is not final are final.
Segments are cut every `segment_frames` output frames (earlier where a window still open straddles the cut: the
segment ends where the window starts and the next one takes it), each with the audio of its span, encoded by one
continuous low-latency encoder (`tango.media.live_encode`) and handed to the broadcast outputs. A stream that
falls behind draws its frames on a lower rung and scales them up to its picture (`tango.render.live_ladder`).
At the end of the stream the output is cut at the audio's length, as offline renders are.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Protocol

import cv2
import numpy as np

from tango.media.live_encode import MediaSegment, SegmentEncoder
from tango.media.pcm import PcmFormat, SpeechResampler
from tango.lipsync.live_mouths import LiveMouths
from tango.render.frame_bank import FrameBank
from tango.render.live_ladder import LiveLoad
from tango.render.plan import CLIP_FRAMES, RenderOptions, path_frame_index
from tango.render.renderer import Interpolator, Window
from tango.render.schedule import FrameSchedule, schedule_frames
from tango.runtime.errors import InputMismatch, InvalidArgument, TangoError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LiveOptions:
    height: int = 360  # output rows (the render service chooses them on its resolution ladder: `live_ladder`)
    segment_frames: int = 15  # 0.5 s at 30 fps: a segment waits for its last frame, so it adds its length
    min_cut_frames: int = 5  # the shortest segment cut before an open transition window (`_cut`)
    transition_frames: int = 6  # per typical jump; shorter than offline (8): a window delays its frames
    max_transition_frames: int = 8
    context_frames: int = 2
    crf: int = 23
    preset: str = "veryfast"

    def __post_init__(self) -> None:
        if self.height < 64 or self.height > 2160:
            raise InvalidArgument(f"live height must lie in [64, 2160], got {self.height}", reason="BAD_LIVE_OPTION")
        if not 1 <= self.segment_frames <= 300:
            raise InvalidArgument(f"segment length must be 1-300 frames, got {self.segment_frames}",
                                  reason="BAD_LIVE_OPTION")
        if not 0 <= self.transition_frames <= 64:
            raise InvalidArgument(f"transition frames must lie in [0, 64], got {self.transition_frames}",
                                  reason="BAD_LIVE_OPTION")

    @property
    def longest_window(self) -> int:
        return max(self.max_transition_frames, self.transition_frames)

    @property
    def lengths(self) -> RenderOptions:
        """The offline rules that size a window by its jump's difficulty, with live's shorter bounds."""
        return RenderOptions(transition_frames=self.transition_frames, context_frames=self.context_frames,
                             min_transition_frames=min(4, self.longest_window),
                             max_transition_frames=self.longest_window)


@dataclass(frozen=True)
class Step:
    node: int
    jump: bool
    difficulty: float


class LiveTimeline:
    """The committed path as output frames: which of them are final, and each final frame's pixels."""

    def __init__(self, node_video: np.ndarray, node_start_frame: np.ndarray, source_frame: tuple[np.ndarray, ...],
                 options: LiveOptions):
        self.node_video = np.asarray(node_video, np.int32)
        self.node_start_frame = np.asarray(node_start_frame, np.int32)
        self.source_frame = source_frame
        self.options = options
        self.typical = 0.0  # the graph's typical jump difficulty, as retrieval reports it with the steps
        self.nodes: list[int] = []
        self.jump: list[bool] = []
        self.window_frames: list[int] = []
        self._schedule: FrameSchedule | None = None

    @property
    def committed_frames(self) -> int:
        return CLIP_FRAMES * len(self.nodes)

    def commit(self, steps: list[Step], typical_difficulty: float = 0.0) -> None:
        self.typical = typical_difficulty or self.typical
        nodes = np.array([s.node for s in steps], np.int64)
        if nodes.size and (nodes.min() < 0 or nodes.max() >= len(self.node_video)):
            raise InputMismatch(f"a committed step names a node outside the graph's {len(self.node_video)}")
        lengths = self.options.lengths.transition_lengths(np.array([s.difficulty for s in steps]), self.typical)
        self.nodes += nodes.tolist()
        self.jump += [bool(s.jump) and len(self.jump) + k > 0 for k, s in enumerate(steps)]
        self.window_frames += [int(n) if s.jump else 0 for n, s in zip(lengths, steps)]
        self._schedule = None

    def schedule(self, frames: int | None = None) -> FrameSchedule:
        """The schedule of the committed frames (or of `frames`, the audio's length, at the end)."""
        if frames is not None:
            return self._build(frames)
        if self._schedule is None:
            self._schedule = self._build(self.committed_frames)
        return self._schedule

    def _build(self, frames: int) -> FrameSchedule:
        nodes = np.asarray(self.nodes, np.int64)
        return schedule_frames(self.node_video[nodes], self.node_start_frame[nodes], np.asarray(self.jump, bool),
                               np.asarray(self.window_frames, np.int32), self.source_frame, frames,
                               self.options.transition_frames, self.options.context_frames)

    def shown(self, first: int, last: int, schedule: FrameSchedule) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(video, perception frame, generated) of output frames [first, last) of `schedule`."""
        nodes = np.asarray(self.nodes, np.int64)
        lengths = np.array([len(m) for m in self.source_frame], np.int64)
        video, local = path_frame_index(self.node_video[nodes], self.node_start_frame[nodes], lengths, last)
        return video[first:], local[first:], schedule.generated[first:last]

    @property
    def horizon(self) -> int:
        """Output frames before which no jump still to come can start its window."""
        return max(self.committed_frames - self.options.longest_window // 2 - 1, 0) if self.nodes else 0

    def final_frames(self) -> int:
        """Output frames that no step still to come can change (see the module docstring)."""
        if not self.nodes:
            return 0
        schedule = self.schedule()
        horizon = self.horizon
        windows = schedule.windows
        open_windows = np.flatnonzero((windows[:, 0] < horizon) & (windows[:, 1] + self.options.context_frames > horizon))
        return int(windows[open_windows[0], 0]) if open_windows.size else horizon


class FrameDrawer:
    """Output frames of a schedule: real frames from the frame bank, windows drawn by the interpolator (each
    window once; its frames kept until they are taken)."""

    def __init__(self, bank: FrameBank, interpolate: Interpolator):
        self.bank = bank
        self.interpolate = interpolate
        self.size = bank.size  # (H, W) frames are drawn at: the bank's, or a lower rung's (`live_ladder`)
        self._drawn: dict[int, np.ndarray] = {}
        self.generated = 0
        self.interpolate_s = 0.0

    def draw_at(self, height: int) -> None:
        """Draws the frames to come at `height` rows (the bank's aspect kept)."""
        bank_height, bank_width = self.bank.size
        self.size = (height, max(2, int(round(bank_width * height / bank_height))))

    def frames(self, schedule: FrameSchedule, start: int, stop: int) -> np.ndarray:
        """(stop - start, H, W, 3) uint8 output frames [start, stop) of `schedule`, at `size`."""
        out = []
        for position in range(start, stop):
            if schedule.generated[position]:
                if position not in self._drawn:
                    self._draw(schedule, position)
                out.append(self._sized(self._drawn.pop(position)))  # drawn ahead, maybe on another rung
                self.generated += 1
            else:
                out.append(self._real(schedule, position))
        return np.stack(out)

    def draw_ahead(self, schedule: FrameSchedule, start: int, final: int) -> None:
        """Draws every window in [start, final) not drawn yet: a window is often final before the segment that
        holds it, and drawing it while the stream waits for steps takes it off that segment's path."""
        windows = schedule.windows
        for index in np.flatnonzero((windows[:, 0] >= start) & (windows[:, 1] <= final)):
            if int(windows[index, 0]) not in self._drawn:
                self._draw(schedule, int(windows[index, 0]))

    def _real(self, schedule: FrameSchedule, position: int) -> np.ndarray:
        return self._sized(self.bank.frame(int(schedule.video[position]), int(schedule.source[position])))

    def _sized(self, frame: np.ndarray) -> np.ndarray:
        if frame.shape[:2] == self.size:
            return frame
        return cv2.resize(frame, self.size[::-1], interpolation=cv2.INTER_AREA)

    def _draw(self, schedule: FrameSchedule, position: int) -> None:
        index = int(np.searchsorted(schedule.windows[:, 1], position, side="right"))
        start, end = (int(v) for v in schedule.windows[index])
        k = int(schedule.context[index])
        before_at = np.arange(start - k, start, dtype=np.int64)
        after_at = np.arange(end, end + k, dtype=np.int64)
        before = np.stack([self._real(schedule, int(p)) for p in before_at])
        after = np.stack([self._real(schedule, int(p)) for p in after_at])
        began = time.perf_counter()
        drawn = np.asarray(self.interpolate(before, after, end - start, Window(start, end, before_at, after_at)))
        self.interpolate_s += time.perf_counter() - began
        if drawn.shape != (end - start, *before.shape[1:]) or drawn.dtype != np.uint8:
            raise TangoError(f"interpolator returned {drawn.shape} {drawn.dtype} for a window of {end - start}",
                             reason="INTERPOLATOR_OUTPUT_MISMATCH")
        self._drawn.update({start + n: frame for n, frame in enumerate(drawn)})


class SegmentSink(Protocol):
    """A broadcast output (`tango.render.live_outputs`): receives every segment after the init segment."""

    def write(self, segment: MediaSegment, init: bytes) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class RenderedSegment:
    media: MediaSegment  # its audio_start_s / audio_end_s: the span of the stream's audio it carries
    generated_frames: int
    lip_synced_frames: int
    timings_s: dict[str, float]
    drawn_height: int  # rows its frames were drawn at (the picture's, or a lower rung's scaled up to it)


class LiveRenderSession:
    """One live stream's rendering: feed `add_audio` / `add_steps`, collect `ready()` segments, then `finish()`.
    Not thread-safe: one stream, one caller."""

    def __init__(self, timeline: LiveTimeline, drawer: FrameDrawer, pcm: PcmFormat, fps: float,
                 options: LiveOptions, sinks: list[SegmentSink], load: LiveLoad | None = None,
                 mouths: LiveMouths | None = None, clock: Callable[[], float] = time.perf_counter):
        self.timeline = timeline
        self.drawer = drawer
        self.pcm = pcm
        self.fps = fps
        self.options = options
        self.sinks = sinks
        self.load = load  # reports this stream's render work to the resolution ladder
        self.mouths = mouths  # lip sync (None: off, or the footage has no usable face)
        self.speech = SpeechResampler(pcm) if mouths is not None else None
        self.clock = clock
        height, width = drawer.bank.size
        self.encoder = SegmentEncoder(width, height, fps, pcm.sample_rate, pcm.channels, options.segment_frames,
                                      crf=options.crf, preset=options.preset)
        self._audio: list[np.ndarray] = []  # (m, C) int16 chunks not yet encoded
        self._audio_sent = 0  # samples handed to the encoder
        self.audio_samples = 0  # received
        self._audio_since: float | None = None  # the clock when the first audio arrived
        self.emitted = 0  # output frames encoded
        self._drawn_until = 0.0  # drawer.interpolate_s already counted in a segment's timings

    @property
    def init_segment(self) -> bytes:
        return self.encoder.init_segment

    @property
    def encoded_size(self) -> tuple[int, int]:
        """(width, height) of the stream's frames (an odd size loses a pixel)."""
        return self.encoder.enc_width, self.encoder.enc_height

    @property
    def audio_frames(self) -> int:
        """Output frames the audio received so far covers."""
        return int(np.floor(self.audio_samples / self.pcm.sample_rate * self.fps + 1e-9))

    def add_audio(self, chunk: bytes) -> None:
        samples = self.pcm.decode(chunk)
        self._audio_since = self.clock() if self._audio_since is None else self._audio_since
        self._audio.append(samples)
        if self.mouths is not None:
            self.mouths.add_speech(self.speech.push(samples))
        self.audio_samples += samples.shape[0]

    def add_steps(self, steps: list[Step], typical_difficulty: float = 0.0) -> None:
        self.timeline.commit(steps, typical_difficulty)

    def ready(self) -> list[RenderedSegment]:
        """Every whole segment whose frames are final and whose audio has arrived, and a shorter one that ends where
        a transition window still open starts (`_cut`)."""
        final = min(self.timeline.final_frames(), self.audio_frames)
        out = []
        step = self.options.segment_frames
        while self.emitted + step <= final:
            out.append(self._segment(self.timeline.schedule(), self.emitted + step, final,
                                     behind=self.emitted + 2 * step <= final and self._overdue(self.emitted + step)))
        if self._cut(final):
            out.append(self._segment(self.timeline.schedule(), final, final))
        self.drawer.draw_ahead(self.timeline.schedule(), self.emitted, final)
        return out

    def _cut(self, final: int) -> bool:
        """Whether to end the next segment early, at `final`: the frames of a whole segment are committed and heard,
        but a transition window across its end is still open (its after-context reaches past the horizon) and
        would hold the whole segment back until later steps close it, as long as the window and its context
        (up to ~0.4 s). The segment then ends where the window starts, with at least `min_cut_frames` (each
        segment opens with an IDR frame), and the next one takes the window."""
        whole = self.emitted + self.options.segment_frames
        return (final - self.emitted >= self.options.min_cut_frames
                and min(self.timeline.horizon, self.audio_frames) >= whole)

    def finish(self) -> list[RenderedSegment]:
        """The rest, cut at the audio's length (the path may hold a few more frames than the audio)."""
        total = max(int(round(self.audio_samples / self.pcm.sample_rate * self.fps)), self.emitted)
        if total > self.timeline.committed_frames:
            raise InputMismatch(f"the committed path covers {self.timeline.committed_frames} frames, the audio "
                                f"{total}", reason="PATH_SHORTER_THAN_AUDIO")
        schedule = self.timeline.schedule(total) if total > self.emitted else None
        if self.mouths is not None:
            self.mouths.add_speech(self.speech.finish())
        out = []
        while self.emitted < total:
            out.append(self._segment(schedule, min(self.emitted + self.options.segment_frames, total), total,
                                     last=self.emitted + self.options.segment_frames >= total))
        return out

    def __enter__(self) -> "LiveRenderSession":
        return self

    def __exit__(self, kind, failure, trace) -> None:
        """Closes the session; when the stream already failed, that failure is the one the caller hears, and a
        failure to close is logged beside it (it does not replace it)."""
        if failure is None:
            self.close()
            return
        try:
            self.close()
        except Exception as also:  # noqa: BLE001 - the stream's own failure propagates
            log.warning("closing a failed live render also failed: %s", also)

    def close(self) -> None:
        """Frees the encoder and ends every output (child processes, threads, playlists), each one even when an
        earlier one fails; the first failure is raised afterwards."""
        failures = []
        ends = [self.load.close] if self.load is not None else []
        for end in (*ends, self.encoder.close, *(sink.close for sink in self.sinks)):
            try:
                end()
            except Exception as failure:  # noqa: BLE001 - raised below, once every output has ended
                failures.append(failure)
        if failures:
            raise failures[0]

    def _segment(self, schedule: FrameSchedule, stop: int, final: int, last: bool = False,
                 behind: bool = False) -> RenderedSegment:
        """Output frames [emitted, stop) drawn (on the rung the load tracker chooses: `behind` tells it that
        the stream is late), lip-synced, scaled to the picture, encoded and handed to the outputs; `final`: the
        frames known (the lip-sync window may look that far)."""
        began = self.clock()
        if self.load is not None:
            self.drawer.draw_at(self.load.next_height(behind))
        generated_before, interpolate_before = self.drawer.generated, self.drawer.interpolate_s
        frames = self.drawer.frames(schedule, self.emitted, stop)
        drawn = self.clock()
        frames, lip_synced = self._lip_synced(frames, schedule, stop, final)
        synced = self.clock()
        drawn_height = frames.shape[1]
        pcm = self._take_audio(self.pcm.sample_rate * stop / self.fps if not last else None)
        media = self.encoder.encode_segment(self._to_picture(frames), pcm, final=last)  # the last flushes the encoder
        encoded = self.clock()
        for sink in self.sinks:
            sink.write(media, self.encoder.init_segment)
        self.emitted = stop
        done = self.clock()
        transitions = self.drawer.interpolate_s - self._drawn_until  # with the windows drawn ahead since the last
        self._drawn_until = self.drawer.interpolate_s
        timings = {"frames": drawn - began - (self.drawer.interpolate_s - interpolate_before),
                   "transitions": transitions, "lipsync": synced - drawn,
                   "encode": encoded - synced, "outputs": done - encoded}
        if self.load is not None:
            self.load.add(sum(timings.values()), media.duration_s)
        return RenderedSegment(media, self.drawer.generated - generated_before, lip_synced,
                               {k: round(v, 5) for k, v in timings.items()}, drawn_height)

    def _overdue(self, frame: int) -> bool:
        """Output frame `frame` is due by the wall clock: real time since the first audio has passed it. With
        another segment ready beyond it, the stream is behind (a source faster than real time is not)."""
        return self._audio_since is not None and self.clock() - self._audio_since > frame / self.fps

    def _to_picture(self, frames: np.ndarray) -> np.ndarray:
        """Frames drawn on a lower rung, scaled up to the stream's picture (its size never changes)."""
        height, width = self.drawer.bank.size
        if frames.shape[1:3] == (height, width):
            return frames
        return np.stack([cv2.resize(f, (width, height), interpolation=cv2.INTER_LINEAR) for f in frames])

    def _lip_synced(self, frames: np.ndarray, schedule: FrameSchedule, stop: int, final: int) -> tuple[np.ndarray, int]:
        """The segment's frames with the speaker's own mouths, planned over a window reaching a transition's
        length beyond the segment on both sides (within the frames known), and how many frames changed."""
        if self.mouths is None:
            return frames, 0
        pad = self.options.longest_window + 1
        first, end = max(self.emitted - pad, 0), min(stop + pad, final)
        changed = self.mouths.changed
        frames = self.mouths.apply(frames, self.emitted, first, *self.timeline.shown(first, end, schedule))
        return frames, self.mouths.changed - changed

    def _take_audio(self, until: float | None) -> np.ndarray:
        """(m, C) int16 received audio up to sample `until` (None = all of it) not yet encoded."""
        held = np.concatenate(self._audio) if self._audio else np.zeros((0, self.pcm.channels), np.int16)
        count = held.shape[0] if until is None else max(0, min(int(round(until)) - self._audio_sent, held.shape[0]))
        self._audio = [held[count:]] if count < held.shape[0] else []
        self._audio_sent += count
        return held[:count]
