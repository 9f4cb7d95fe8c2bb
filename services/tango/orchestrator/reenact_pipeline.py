"""CreateReenactment: speaker + target speech -> retrieval -> transitions + render + mux -> video."""
from __future__ import annotations

from tango.artifacts.inputs import InputResolver
from tango.media.audio import SPEECH_SAMPLE_RATE, load_speech
from tango.orchestrator.config import OrchestratorConfig
from tango.orchestrator.job_context import JobContext
from tango.orchestrator.request_checks import (check_cue_words, check_cues, check_reenactment_options,
                                               check_references, check_speaker_options, check_uris)
from tango.orchestrator.retry import with_retries
from tango.orchestrator.speaker_pipeline import STAGE_WEIGHTS as SPEAKER_STAGES
from tango.orchestrator.speaker_pipeline import SpeakerPipeline
from tango.orchestrator.speakers import SpeakerCatalogue
from tango.orchestrator.uploads import UploadArea
from tango.orchestrator.stage_clients import PathOutput, StageClients
from tango.orchestrator.v1 import orchestrator_service_pb2 as pb
from tango.render.v1 import render_service_pb2 as render_pb
from tango.runtime.errors import InvalidArgument
from tango.speech.quality import SpeechSettings
from tango.speech.transcript_files import check_fits, read_transcript
from tango.type.v1 import types_pb2

STAGE_WEIGHTS = {**{k: v * 0.5 for k, v in SPEAKER_STAGES.items()}, "audio": 0.02, "retrieval": 0.08, "render": 0.4}


class ReenactmentPipeline:
    kind = "reenactment"
    stage_weights = STAGE_WEIGHTS

    def __init__(self, config: OrchestratorConfig, clients: StageClients, speakers: SpeakerCatalogue,
                 speaker_pipeline: SpeakerPipeline, inputs: InputResolver, media: UploadArea):
        self.config = config
        self.clients = clients
        self.speakers = speakers
        self.speaker_pipeline = speaker_pipeline
        self.inputs = inputs
        self.media = media  # the rendered video and sidecar become the job's tenant's

    def parse(self, payload: bytes) -> pb.CreateReenactmentRequest:
        return pb.CreateReenactmentRequest.FromString(payload)

    def target_of(self, request: pb.CreateReenactmentRequest) -> str:
        return request.speaker or "speakers/(from the references)"

    def validate(self, request: pb.CreateReenactmentRequest, tenant: str) -> None:
        if not request.audio_uri:
            raise InvalidArgument("a reenactment needs the target speech (audio_uri)", reason="MISSING_AUDIO")
        if not request.speaker and not request.reference_uris:
            raise InvalidArgument("give a speaker or reference videos", reason="NO_SPEAKER")
        check_references(request.reference_uris)
        check_uris(request.speaker, request.audio_uri, request.transcript_uri)
        check_speaker_options(request.speaker_options)
        check_reenactment_options(request.options)
        check_cues(request.cues)
        if request.cues.gesture and not request.speaker:
            raise InvalidArgument("gesture cues name gestures tagged on an existing speaker: give `speaker`",
                                  reason="CUE_NEEDS_SPEAKER")
        if request.speaker:
            tagged_cues(request.cues, self.speakers.get(request.speaker, tenant))
        self.inputs.resolve(request.audio_uri)
        if request.transcript_uri:
            check_cue_words(request.cues, read_transcript(self.inputs.resolve(request.transcript_uri)).words)

    def run(self, request: pb.CreateReenactmentRequest, context: JobContext) -> pb.Reenactment:
        speaker = (self.speakers.get(request.speaker, context.tenant) if request.speaker else
                   self.speaker_pipeline.ensure_speaker(list(request.reference_uris), request.speaker_options, context))
        with context.stage("audio"):
            audio_path = self.inputs.resolve(request.audio_uri)
            self._checked_speech(audio_path, request.transcript_uri)
        cues = tagged_cues(request.cues, speaker)
        with context.stage("retrieval") as record:
            path = with_retries(
                lambda: self.clients.search_path(speaker.graph.uri, str(audio_path), speaker.checkpoint,
                                                 int(request.options.mode),
                                                 request.options.jump_penalty or self.config.jump_penalty,
                                                 context.should_stop, cues, request.transcript_uri),
                stage="retrieval", attempts=self.config.stage_attempts, base_s=self.config.retry_base_s,
                should_stop=context.should_stop, on_attempt=context.attempt(record))
        render_request = render_request_of(speaker, path, request.audio_uri, request.options, request.transcript_uri)
        with context.stage("render") as record:
            outcome = with_retries(
                lambda: self.clients.render_video(render_request, context.progress, context.should_stop),
                stage="render", attempts=self.config.stage_attempts, base_s=self.config.retry_base_s,
                should_stop=context.should_stop, on_attempt=context.attempt(record))
        self.media.grant(context.tenant, outcome.video_uri, outcome.sidecar_uri, outcome.captions_uri)
        return pb.Reenactment(
            name=f"reenactments/{outcome.artifact.sha256}", speaker=speaker.name, duration_s=outcome.duration_s,
            render=types_pb2.ArtifactRef(uri=outcome.artifact.uri, sha256=outcome.artifact.sha256,
                                         kind=outcome.artifact.kind),
            video_uri=outcome.video_uri, sidecar_uri=outcome.sidecar_uri, captions_uri=outcome.captions_uri,
            steps=len(path.path), jumps=len(path.jump_steps), similarity=path.similarity, cues=path.cues,
        )

    def _checked_speech(self, audio_path, transcript_uri: str):
        """The target audio as mono 16 kHz speech, refused when silent, too long or off its transcript."""
        speech = load_speech(audio_path, self.config.max_audio_seconds)
        if transcript_uri:
            check_fits(read_transcript(self.inputs.resolve(transcript_uri)), len(speech) / SPEECH_SAMPLE_RATE,
                       SpeechSettings())
        return speech


