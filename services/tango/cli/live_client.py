"""Client side of live streams (StreamReenactment): play audio as a live source and measure what comes back.

`play` sends the header, waits for LiveStarted, then sends PCM16 chunks (paced at real time, or as fast as
the stream takes them), then end_of_audio; it collects the segments and measures, per audio chunk, the
latency from the moment the chunk was sent to the moment the segment showing it arrived.

The latency of a chunk is measured to the first segment whose frames show its last moment (the one that
carries its audio is also reported: `audio_latency_p95_s`). Stalls are counted as a player would see them: playback starts when the first segment arrives plus a
buffer of `SEGMENTS_HELD` segments (`stalls`; `stalls_half_second_buffer` for a player that holds back only
0.5 s); a segment that arrives after its playback time is a stall (the player rebuffers: its clock is pushed back
by the lateness).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Iterator

import grpc
import numpy as np

from tango.orchestrator.v1 import orchestrator_service_pb2 as pb
from tango.orchestrator.v1 import orchestrator_service_pb2_grpc as pb_grpc
from tango.runtime.grpc_util import error_from_rpc
from tango.type.v1 import types_pb2

SEGMENTS_HELD = 2  # a player holds back two segments before it plays (LL-HLS: PART-HOLD-BACK >= 2 part targets)


@dataclass
class LiveRun:
    """What one stream brought back, with its timings (monotonic seconds)."""

    started: pb.LiveStarted | None = None
    segments: list[types_pb2.MediaSegment] = field(default_factory=list)
    received_at: list[float] = field(default_factory=list)  # per segment
    chunk_sent_at: list[float] = field(default_factory=list)
    chunk_end_s: list[float] = field(default_factory=list)  # audio time at each chunk's end
    finished: pb.LiveFinished | None = None

    @property
    def media_s(self) -> float:
        return sum(s.duration_s for s in self.segments)

    def latencies(self, carried: str = "video") -> np.ndarray:
        """(chunks,) seconds from each chunk's sending to the arrival of the first segment that shows its last
        moment: whose frames reach it (carried="video"), or whose audio does (carried="audio": AAC framing
        makes a segment's audio trail its frames by up to two AAC frames, so a chunk that ends near a segment's
        end is heard only with the next one)."""
        ends = np.array([s.audio.end_s if carried == "audio" else s.start_s + s.duration_s for s in self.segments])
        arrival = np.array(self.received_at)
        chunk_end = np.array(self.chunk_end_s)
        first = np.searchsorted(np.maximum.accumulate(ends), chunk_end - 1e-6, side="left")
        shown = first < len(ends)
        return arrival[first[shown]] - np.array(self.chunk_sent_at)[shown]

    def stalls(self, buffer_s: float | None = None) -> int:
        return len(self.stalled(buffer_s))

    def stalled(self, buffer_s: float | None = None) -> list[tuple[float, float]]:
        """(start_s, seconds late) of each segment that arrived after a player's clock reached it."""
        if not self.segments:
            return []
        buffer_s = SEGMENTS_HELD * self.segments[0].duration_s if buffer_s is None else buffer_s
        clock, late = self.received_at[0] + buffer_s, []
        for segment, arrived in zip(self.segments, self.received_at):
            due = clock + segment.start_s
            if arrived > due + 1e-3:
                late.append((round(segment.start_s, 3), round(arrived - due, 3)))
                clock += arrived - due
        return late

    def write(self, path) -> None:
        """init + segments: one fragmented MP4."""
        with open(path, "wb") as handle:
            handle.write(self.started.init_segment if self.started else b"")
            for segment in self.segments:
                handle.write(segment.data)


def pcm_chunks(pcm: np.ndarray, rate: int, chunk_s: float) -> Iterator[tuple[bytes, float]]:
    """(bytes, audio time at the chunk's end) of (S,) or (S, C) int16 samples in chunks of `chunk_s`."""
    step = max(1, int(round(rate * chunk_s)))
    for start in range(0, len(pcm), step):
        block = np.ascontiguousarray(pcm[start:start + step]).astype("<i2")
        yield block.tobytes(), min(start + step, len(pcm)) / rate


