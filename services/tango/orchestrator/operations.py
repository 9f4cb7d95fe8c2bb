"""Job records as google.longrunning.Operation messages (AIP-151)."""
from __future__ import annotations

import json

from google.longrunning import operations_pb2
from google.protobuf import any_pb2, timestamp_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2

from tango.orchestrator.jobs import Job, JobState
from tango.orchestrator.v1 import orchestrator_service_pb2 as pb
from tango.runtime.errors import ERROR_DOMAIN
from tango.type.v1 import types_pb2

STATE_ENUM = {
    JobState.PENDING: pb.JOB_STATE_PENDING,
    JobState.RUNNING: pb.JOB_STATE_RUNNING,
    JobState.SUCCEEDED: pb.JOB_STATE_SUCCEEDED,
    JobState.FAILED: pb.JOB_STATE_FAILED,
    JobState.CANCELLED: pb.JOB_STATE_CANCELLED,
}
RESULT_TYPES: dict[str, type[Message]] = {"speaker": pb.Speaker, "reenactment": pb.Reenactment}


def operation_of(job: Job) -> operations_pb2.Operation:
    operation = operations_pb2.Operation(name=job.name, done=job.state.done)
    operation.metadata.Pack(metadata_of(job))
    if job.state == JobState.SUCCEEDED and job.result is not None:
        result = RESULT_TYPES[job.kind]()
        result.ParseFromString(job.result)
        operation.response.Pack(result)
    elif job.state in (JobState.FAILED, JobState.CANCELLED):
        operation.error.CopyFrom(status_of(job))
    return operation


def metadata_of(job: Job) -> pb.OperationMetadata:
    return pb.OperationMetadata(
        kind=job.kind,
        state=STATE_ENUM[job.state],
        stage=job.stage,
        progress=job.progress,
        stage_progress=types_pb2.Progress(stage=job.stage, done=job.stage_done, total=job.stage_total),
        create_time=_timestamp(job.created),
        update_time=_timestamp(job.updated),
        timings=[pb.StageTiming(**t) for t in json.loads(job.timings)],
        target=job.target,
    )


def status_of(job: Job) -> status_pb2.Status:
    code_name = "CANCELLED" if job.state == JobState.CANCELLED else (job.error_code or "INTERNAL")
    info = error_details_pb2.ErrorInfo(reason=job.error_reason or code_name, domain=ERROR_DOMAIN)
    detail = any_pb2.Any()
    detail.Pack(info)
    return status_pb2.Status(code=code_pb2.Code.Value(code_name), message=job.error_message or code_name, details=[detail])


def _timestamp(seconds: float) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromNanoseconds(int(seconds * 1e9))
    return stamp
