"""gRPC translation for TrainerService: messages in, core calls, messages out. Nothing else."""
from __future__ import annotations

import grpc

from tango.runtime.grpc_util import progress_message, should_stop_for
from tango.runtime.progress import Finished, run_with_progress
from tango.trainer.core import TrainerCore, TrainingOutcome
from tango.trainer.v1 import trainer_service_pb2 as pb
from tango.trainer.v1 import trainer_service_pb2_grpc as pb_grpc
from tango.type.v1 import types_pb2

EXECUTORS = {"local": pb.EXECUTOR_LOCAL, "kubernetes": pb.EXECUTOR_KUBERNETES_JOB}


class TrainerServicer(pb_grpc.TrainerServiceServicer):
    def __init__(self, core: TrainerCore):
        self.core = core

    def TrainSpeakerModel(self, request: pb.TrainSpeakerModelRequest, context: grpc.ServicerContext):
        uris = [p.uri for p in request.perceptions]

        def work(on_progress, should_stop):
            return self.core.train(uris, request.max_minutes, on_progress, should_stop)

        for event in run_with_progress(work, should_stop_for(context)):
            if isinstance(event, Finished):
                yield pb.TrainSpeakerModelResponse(result=result_message(event.value))
            else:
                yield pb.TrainSpeakerModelResponse(progress=progress_message(event))


def result_message(outcome: TrainingOutcome) -> pb.TrainingResult:
    artifact = outcome.artifact
    return pb.TrainingResult(
        checkpoint=outcome.checkpoint,
        artifact=types_pb2.ArtifactRef(uri=artifact.uri, sha256=artifact.sha256, kind=artifact.kind),
        cache_hit=outcome.cache_hit, training_seconds=outcome.seconds,
        executor=EXECUTORS.get(outcome.executor, pb.EXECUTOR_UNSPECIFIED), job_name=outcome.job_name)