def play(stub: pb_grpc.OrchestratorServiceStub, header: pb.StreamReenactmentHeader, pcm: np.ndarray,
         chunk_s: float = 0.1, realtime: bool = True, timeout_s: float = 3600.0, start_timeout_s: float = 600.0,
         on_segment=None) -> LiveRun:
    """Streams `pcm` ((S,) or (S, C) int16 at the header's rate) and returns what came back."""
    run = LiveRun()
    started = threading.Event()
    rate = header.audio_format.sample_rate_hz

    def requests():
        yield pb.StreamReenactmentRequest(header=header)
        if not started.wait(start_timeout_s):
            return
        origin = time.monotonic()
        for data, end_s in pcm_chunks(pcm, rate, chunk_s):
            if realtime:  # a live source delivers a chunk once it has been spoken
                time.sleep(max(0.0, origin + end_s - time.monotonic()))
            run.chunk_sent_at.append(time.monotonic())
            run.chunk_end_s.append(end_s)
            yield pb.StreamReenactmentRequest(audio=data)
        yield pb.StreamReenactmentRequest(end_of_audio=True)

    call = stub.StreamReenactment(requests(), timeout=timeout_s)
    try:
        for reply in call:
            event = reply.WhichOneof("event")
            if event == "started":
                run.started = reply.started
                started.set()
            elif event == "segment":
                run.segments.append(reply.segment)
                run.received_at.append(time.monotonic())
                if on_segment is not None:
                    on_segment(run, reply.segment)
            else:
                run.finished = reply.finished
    except grpc.RpcError as error:
        raise error_from_rpc(error) from None
    finally:
        started.set()
        call.cancel()
    return run


def summary(runs: list[LiveRun]) -> dict:
    """The figures of `tango live bench` over one or more concurrent streams (`height`: the first stream's; the
    render stage's resolution ladder may give later streams fewer rows: `heights`)."""
    latencies = np.concatenate([r.latencies() for r in runs]) if runs else np.zeros(0)
    heard = np.concatenate([r.latencies("audio") for r in runs]) if runs else np.zeros(0)
    wall = [r.received_at[-1] - r.chunk_sent_at[0] for r in runs if r.received_at and r.chunk_sent_at]
    media = [r.media_s for r in runs]
    busy = [sum(sum(s.timings_s.values()) for s in r.segments) / max(r.media_s, 1e-9) for r in runs]
    return {
        "streams": len(runs), "height": runs[0].started.height if runs and runs[0].started else None,
        "heights": [r.started.height for r in runs if r.started],
        "latency_p50_s": round(float(np.percentile(latencies, 50)), 3) if latencies.size else None,
        "latency_p95_s": round(float(np.percentile(latencies, 95)), 3) if latencies.size else None,
        "latency_max_s": round(float(latencies.max()), 3) if latencies.size else None,
        "audio_latency_p95_s": round(float(np.percentile(heard, 95)), 3) if heard.size else None,
        "stalls": int(sum(r.stalls() for r in runs)),
        "stalls_half_second_buffer": int(sum(r.stalls(0.5) for r in runs)),
        "stalled_at_s": [r.stalled() for r in runs],  # per stream: (segment start, seconds late) of each stall
        "realtime_factor": round(float(np.sum(media) / max(np.sum(wall), 1e-9)), 3),
        "render_busy_factor": round(float(np.mean(busy)), 3) if busy else None,
        "media_s": round(float(np.sum(media)), 2), "segments": int(sum(len(r.segments) for r in runs)),
        "jumps": int(sum(r.finished.jumps for r in runs if r.finished)),
        "generated_frames": int(sum(s.generated_frames for r in runs for s in r.segments)),
        "lip_synced_frames": int(sum(s.lip_synced_frames for r in runs for s in r.segments)),
        "drawn_heights": drawn_heights(runs),
    }


def drawn_heights(runs: list[LiveRun]) -> dict[str, float]:
    """{rows: share of the media drawn at them}: below a stream's own height while it could not keep up."""
    seconds: dict[int, float] = {}
    for segment in (s for r in runs for s in r.segments):
        seconds[segment.drawn_height] = seconds.get(segment.drawn_height, 0.0) + segment.duration_s
    total = sum(seconds.values()) or 1.0
    return {str(h): round(v / total, 4) for h, v in sorted(seconds.items(), reverse=True)}
