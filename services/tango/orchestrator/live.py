"""StreamReenactment: the orchestrator conducts one live stream between its caller and two live stages.

    caller --audio--> reader --audio--> retrieval.StreamPath --steps--> path reader --steps--> render.StreamRender
                             --audio-----------------------------------------------------> render.StreamRender
    caller <--LiveStarted, MediaSegment..., LiveFinished-- this generator <--segments-- render.StreamRender

The orchestrator does none of the stages' work: it checks the header, forwards the audio to both stages,
passes retrieval's committed steps to render, and relays render's segments. Three threads carry one stream
(the caller's reader, the path reader and a watchdog; the RPC's own thread relays the segments). A failure
anywhere cancels both stage calls and ends the stream with that failure's status; so do a caller that closes
the stream (CANCELLED) and one that sends nothing for `live_idle_s` (DEADLINE_EXCEEDED, LIVE_INPUT_IDLE). A caller
that half-closes its side without end_of_audio ends its audio there: the rest is rendered.
"""
from __future__ import annotations

import contextvars
import queue
import threading
import time
from typing import Callable, Iterator

import grpc

from tango.artifacts.hashing import tenant_scope
from tango.media.pcm import PcmFormat
from tango.orchestrator.config import OrchestratorConfig
from tango.orchestrator.metrics import OrchestratorMetrics
from tango.orchestrator.request_checks import check_live_header
from tango.orchestrator.speakers import SpeakerCatalogue
from tango.orchestrator.stage_clients import StageClients
from tango.orchestrator.v1 import orchestrator_service_pb2 as pb
from tango.render.v1 import render_service_pb2 as render_pb
from tango.retrieval.v1 import retrieval_service_pb2 as retrieval_pb
from tango.runtime.errors import Cancelled, DeadlineExceeded, InvalidArgument, TangoError, Unavailable
from tango.runtime.grpc_util import error_from_rpc
from tango.runtime.slots import Slots

FRAMES_PER_STEP, STEP_FPS = 4, 30.0
_END = object()


class LiveConductor:
    def __init__(self, config: OrchestratorConfig, clients: StageClients, speakers: SpeakerCatalogue,
                 metrics: OrchestratorMetrics):
        self.config = config
        self.clients = clients
        self.speakers = speakers
        self.metrics = metrics
        self.slots = Slots(config.live_streams, f"this orchestrator already carries {config.live_streams} live streams",
                           "LIVE_CAPACITY")

    def stream(self, requests: Iterator[pb.StreamReenactmentRequest], is_active: Callable[[], bool],
               tenant: str) -> Iterator[pb.StreamReenactmentResponse]:
        first = next(requests, None)
        if first is None or first.WhichOneof("event") != "header":
            raise InvalidArgument("a live stream starts with its header", reason="LIVE_WITHOUT_HEADER")
        header = first.header
        check_live_header(header)
        speaker = self.speakers.get(header.speaker, tenant)
        with self.slots.taken(), tenant_scope(tenant):
            self.metrics.live_streams.inc()
            try:
                yield from _LiveStream(self, header, speaker, requests, is_active).run()
            finally:
                self.metrics.live_streams.dec()


