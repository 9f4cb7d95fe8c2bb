"""The orchestrator's logic: accepts jobs, validates them, and hands them to the runner. No gRPC here."""
from __future__ import annotations

from tango.orchestrator.jobs import Job, JobStore
from tango.orchestrator.live import LiveConductor
from tango.orchestrator.reenact_pipeline import ReenactmentPipeline
from tango.orchestrator.runner import JobRunner
from tango.orchestrator.speaker_pipeline import SpeakerPipeline
from tango.orchestrator.speakers import SpeakerCatalogue
from tango.orchestrator.uploads import UploadArea
from tango.orchestrator.v1 import orchestrator_service_pb2 as pb
from tango.runtime.errors import NotFound

OPERATION_PREFIX = "operations/"


class OrchestratorCore:
    def __init__(self, jobs: JobStore, runner: JobRunner, speakers: SpeakerCatalogue, uploads: UploadArea,
                 speaker_pipeline: SpeakerPipeline, reenactment_pipeline: ReenactmentPipeline, live: LiveConductor):
        self.jobs = jobs
        self.runner = runner
        self.speakers = speakers
        self.uploads = uploads
        self.speaker_pipeline = speaker_pipeline
        self.reenactment_pipeline = reenactment_pipeline
        self.live = live

    def create_speaker(self, request: pb.CreateSpeakerRequest) -> Job:
        self.speaker_pipeline.validate(request)
        return self.runner.submit("speaker", request.request_id, request)

    def create_reenactment(self, request: pb.CreateReenactmentRequest) -> Job:
        self.reenactment_pipeline.validate(request)
        return self.runner.submit("reenactment", request.request_id, request)

    def job(self, name: str) -> Job:
        job_id = name[len(OPERATION_PREFIX):] if name.startswith(OPERATION_PREFIX) else ""
        if not job_id:
            raise NotFound(f"operation {name!r} does not exist", reason="OPERATION_NOT_FOUND")
        return self.jobs.get(job_id)

    def list_jobs(self, page_size: int, page_token: str, kind: str) -> tuple[list[Job], str]:
        return self.jobs.list(page_size, page_token, kind=kind)

    def wait_for_change(self, job: Job, timeout_s: float) -> Job:
        return self.jobs.wait_for_change(job.id, job.updated, timeout_s)

    def cancel(self, name: str) -> Job:
        return self.runner.cancel(self.job(name).id)

    def delete(self, name: str) -> None:
        job = self.cancel(name)
        self.jobs.delete(job.id)
