"""The orchestrator's logic: accepts jobs, validates them, and hands them to the runner. No gRPC here.

Every call names the caller's tenant: a tenant sees, waits on, cancels and deletes its own jobs only, and
names only its own speakers and media as inputs; anything else is NOT_FOUND."""
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

    def create_speaker(self, request: pb.CreateSpeakerRequest, tenant: str) -> Job:
        self.speaker_pipeline.validate(request)
        self.uploads.check_inputs(tenant, request.reference_uris)
        return self.runner.submit("speaker", request.request_id, request, tenant)

    def create_reenactment(self, request: pb.CreateReenactmentRequest, tenant: str) -> Job:
        self.reenactment_pipeline.validate(request, tenant)
        self.uploads.check_inputs(tenant, [*request.reference_uris, request.audio_uri, request.transcript_uri])
        return self.runner.submit("reenactment", request.request_id, request, tenant)

    def tag_gesture(self, request: pb.TagGestureRequest, tenant: str) -> pb.GestureTag:
        return self.speakers.tag(request.speaker, request.tag, tenant)

    def job(self, name: str, tenant: str) -> Job:
        job_id = name[len(OPERATION_PREFIX):] if name.startswith(OPERATION_PREFIX) else ""
        if not job_id:
            raise NotFound(f"operation {name!r} does not exist", reason="OPERATION_NOT_FOUND")
        return self.jobs.get(job_id, tenant)

    def list_jobs(self, page_size: int, page_token: str, kind: str, tenant: str) -> tuple[list[Job], str]:
        return self.jobs.list(page_size, page_token, kind=kind, tenant=tenant)

    def wait_for_change(self, job: Job, timeout_s: float) -> Job:
        return self.jobs.wait_for_change(job.id, job.updated, timeout_s)

    def cancel(self, name: str, tenant: str) -> Job:
        return self.runner.cancel(self.job(name, tenant).id)

    def delete(self, name: str, tenant: str) -> None:
        job = self.cancel(name, tenant)
        self.jobs.delete(job.id)
