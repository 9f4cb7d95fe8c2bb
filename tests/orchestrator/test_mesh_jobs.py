"""The whole product on a real local mesh (one process per service + Triton): a reenactment from a
reference video and speech, bad requests, transitions drawn by ACInterp (a tiny random install), a stage
service killed mid-job, the orchestrator killed mid-job, cancellation and the bound on jobs in flight."""
from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
import uuid
from pathlib import Path

import grpc
import numpy as np
import pytest
import soundfile as sf
from google.longrunning import operations_pb2, operations_pb2_grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from live_checks import (check_live_bad_input, check_live_capacity_idle_and_close, check_live_matches_offline_render,
                         check_live_stream)
from support import allowed_roots
from tango.cli.cue_file import cues_of, read_cue_file
from tango.media.encode import probe_output
from tango.mesh.health import grpc_serving, triton_ready
from tango.mesh.mesh import LocalMesh
from tango.orchestrator.v1 import orchestrator_service_pb2 as pb
from tango.orchestrator.v1 import orchestrator_service_pb2_grpc as pb_grpc
from tango.runtime.auth import TOKEN_FILE, bearer_channel
from tango.runtime.tls import make_mesh_pki, open_channel
from tango.runtime.tokens import api_key_line, new_api_key
from tango.type.v1 import types_pb2

BASE_PORT = 52050
SPEAKER_OPTIONS = pb.SpeakerOptions(max_seconds=10.0, train_minutes=0.25)


@pytest.fixture(scope="module")
def mesh(tmp_path_factory, media_dir, inputs_root, monkeypatch_module):
    monkeypatch_module.setenv("TANGO_ORCHESTRATOR_MAX_JOBS_IN_FLIGHT", "2")
    monkeypatch_module.setenv("TANGO_ORCHESTRATOR_RETRY_BASE_S", "1.0")
    monkeypatch_module.setenv("TANGO_ORCHESTRATOR_LIVE_IDLE_S", "3")
    monkeypatch_module.setenv("TANGO_ACINTERP_WEIGHTS", str(tiny_acinterp(tmp_path_factory.mktemp("acinterp"))))
    home = tmp_path_factory.mktemp("mesh")
    local = LocalMesh(home, base_port=BASE_PORT, allowed_roots=allowed_roots(inputs_root), tls=True)  # mutual TLS
    local.up(log=lambda _line: None)
    yield local
    local.down()


def tiny_acinterp(directory: Path) -> Path:
    """A randomly initialised tiny ACInterp installed where the mesh's Triton will load it."""
    from tango.acinterp.config import ACInterpConfig
    from tango.acinterp.weights import random_acinterp, save_acinterp

    return save_acinterp(random_acinterp(ACInterpConfig.tiny(), seed=0), directory / "weights")


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def stubs(mesh: LocalMesh):
    channel = mesh.channel("orchestrator")
    return pb_grpc.OrchestratorServiceStub(channel), operations_pb2_grpc.OperationsStub(channel)


def wait(mesh: LocalMesh, name: str, timeout_s: float = 600, operations=None) -> operations_pb2.Operation:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            operation = (operations or stubs(mesh)[1]).WaitOperation(operations_pb2.WaitOperationRequest(name=name),
                                                                     timeout=30)
        except grpc.RpcError as error:  # the orchestrator may be restarting
            if error.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise
            time.sleep(0.5)
            continue
        if operation.done:
            return operation
    raise AssertionError(f"{name} not done after {timeout_s} s")


def metadata(operation) -> pb.OperationMetadata:
    meta = pb.OperationMetadata()
    operation.metadata.Unpack(meta)
    return meta


def error_reason(status) -> str:
    info = error_details_pb2.ErrorInfo()
    status.details[0].Unpack(info)
    return info.reason


def reenact(mesh, audio: Path, speaker: str = "", references=(), request_id: str = "") -> operations_pb2.Operation:
    request = pb.CreateReenactmentRequest(request_id=request_id or uuid.uuid4().hex, speaker=speaker,
                                          reference_uris=[str(r) for r in references], audio_uri=str(audio),
                                          speaker_options=SPEAKER_OPTIONS)
    return stubs(mesh)[0].CreateReenactment(request, timeout=30)


