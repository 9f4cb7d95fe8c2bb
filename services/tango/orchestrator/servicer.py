"""gRPC translation for OrchestratorService and google.longrunning.Operations; each call carries the caller's
tenant (from the authentication interceptor) to the core."""
from __future__ import annotations

import time

from google.longrunning import operations_pb2, operations_pb2_grpc
from google.protobuf import empty_pb2

from tango.orchestrator.core import OrchestratorCore
from tango.orchestrator.operations import operation_of
from tango.orchestrator.tenancy import tenant_of
from tango.orchestrator.v1 import orchestrator_service_pb2 as pb
from tango.orchestrator.v1 import orchestrator_service_pb2_grpc as pb_grpc
from tango.runtime.errors import InvalidArgument
from tango.runtime.grpc_util import paced, should_stop_for
from tango.runtime.slots import Slots
from tango.runtime.tokens import current_caller

WATCH_POLL_S = 5.0


def wait_slots(slots: int) -> Slots:
    """Bounds the RPCs that block while a job runs (WatchOperation, WaitOperation). They share the server's
    worker threads with every other RPC: 8 callers waiting without a deadline once took all 8 threads, and
    GetOperation, CreateReenactment and even the health check timed out. Beyond the bound a waiter is told
    to poll instead (RESOURCE_EXHAUSTED, TOO_MANY_WAITERS)."""
    return Slots(slots, f"{slots} callers already wait on operations; poll GetOperation instead", "TOO_MANY_WAITERS")


class OrchestratorServicer(pb_grpc.OrchestratorServiceServicer):
    def __init__(self, core: OrchestratorCore, waits: Slots):
        self.core = core
        self.waits = waits

    def CreateSpeaker(self, request: pb.CreateSpeakerRequest, context):
        return operation_of(self.core.create_speaker(request, _tenant()))

    def GetSpeaker(self, request: pb.GetSpeakerRequest, context):
        return self.core.speakers.get(request.name, _tenant())

    def ListSpeakers(self, request: pb.ListSpeakersRequest, context):
        speakers, token = self.core.speakers.list(_tenant(), request.page_size, request.page_token)
        return pb.ListSpeakersResponse(speakers=speakers, next_page_token=token)

    def TagGesture(self, request: pb.TagGestureRequest, context):
        return self.core.tag_gesture(request, _tenant())

    def CreateReenactment(self, request: pb.CreateReenactmentRequest, context):
        return operation_of(self.core.create_reenactment(request, _tenant()))

    def WatchOperation(self, request: pb.WatchOperationRequest, context):
        stop = should_stop_for(context)
        job = self.core.job(request.name, _tenant())
        with self.waits.taken():
            yield operation_of(job)
            while not job.state.done and not stop():
                changed = self.core.wait_for_change(job, WATCH_POLL_S)
                if changed.updated > job.updated or changed.state.done:
                    yield operation_of(changed)
                job = changed

    def UploadMedia(self, request_iterator, context):
        uploads = self.core.uploads
        requests = paced(request_iterator, uploads.idle_s, uploads.max_s, "UPLOAD")
        first = next(requests, None)
        if first is None or first.WhichOneof("part") != "filename":
            raise InvalidArgument("the first message of an upload names the file", reason="UPLOAD_WITHOUT_NAME")
        chunks = (message.chunk for message in requests)
        uri, sha256, size = uploads.save(first.filename, chunks, _tenant())
        return pb.UploadMediaResponse(uri=uri, sha256=sha256, size_bytes=size)

    def DownloadMedia(self, request: pb.DownloadMediaRequest, context):
        for chunk in self.core.uploads.read(request.uri, _tenant()):
            yield pb.DownloadMediaResponse(chunk=chunk)

    def StreamReenactment(self, request_iterator, context):
        yield from self.core.live.stream(request_iterator, context.is_active, _tenant())


class OperationsServicer(operations_pb2_grpc.OperationsServicer):
    def __init__(self, core: OrchestratorCore, waits: Slots):
        self.core = core
        self.waits = waits

    def GetOperation(self, request: operations_pb2.GetOperationRequest, context):
        return operation_of(self.core.job(request.name, _tenant()))

    def ListOperations(self, request: operations_pb2.ListOperationsRequest, context):
        jobs, token = self.core.list_jobs(request.page_size, request.page_token, _kind_filter(request.filter), _tenant())
        return operations_pb2.ListOperationsResponse(operations=[operation_of(j) for j in jobs], next_page_token=token)

    def CancelOperation(self, request: operations_pb2.CancelOperationRequest, context):
        self.core.cancel(request.name, _tenant())
        return empty_pb2.Empty()

    def DeleteOperation(self, request: operations_pb2.DeleteOperationRequest, context):
        self.core.delete(request.name, _tenant())
        return empty_pb2.Empty()

    def WaitOperation(self, request: operations_pb2.WaitOperationRequest, context):
        job = self.core.job(request.name, _tenant())
        limit = request.timeout.ToTimedelta().total_seconds() if request.HasField("timeout") else 3600.0
        remaining = context.time_remaining()
        deadline = time.monotonic() + min(limit, remaining if remaining is not None else limit)
        if job.state.done:
            return operation_of(job)
        with self.waits.taken():
            while not job.state.done and time.monotonic() < deadline and context.is_active():
                job = self.core.wait_for_change(job, min(WATCH_POLL_S, deadline - time.monotonic()))
        return operation_of(job)


def _tenant() -> str:
    """The caller's tenant, as the authentication interceptor admitted it ("" without authentication)."""
    return tenant_of(current_caller())


def _kind_filter(text: str) -> str:
    """Supports the filter `kind = "speaker"` / `kind="reenactment"`; empty = all."""
    if not text.strip():
        return ""
    key, _, value = text.partition("=")
    value = value.strip().strip('"')
    if key.strip() != "kind" or value not in ("speaker", "reenactment"):
        raise InvalidArgument(f"unsupported filter {text!r} (use kind=\"speaker\" or kind=\"reenactment\")",
                              reason="BAD_FILTER")
    return value