class _LiveStream:
    """One stream's threads and stage calls (see the module docstring)."""

    def __init__(self, conductor: LiveConductor, header: pb.StreamReenactmentHeader, speaker: pb.Speaker,
                 requests: Iterator, is_active: Callable[[], bool]):
        self.config = conductor.config
        self.clients = conductor.clients
        self.header = header
        self.pcm = PcmFormat(header.audio_format.sample_rate_hz, header.audio_format.channels)
        self.speaker = speaker
        self.requests = requests
        self.is_active = is_active
        self.lookahead_steps = round(header.options.lookahead_s * STEP_FPS / FRAMES_PER_STEP)
        self.to_path: queue.Queue = queue.Queue()
        self.to_render: queue.Queue = queue.Queue()
        self.failure: TangoError | None = None
        self.done = threading.Event()
        self.listening = threading.Event()  # LiveStarted was sent: the caller is expected to send audio
        self.audio_ended = threading.Event()  # the caller sent end_of_audio: silence from it is expected now
        self.last_heard = time.monotonic()
        self.steps = self.jumps = 0
        self.similarity = 0.0
        self.path_call = self.clients.retrieval.StreamPath(_drain(self.to_path), timeout=self.config.stage_deadline_s)
        self.render_call = None

    def run(self) -> Iterator[pb.StreamReenactmentResponse]:
        self.to_path.put(self._path_header())
        self._start(self._watch)
        segments, duration = 0, 0.0
        try:
            started = self._open_render()
            if self.failure is not None:  # the caller went away while the render stage was opening
                raise self.failure
            self._start(self._read_caller)
            self._start(self._read_path)
            yield pb.StreamReenactmentResponse(started=pb.LiveStarted(
                init_segment=started.init_segment, width=started.width, height=started.height, fps=started.fps,
                lookahead_s=self.lookahead_steps * FRAMES_PER_STEP / STEP_FPS))
            self.last_heard = time.monotonic()  # the idle clock starts once the caller may send
            self.listening.set()
            for reply in self.render_call:
                segments, duration = segments + 1, reply.segment.start_s + reply.segment.duration_s
                yield pb.StreamReenactmentResponse(segment=reply.segment)
        except grpc.RpcError as error:
            self._fail(error_from_rpc(error))
        except TangoError as error:
            self._fail(error)
        finally:
            self.done.set()
            self._cancel()
        if self.failure is not None:
            raise self.failure
        yield pb.StreamReenactmentResponse(finished=pb.LiveFinished(
            segments=segments, duration_s=duration, steps=self.steps, jumps=self.jumps,
            similarity=self.similarity / max(self.steps, 1)))

    def _path_header(self) -> retrieval_pb.StreamPathRequest:
        options = self.header.options
        return retrieval_pb.StreamPathRequest(header=retrieval_pb.StreamPathHeader(
            graph_uri=self.speaker.graph.uri, checkpoint=self.speaker.checkpoint, audio_format=self.header.audio_format,
            options=retrieval_pb.SearchOptions(jump_penalty=options.jump_penalty or self.config.jump_penalty),
            lookahead_steps=self.lookahead_steps))

    def _open_render(self) -> render_pb.LiveVideoStarted:
        """Opens the render stage's stream and waits for its LiveVideoStarted. A render replica at its capacity
        (LIVE_CAPACITY: its streams are all taken, or one that just ended is still being released) is asked
        again for `live_open_s`: round robin may reach another replica, or the slot frees."""
        options = self.header.options
        header = render_pb.StreamRenderRequest(header=render_pb.StreamRenderHeader(
            speaker=render_pb.SpeakerFootage(name=self.speaker.name, reference_uris=self.speaker.reference_uris,
                                             perceptions=self.speaker.perceptions, graph=self.speaker.graph),
            audio_format=self.header.audio_format, outputs=self.header.outputs,
            options=render_pb.LiveRenderOptions(height=options.height, segment_s=options.segment_s,
                                                transition_frames=options.transition_frames,
                                                interpolator=options.interpolator, lip_sync=options.lip_sync)))
        give_up = time.monotonic() + self.config.live_open_s
        while True:
            self.to_render = queue.Queue()
            self.to_render.put(header)
            self.render_call = self.clients.render.StreamRender(_drain(self.to_render),
                                                                timeout=self.config.stage_deadline_s)
            try:
                return next(self.render_call).started
            except grpc.RpcError as error:
                failure = error_from_rpc(error)
                if failure.reason != "LIVE_CAPACITY" or time.monotonic() > give_up or self.failure is not None:
                    raise failure from None
            time.sleep(0.25)

    def _start(self, work: Callable[[], None]) -> None:
        threading.Thread(target=contextvars.copy_context().run, args=(self._guarded, work), daemon=True,
                         name=f"live-{work.__name__}").start()  # in the stream's tenant scope

    def _read_caller(self) -> None:
        """Forwards the caller's audio to both stages (each chunk checked on arrival). end_of_audio, or the caller
        half-closing its side of the stream, ends the audio cleanly."""
        for request in self.requests:
            self.last_heard = time.monotonic()
            event = request.WhichOneof("event")
            if event == "audio":
                self.pcm.decode(request.audio)
                self.to_path.put(retrieval_pb.StreamPathRequest(audio=request.audio))
                self.to_render.put(render_pb.StreamRenderRequest(audio=request.audio))
            elif event == "end_of_audio":
                break
            else:
                raise InvalidArgument("a live stream has one header", reason="UNEXPECTED_LIVE_MESSAGE")
        self.audio_ended.set()
        self.to_path.put(retrieval_pb.StreamPathRequest(end_of_audio=True))
        self.to_path.put(_END)

    def _read_path(self) -> None:
        try:
            for reply in self.path_call:
                self.steps += len(reply.steps)
                self.jumps += sum(s.jump for s in reply.steps)
                self.similarity += sum(s.similarity for s in reply.steps)
                self.to_render.put(render_pb.StreamRenderRequest(steps=render_pb.StepBatch(
                    steps=reply.steps, typical_jump_difficulty=reply.typical_jump_difficulty)))
        except grpc.RpcError as error:
            if not self.done.is_set():
                self._fail(error_from_rpc(error))
            return
        self.to_render.put(render_pb.StreamRenderRequest(end_of_stream=True))
        self.to_render.put(_END)

    def _watch(self) -> None:
        while not self.done.wait(0.25):
            if not self.is_active():
                self._fail(Cancelled("the caller is gone", reason="LIVE_CLOSED_BY_CALLER"))
            elif self._silent_for() > self.config.live_idle_s:
                self._fail(DeadlineExceeded(f"no audio for {self.config.live_idle_s:g} s", reason="LIVE_INPUT_IDLE"))

    def _silent_for(self) -> float:
        """Seconds the caller has been silent while audio was expected of it (0 otherwise)."""
        if not self.listening.is_set() or self.audio_ended.is_set():
            return 0.0
        return time.monotonic() - self.last_heard

    def _guarded(self, work: Callable[[], None]) -> None:
        try:
            work()
        except TangoError as error:
            self._fail(error)
        except grpc.RpcError as error:
            self._fail(error_from_rpc(error))
        except Exception as error:  # noqa: BLE001 - any failure of a helper thread ends the stream with a status
            self._fail(Unavailable(f"live stream failed: {type(error).__name__}", reason="LIVE_STREAM_FAILED"))

    def _fail(self, error: TangoError) -> None:
        if self.failure is None:
            self.failure = error
        self._cancel()

    def _cancel(self) -> None:
        self.path_call.cancel()
        if self.render_call is not None:
            self.render_call.cancel()
        self.to_path.put(_END)
        self.to_render.put(_END)


def _drain(source: queue.Queue) -> Iterator:
    """The request iterator of a stage call: the queue's messages until its end marker."""
    while True:
        item = source.get()
        if item is _END:
            return
        yield item