def wait_for_stage(mesh, name: str, stage: str, min_attempts: int = 1, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        meta = metadata(stubs(mesh)[1].GetOperation(operations_pb2.GetOperationRequest(name=name), timeout=10))
        attempts = max((t.attempts for t in meta.timings if t.stage == stage), default=0)
        if meta.stage == stage and attempts >= min_attempts:
            return
        time.sleep(0.2)
    raise AssertionError(f"{name} never reached {stage} (attempt {min_attempts})")


@pytest.fixture(scope="module")
def speaker(mesh, female_video, media_dir):
    """The first reenactment: creates the speaker from the reference video and renders s2g_001."""
    audio = media_dir / "audio" / "s2g_001.wav"
    operation = reenact(mesh, audio, references=[female_video], request_id="e2e-first")
    stages = []
    for update in stubs(mesh)[0].WatchOperation(pb.WatchOperationRequest(name=operation.name), timeout=900):
        if not stages or stages[-1] != metadata(update).stage:
            stages.append(metadata(update).stage)
    done = wait(mesh, operation.name)
    assert not done.HasField("error"), done.error.message
    result = pb.Reenactment()
    done.response.Unpack(result)
    return {"operation": operation, "stages": stages, "result": result, "audio": audio}


def test_reenactment_end_to_end(mesh, speaker, female_video):
    result, stages = speaker["result"], speaker["stages"]
    for stage in ("perception", "graph", "embedding_model", "node_embeddings", "retrieval", "render", "done"):
        assert stage in stages
    probe = probe_output(result.video_uri)
    audio_info = sf.info(str(speaker["audio"]))
    audio_seconds = audio_info.duration
    assert (probe["video_codec"], probe["audio_codec"]) == ("h264", "aac")
    assert (probe["audio_rate"], probe["audio_channels"]) == (audio_info.samplerate, audio_info.channels)
    assert abs(probe["video_duration_s"] - audio_seconds) <= 1.0 / probe["fps"] + 1e-3
    sidecar = json.loads(Path(result.sidecar_uri).read_text())
    assert sidecar["frames"] == probe["frames"]
    assert sidecar["generated_frames"] == sum(end - start for start, end in sidecar["windows"])
    assert len(sidecar["jumps"]) == result.jumps and sidecar["real_frames"] > sidecar["generated_frames"]
    assert 0 <= sidecar["metrics"]["output"]["beat_consistency"] <= 1
    assert sidecar["metrics"]["reference"]["diversity"] > 0
    lipsync = sidecar["lipsync"]  # on by default: the reference shows a face
    assert (lipsync["status"], lipsync["method"]) == ("applied", "mouths")
    assert lipsync["frames_changed"] + lipsync["frames_left"] == sidecar["frames"]
    assert lipsync["frames_changed"] >= 0.7 * sidecar["frames"]  # transitions speak too
    heard = sidecar["speech"]  # no transcript was given: the speech was recognised and captioned
    assert (heard["transcript"]["source"], heard["transcript"]["status"], heard["captions"]) == \
           ("recognition", "ok", "video.vtt")
    (reference,) = heard["references"]  # what ingest heard in the reference, kept in its perception artifact
    assert reference["status"] in ("ok", "no_speech", "low_confidence") and reference["language"]
    captions = Path(result.captions_uri).read_text()
    assert captions.startswith("WEBVTT") and captions.count(" --> ") == heard["cues"] > 0
    again = reenact(mesh, speaker["audio"], references=[female_video], request_id="e2e-first")  # same request
    assert again.name == speaker["operation"].name and again.done
    orchestrator = stubs(mesh)[0]
    assert orchestrator.GetSpeaker(pb.GetSpeakerRequest(name=result.speaker), timeout=10).graph_nodes > 0
    assert result.speaker in [s.name for s in orchestrator.ListSpeakers(pb.ListSpeakersRequest(), timeout=10).speakers]
    metrics = {m.name: m.metrics_port for m in mesh.members()}
    scraped = urllib.request.urlopen(f"http://127.0.0.1:{metrics['orchestrator']}/metrics", timeout=10).read().decode()
    assert 'tango_orchestrator_stage_seconds_count{stage="render"}' in scraped
    assert 'tango_orchestrator_jobs_total{kind="reenactment",state="SUCCEEDED"}' in scraped
    triton = urllib.request.urlopen(f"http://127.0.0.1:{metrics['triton']}/metrics", timeout=10).read().decode()
    assert "nv_inference_request_success" in triton
    downloaded = b"".join(r.chunk for r in orchestrator.DownloadMedia(pb.DownloadMediaRequest(uri=result.video_uri), timeout=60))
    assert downloaded == Path(result.video_uri).read_bytes()


def test_bad_requests(mesh, speaker, inputs_root, media_dir):
    orchestrator, operations = stubs(mesh)
    name = speaker["result"].speaker
    cases = [
        (pb.CreateReenactmentRequest(speaker=name), grpc.StatusCode.INVALID_ARGUMENT, "MISSING_AUDIO"),
        (pb.CreateReenactmentRequest(speaker="speakers/" + "0" * 64, audio_uri=str(speaker["audio"])),
         grpc.StatusCode.NOT_FOUND, "SPEAKER_NOT_FOUND"),
        (pb.CreateReenactmentRequest(speaker=name, audio_uri="/etc/passwd"), grpc.StatusCode.PERMISSION_DENIED,
         "URI_NOT_ALLOWED"),
        (pb.CreateReenactmentRequest(speaker=name, audio_uri=str(speaker["audio"]),
                                     options=pb.ReenactmentOptions(mode=99)),
         grpc.StatusCode.INVALID_ARGUMENT, "UNKNOWN_ENUM_VALUE"),  # refused on arrival, not inside the job
    ]
    for request, code, reason in cases:
        with pytest.raises(grpc.RpcError) as caught:
            orchestrator.CreateReenactment(request, timeout=10)
        assert caught.value.code() == code
    empty, too_long = inputs_root / "empty.txt", inputs_root / "too_long.srt"
    empty.write_text("  \n")
    too_long.write_text("1\n00:00:01,000 --> 00:01:40,000\nwords far past the end of the speech\n")
    for transcript, reason in ((empty, "EMPTY_TRANSCRIPT"), (too_long, "TRANSCRIPT_TOO_LONG")):
        request = pb.CreateReenactmentRequest(speaker=name, audio_uri=str(speaker["audio"]), transcript_uri=str(transcript))
        failed = wait(mesh, orchestrator.CreateReenactment(request, timeout=30).name)
        assert error_reason(failed.error) == reason
    silent = inputs_root / "silence.wav"
    sf.write(str(silent), np.zeros(16000 * 3, dtype=np.float32), 16000)
    failed = wait(mesh, reenact(mesh, silent, speaker=name).name)
    assert failed.error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0] and error_reason(failed.error) == "SILENT_AUDIO"
    with pytest.raises(grpc.RpcError) as caught:
        operations.GetOperation(operations_pb2.GetOperationRequest(name="operations/unknown"), timeout=10)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_script_cues_steer_the_path(mesh, speaker, tmp_path):
    """A producer tags a gesture and a span never to show, then pins the gesture to a word, stresses two words and
    rests the speaker: the path honours each and the sidecar lists them; cues that cannot be honoured are refused."""
    orchestrator, _ = stubs(mesh)
    name = speaker["result"].speaker
    span = types_pb2.ReferenceRange(reference=0, start_s=2.0, end_s=3.0)
    orchestrator.TagGesture(pb.TagGestureRequest(speaker=name, tag=pb.GestureTag(name="count", span=span)), timeout=10)
    avoided = types_pb2.ReferenceRange(reference=0, start_s=7.0, end_s=7.5)
    orchestrator.TagGesture(pb.TagGestureRequest(speaker=name, tag=pb.GestureTag(name="drink", span=avoided,
                                                                                   avoid=True)), timeout=10)
    tags = orchestrator.GetSpeaker(pb.GetSpeakerRequest(name=name), timeout=10).tags
    assert [(t.name, t.avoid) for t in tags] == [("count", False), ("drink", True)]
    words = json.loads(Path(speaker["result"].sidecar_uri).read_text())["speech"]["transcript"]["words"]
    late = [w for w in words if 3.0 < w["start_s"] < 11.0]
    first, second, third = late[0], late[len(late) // 2], late[-1]
    cue_file = tmp_path / "cues.json"
    cue_file.write_text(json.dumps({
        "emphasis": [{"word": second["word"]}, {"time_s": 1.0}],
        "gesture": [{"word": third["word"], "name": "count"}],
        "rest": [{"start_s": first["start_s"], "end_s": first["start_s"] + 1.0}],
        "avoid": [{"start_s": 8.0, "end_s": 8.3}]}))
    request = pb.CreateReenactmentRequest(request_id=uuid.uuid4().hex, speaker=name, audio_uri=str(speaker["audio"]),
                                          cues=read_cue_file(cue_file))
    done = wait(mesh, orchestrator.CreateReenactment(request, timeout=30).name)
    assert not done.HasField("error"), done.error.message
    result = pb.Reenactment()
    done.response.Unpack(result)
    outcomes = {(c.kind, c.label): c for c in result.cues}
    assert [c.kind for c in result.cues] == ["emphasis", "emphasis", "gesture", "rest", "avoid", "avoid"]
    assert all(c.honoured for c in result.cues), [(c.kind, c.label, c.measure) for c in result.cues]
    gesture = outcomes[("gesture", f"count @ {third['word']}")]
    assert abs(gesture.placed_s - third["start_s"]) <= 4 / 30 + 0.034
    sidecar = json.loads(Path(result.sidecar_uri).read_text())
    assert [c["kind"] for c in sidecar["cues"]] == [c.kind for c in result.cues]
    refused = [
        ({"gesture": [{"word": third["word"], "name": "wave"}]}, "CUE_UNKNOWN_GESTURE"),
        ({"rest": [{"start_s": 3.0, "end_s": 2.0}]}, "BAD_CUE"),
        ({"gesture": [{"word": third["word"], "name": "drink"}]}, "CUE_UNKNOWN_GESTURE"),
    ]
    for cues, reason in refused:
        request = pb.CreateReenactmentRequest(speaker=name, audio_uri=str(speaker["audio"]), cues=cues_of(cues))
        with pytest.raises(grpc.RpcError) as caught:
            orchestrator.CreateReenactment(request, timeout=10)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error_reason(rpc_status.from_call(caught.value)) == reason
    unheard = pb.CreateReenactmentRequest(speaker=name, audio_uri=str(speaker["audio"]),
                                          cues=cues_of({"emphasis": [{"word": "hippopotamus"}]}))
    failed = wait(mesh, orchestrator.CreateReenactment(unheard, timeout=30).name)
    assert error_reason(failed.error) == "CUE_WORD_NOT_FOUND"
    with pytest.raises(grpc.RpcError) as caught:
        orchestrator.TagGesture(pb.TagGestureRequest(speaker=name, tag=pb.GestureTag(name="Bad Name", span=span)),
                                timeout=10)
    assert error_reason(rpc_status.from_call(caught.value)) == "BAD_TAG_NAME"


def test_the_mesh_admits_only_its_token_over_its_tls(mesh, speaker):
    """Secure by default: a call over the mesh's TLS without the development token, or with another, is
    UNAUTHENTICATED; health stays open (probes); the token file is private to its owner. Every member, Triton
    included, refuses plaintext and clients of another CA."""
    raw = open_channel(mesh.endpoint("orchestrator"), mesh.tls_files())
    request = operations_pb2.GetOperationRequest(name=speaker["operation"].name)
    for metadata, reason in ((None, "TOKEN_MISSING"), ([("authorization", "Bearer tango_forged")], "TOKEN_INVALID")):
        with pytest.raises(grpc.RpcError) as caught:
            operations_pb2_grpc.OperationsStub(raw).GetOperation(request, metadata=metadata, timeout=10)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert error_reason(rpc_status.from_call(caught.value)) == reason
    assert grpc_serving(mesh.endpoint("orchestrator"), tls=mesh.tls_files())
    assert stubs(mesh)[1].GetOperation(request, timeout=10).done
    assert (mesh.home / TOKEN_FILE).stat().st_mode & 0o077 == 0
    strangers = make_mesh_pki(mesh.home.parent / "strangers")
    for member in mesh.members():
        probe = triton_ready if member.is_triton else grpc_serving
        assert probe(member.address, tls=mesh.tls_files()), member.name
        assert not probe(member.address, tls=None) and not probe(member.address, tls=strangers), member.name


@pytest.fixture(scope="module")
def intruder(mesh):
    """The stubs of a second tenant, whose key is added to the mesh's keys file (re-read without a restart)."""
    key = new_api_key()
    keys = mesh.home / "auth" / "api_keys"
    keys.write_text(keys.read_text() + api_key_line("intruder", key) + "\n")
    channel = bearer_channel(open_channel(mesh.endpoint("orchestrator"), mesh.tls_files()), key)
    return pb_grpc.OrchestratorServiceStub(channel), operations_pb2_grpc.OperationsStub(channel)


def test_tenants_are_kept_apart_on_every_rpc(mesh, speaker, media_dir, intruder):
    """A second tenant names the first tenant's speaker, operation and media on every RPC: each is NOT_FOUND,
    as if it never existed; its lists are empty; what it makes itself is its own."""
    orchestrator, operations = intruder
    theirs, result = speaker["operation"].name, speaker["result"]
    audio = str(media_dir / "audio" / "s2g_001.wav")
    refused = {
        "GetSpeaker": lambda: orchestrator.GetSpeaker(pb.GetSpeakerRequest(name=result.speaker), timeout=10),
        "CreateReenactment": lambda: orchestrator.CreateReenactment(
            pb.CreateReenactmentRequest(speaker=result.speaker, audio_uri=audio), timeout=10),
        "CreateReenactment(their video)": lambda: orchestrator.CreateReenactment(
            pb.CreateReenactmentRequest(reference_uris=[result.video_uri], audio_uri=audio), timeout=10),
        "CreateSpeaker(their video)": lambda: orchestrator.CreateSpeaker(
            pb.CreateSpeakerRequest(reference_uris=[result.video_uri]), timeout=10),
        "DownloadMedia": lambda: list(orchestrator.DownloadMedia(pb.DownloadMediaRequest(uri=result.video_uri),
                                                                 timeout=10)),
        "WatchOperation": lambda: list(orchestrator.WatchOperation(pb.WatchOperationRequest(name=theirs), timeout=10)),
        "StreamReenactment": lambda: list(orchestrator.StreamReenactment(iter([pb.StreamReenactmentRequest(
            header=pb.StreamReenactmentHeader(speaker=result.speaker, audio_format=types_pb2.AudioFormat(
                sample_rate_hz=16000, channels=1)))]), timeout=10)),
        "GetOperation": lambda: operations.GetOperation(operations_pb2.GetOperationRequest(name=theirs), timeout=10),
        "WaitOperation": lambda: operations.WaitOperation(operations_pb2.WaitOperationRequest(name=theirs), timeout=10),
        "CancelOperation": lambda: operations.CancelOperation(operations_pb2.CancelOperationRequest(name=theirs),
                                                              timeout=10),
        "DeleteOperation": lambda: operations.DeleteOperation(operations_pb2.DeleteOperationRequest(name=theirs),
                                                              timeout=10),
    }
    for rpc, call in refused.items():
        with pytest.raises(grpc.RpcError) as caught:
            call()
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND, (rpc, caught.value.details())
    assert not orchestrator.ListSpeakers(pb.ListSpeakersRequest(), timeout=10).speakers
    assert not operations.ListOperations(operations_pb2.ListOperationsRequest(), timeout=10).operations
    # the owner still sees all of it
    assert stubs(mesh)[1].GetOperation(operations_pb2.GetOperationRequest(name=theirs), timeout=10).done
    # the intruder's own upload is its own, and the same request id as the owner's makes a job of its own
    upload = orchestrator.UploadMedia(iter([pb.UploadMediaRequest(filename="speech.wav"),
                                            pb.UploadMediaRequest(chunk=Path(audio).read_bytes())]), timeout=60)
    assert b"".join(r.chunk for r in orchestrator.DownloadMedia(pb.DownloadMediaRequest(uri=upload.uri), timeout=60))
    with pytest.raises(grpc.RpcError) as caught:
        list(stubs(mesh)[0].DownloadMedia(pb.DownloadMediaRequest(uri=upload.uri), timeout=10))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    mine = orchestrator.CreateReenactment(pb.CreateReenactmentRequest(  # the owner's request id, another request
        request_id="e2e-first", reference_uris=["/nonexistent/clip.mp4"], audio_uri=audio), timeout=10)
    assert mine.name != theirs
    operations.CancelOperation(operations_pb2.CancelOperationRequest(name=mine.name), timeout=10)


def test_the_same_footage_gives_each_tenant_artifacts_of_its_own(mesh, media_dir, intruder):
    """Two tenants ingest the same clip: every artifact of the second (perception, graph, its AuMoCLIP
    checkpoint, node embeddings, the speaker itself) has a path of its own, so the content-hash cache never
    hands it the first's (nor tells it, by a fast answer, that the first has this footage). Ingested again by
    the same tenant, it is found."""
    clip = str(media_dir / "video" / "tango_speaker12.mp4")  # 5 s: a speaker needs 4 s of speech
    made = {}
    for tenant, (orchestrator, operations) in (("local", stubs(mesh)), ("intruder", intruder), ("again", stubs(mesh))):
        operation = orchestrator.CreateSpeaker(pb.CreateSpeakerRequest(
            request_id=f"same-footage-{tenant}", reference_uris=[clip], options=SPEAKER_OPTIONS), timeout=30)
        done = wait(mesh, operation.name, operations=operations)
        assert not done.HasField("error"), done.error.message
        result = pb.Speaker()
        done.response.Unpack(result)
        made[tenant] = {"speaker": result.name, "perception": result.perceptions[0].uri, "graph": result.graph.uri,
                        "checkpoint": result.checkpoint, "embeddings": result.embeddings.uri}
    assert all(made["local"][k] != made["intruder"][k] for k in made["local"]), made
    assert made["again"] == made["local"]


def test_cli_uploads_files_the_mesh_may_not_read(mesh, speaker, media_dir, tmp_path, monkeypatch, capsys):
    """`tango reenact` with speech outside the mesh's allowed roots: refused by path, so the CLI uploads it.
    Its transitions are asked of ACInterp (`--interpolator interp_acinterp`), which the mesh serves (a random
    walk, so that there are jumps to draw)."""
    from tango.cli.main import main as tango_main

    outside = tmp_path / "speech.wav"  # tmp_path is not one of the mesh's allowed roots
    outside.write_bytes((media_dir / "audio" / "sadtalker_RD_Radio31_000.wav").read_bytes())
    monkeypatch.setenv("TANGO_ORCHESTRATOR_ENDPOINT", mesh.endpoint("orchestrator"))
    monkeypatch.setenv("TANGO_TOKEN_FILE", str(mesh.home / TOKEN_FILE))  # the caller holds the mesh's token
    for key, value in mesh.tls_files().environment().items():  # and a certificate of its CA
        monkeypatch.setenv(key, value)
    output = tmp_path / "out" / "cli.mp4"
    status = tango_main(["reenact", "--speaker", speaker["result"].speaker, "--audio", str(outside),
                         "-o", str(output), "--mode", "random", "--interpolator", "interp_acinterp", "--json"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "uploading" in captured.err
    summary = json.loads(captured.out)
    assert summary["speaker"] == speaker["result"].speaker and summary["steps"] > 0
    probe = probe_output(output)
    assert (probe["video_codec"], probe["audio_codec"]) == ("h264", "aac")
    assert abs(probe["video_duration_s"] - sf.info(str(outside)).duration) <= 1.0 / probe["fps"] + 1e-3
    sidecar = json.loads(output.with_suffix(".json").read_text())
    assert sidecar["frames"] == probe["frames"]
    assert summary["captions"] == str(output.with_suffix(".vtt")) and output.with_suffix(".vtt").is_file()
    transitions = sidecar["transitions"]
    assert transitions["model"] == "interp_acinterp" and transitions["windows"] == len(sidecar["windows"]) > 0
    assert transitions["fallback_windows"] < transitions["windows"]  # ACInterp drew windows ...
    if transitions["fallback_windows"]:  # ... and the flow only those too long for its motion module
        assert "BAD_TRANSITION_INPUT" in transitions["fallback_reason"]


def test_live_stream(mesh, speaker, media_dir, inputs_root, rtmp_server):
    check_live_stream(mesh, speaker["result"].speaker, media_dir, inputs_root, rtmp_server)


def test_live_picture_matches_offline_render(mesh, speaker, media_dir):
    check_live_matches_offline_render(mesh, speaker["result"].speaker, media_dir)


def test_live_bad_input(mesh, speaker, media_dir):
    check_live_bad_input(mesh, speaker["result"].speaker, media_dir)


def test_live_capacity_idle_and_close(mesh, speaker, media_dir):
    check_live_capacity_idle_and_close(mesh, speaker["result"].speaker, media_dir)


def test_stage_service_killed_mid_job_retries_and_completes(mesh, speaker, media_dir):
    """The job retries a stage that is down; the mesh's supervisor brings the stage back (paused at first, so
    that the stage stays down long enough for a retry)."""
    supervisor = mesh._state()["supervisor"]["pid"]
    os.killpg(supervisor, signal.SIGSTOP)
    try:
        mesh.kill("retrieval")
        operation = reenact(mesh, media_dir / "audio" / "sadtalker_RD_Radio31_000.wav",
                            speaker=speaker["result"].speaker)
        wait_for_stage(mesh, operation.name, "retrieval", min_attempts=2)
    finally:
        os.killpg(supervisor, signal.SIGCONT)  # it restarts retrieval
    done = wait(mesh, operation.name)
    assert not done.HasField("error"), done.error.message
    timing = next(t for t in metadata(done).timings if t.stage == "retrieval")
    assert timing.attempts >= 2
    assert next(m for m in mesh.status() if m["name"] == "retrieval")["restarts"] >= 1


def test_orchestrator_killed_mid_job_resumes(mesh, speaker, media_dir):
    operation = reenact(mesh, media_dir / "audio" / "talkshow_1st-page.wav", speaker=speaker["result"].speaker)
    wait_for_stage(mesh, operation.name, "render")
    mesh.kill("orchestrator")
    mesh.up(log=lambda _line: None)
    done = wait(mesh, operation.name)
    assert not done.HasField("error"), done.error.message
    result = pb.Reenactment()
    done.response.Unpack(result)
    assert probe_output(result.video_uri)["audio_codec"] == "aac"


def test_cancel_and_bound_on_jobs_in_flight(mesh, speaker, media_dir):
    name = speaker["result"].speaker
    first = reenact(mesh, media_dir / "audio" / "s2g_002.wav", speaker=name)
    second = reenact(mesh, media_dir / "audio" / "s2g_003.wav", speaker=name)
    with pytest.raises(grpc.RpcError) as caught:
        reenact(mesh, media_dir / "audio" / "s2g_001.wav", speaker=name)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    operations = stubs(mesh)[1]
    for operation in (second, first):
        operations.CancelOperation(operations_pb2.CancelOperationRequest(name=operation.name), timeout=10)
    for operation in (first, second):
        done = wait(mesh, operation.name, timeout_s=120)
        assert metadata(done).state in (pb.JOB_STATE_CANCELLED, pb.JOB_STATE_SUCCEEDED)
    assert metadata(wait(mesh, second.name)).state == pb.JOB_STATE_CANCELLED