def tagged_cues(cues: types_pb2.ScriptCues, speaker: pb.Speaker) -> types_pb2.ScriptCues:
    """The cues with each gesture's span taken from the speaker's tag of that name, and the spans the speaker's
    avoid tags name added to `avoid`; a gesture not tagged on the speaker is refused."""
    tags = {tag.name: tag for tag in speaker.tags}
    resolved = types_pb2.ScriptCues()
    resolved.CopyFrom(cues)
    for gesture in resolved.gesture:
        tag = tags.get(gesture.name)
        if tag is None or tag.avoid:
            raise InvalidArgument(f"no gesture {gesture.name!r} is tagged on {speaker.name}; tag one with TagGesture",
                                  reason="CUE_UNKNOWN_GESTURE", metadata={"gesture": gesture.name})
        gesture.span.CopyFrom(tag.span)
    resolved.avoid.extend(tag.span for tag in speaker.tags if tag.avoid)
    return resolved


def render_request_of(speaker: pb.Speaker, path: PathOutput, audio_uri: str, options: pb.ReenactmentOptions,
                      transcript_uri: str = "") -> render_pb.RenderVideoRequest:
    """What the render stage needs of the speaker, the retrieved path, the speech (its transcript for the captions)
    and the job's options."""
    footage = render_pb.SpeakerFootage(name=speaker.name, reference_uris=speaker.reference_uris,
                                       perceptions=speaker.perceptions, graph=speaker.graph)
    motion = render_pb.MotionPath(nodes=path.path, jump_steps=path.jump_steps,
                                  jump_difficulties=path.jump_difficulty,
                                  typical_jump_difficulty=path.typical_jump_difficulty)
    render_options = render_pb.RenderOptions(transition_frames=options.transition_frames, max_height=options.max_height,
                                             interpolator=options.interpolator, lip_sync=options.lip_sync,
                                             lip_sync_source=options.lip_sync_source)
    return render_pb.RenderVideoRequest(speaker=footage, path=motion, audio_uri=audio_uri, options=render_options,
                                        transcript_uri=transcript_uri, cues=path.cues)
