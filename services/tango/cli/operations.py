"""Client side of long-running operations: create, watch with progress, fetch results."""
from __future__ import annotations

from pathlib import Path

from google.longrunning import operations_pb2
from google.rpc import error_details_pb2

from tango.cli.client import call, channel, stream
from tango.cli.progress import ProgressReporter
from tango.orchestrator.v1 import orchestrator_service_pb2 as pb
from tango.orchestrator.v1 import orchestrator_service_pb2_grpc as pb_grpc
from tango.runtime.errors import TangoError

WATCH_DEADLINE_S = 6 * 3600.0
UPLOAD_CHUNK = 1 << 20


def orchestrator() -> pb_grpc.OrchestratorServiceStub:
    return pb_grpc.OrchestratorServiceStub(channel("orchestrator"))


def metadata_of(operation: operations_pb2.Operation) -> pb.OperationMetadata:
    metadata = pb.OperationMetadata()
    operation.metadata.Unpack(metadata)
    return metadata


def watch(name: str, label: str) -> operations_pb2.Operation:
    """Follows an operation to its end, drawing stage progress on stderr; raises its error if it failed."""
    reporter = ProgressReporter(label)
    last = None
    for operation in stream(orchestrator().WatchOperation, pb.WatchOperationRequest(name=name), WATCH_DEADLINE_S):
        metadata = metadata_of(operation)
        progress = metadata.stage_progress
        reporter.update(metadata.stage or "queued", progress.done, progress.total)
        last = operation
    reporter.close()
    if last.HasField("error"):
        reason = last.error.code
        for detail in last.error.details:
            info = error_details_pb2.ErrorInfo()
            if detail.Unpack(info):
                reason = info.reason
        raise TangoError(last.error.message, reason=str(reason))
    return last


def result_of(operation: operations_pb2.Operation, message_type):
    result = message_type()
    operation.response.Unpack(result)
    return result


def download(uri: str, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    with open(partial, "wb") as handle:
        for reply in stream(orchestrator().DownloadMedia, pb.DownloadMediaRequest(uri=uri), 3600):
            handle.write(reply.chunk)
    partial.replace(target)
    return target



def upload(path: Path) -> str:
    """Sends a local file to the orchestrator (UploadMedia); returns the URI of the stored copy."""
    def messages():
        yield pb.UploadMediaRequest(filename=path.name)
        with open(path, "rb") as handle:
            while block := handle.read(UPLOAD_CHUNK):
                yield pb.UploadMediaRequest(chunk=block)

    return call(orchestrator().UploadMedia, messages(), 3600).uri
