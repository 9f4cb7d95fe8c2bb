"""Hostile inputs at the orchestrator's door, tried as a hostile caller would: each gets a clear status with an
ErrorInfo reason (never INTERNAL or UNKNOWN, never a traceback), and the service answers the next call. The
table of what each case got is printed (`pytest -s`)."""
from __future__ import annotations

import math
import os
import tempfile
import time
from pathlib import Path

import grpc
import pytest
from google.longrunning import operations_pb2, operations_pb2_grpc
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from tango.orchestrator.v1 import orchestrator_service_pb2 as pb
from tango.orchestrator.v1 import orchestrator_service_pb2_grpc as pb_grpc
from tango.runtime.interceptor import MAX_MESSAGE_CHARS
from tango.runtime.tokens import new_api_key
from tango.type.v1 import types_pb2

LONG = "x" * 5000


def _cases(door) -> dict[str, tuple]:
    """name -> (callable(channel) making one call, the channel kind: "auth" | "raw")."""
    inputs = door["inputs"]
    (inputs / "notes.txt").write_text("not audio")
    os.symlink("/etc/passwd", inputs / "passwd.wav")
    speech = str(inputs / "notes.txt")

    def orchestrator(channel):
        return pb_grpc.OrchestratorServiceStub(channel)

    def operations(channel):
        return operations_pb2_grpc.OperationsStub(channel)

    def reenact(**fields):
        return lambda ch: orchestrator(ch).CreateReenactment(pb.CreateReenactmentRequest(**fields), timeout=10)

    def speaker(**fields):
        return lambda ch: orchestrator(ch).CreateSpeaker(pb.CreateSpeakerRequest(**fields), timeout=10)

    def options(**fields):
        return reenact(speaker="speakers/" + "0" * 64, audio_uri=speech, options=pb.ReenactmentOptions(**fields))

    def upload(*messages):
        return lambda ch: orchestrator(ch).UploadMedia(iter(messages), timeout=10)

    def trickle(pause_s: float, chunks: int):
        """An upload that names its file, then sends a byte every `pause_s` (the door allows 2 s of silence
        and 5 s in all)."""
        def messages():
            yield pb.UploadMediaRequest(filename="slow.mp4")
            for _ in range(chunks):
                time.sleep(pause_s)
                yield pb.UploadMediaRequest(chunk=b"x")
        return lambda ch: orchestrator(ch).UploadMedia(messages(), timeout=30)

    def live(*messages):
        return lambda ch: list(orchestrator(ch).StreamReenactment(iter(messages), timeout=10))

    def header(**fields):
        fields.setdefault("audio_format", types_pb2.AudioFormat(sample_rate_hz=16000, channels=1))
        return pb.StreamReenactmentRequest(header=pb.StreamReenactmentHeader(speaker="speakers/" + "0" * 64, **fields))

    def raw_bytes(method, payload):
        return lambda ch: ch.unary_unary(method)(payload, timeout=10)

    def with_metadata(metadata):
        return lambda ch: operations(ch).GetOperation(operations_pb2.GetOperationRequest(name="operations/x"),
                                                      metadata=metadata, timeout=10)

    auth, raw = "auth", "raw"
    return {
        "no token": (with_metadata(None), raw),
        "Basic credentials": (with_metadata([("authorization", "Basic dXNlcjpwYXNz")]), raw),
        "an unknown API key": (with_metadata([("authorization", f"Bearer {new_api_key()}")]), raw),
        "a JWT where none is configured": (with_metadata([("authorization", "Bearer eyJ.eyJ.sig")]), raw),
        "a 10 KB token": (with_metadata([("authorization", "Bearer " + "a" * 10000)]), raw),
        "two authorization headers": (with_metadata([("authorization", f"Bearer {door['key']}"),
                                                     ("authorization", "Bearer other")]), raw),
        "reenactment without audio": (reenact(speaker="speakers/" + "0" * 64), auth),
        "reenactment without speaker or references": (reenact(audio_uri=speech), auth),
        "audio /etc/passwd": (reenact(reference_uris=["/tmp/a.mp4"], audio_uri="/etc/passwd"), auth),
        "audio by ../ traversal": (reenact(reference_uris=["/tmp/a.mp4"],
                                           audio_uri=str(inputs / ".." / ".." / ".." / "etc" / "passwd")), auth),
        "audio symlink to /etc/passwd": (reenact(reference_uris=["/tmp/a.mp4"], audio_uri=str(inputs / "passwd.wav")), auth),
        "audio file:///etc/shadow": (reenact(reference_uris=["/tmp/a.mp4"], audio_uri="file:///etc/shadow"), auth),
        "audio over http://": (reenact(reference_uris=["/tmp/a.mp4"], audio_uri="http://169.254.169.254/x.wav"), auth),
        "audio that does not exist": (reenact(reference_uris=["/tmp/a.mp4"], audio_uri=str(inputs / "none.wav")), auth),
        "audio path of 5000 characters": (reenact(reference_uris=["/tmp/a.mp4"], audio_uri=LONG), auth),
        "audio with a NUL byte": (reenact(reference_uris=["/tmp/a.mp4"], audio_uri=str(inputs) + "/a\x00.wav"), auth),
        "speaker that does not exist": (reenact(speaker="speakers/" + "0" * 64, audio_uri=speech), auth),
        "speaker name malformed": (reenact(speaker="speakers/../../etc", audio_uri=speech), auth),
        "speaker name of 5000 characters": (reenact(speaker=LONG, audio_uri=speech), auth),
        "65 reference videos": (reenact(reference_uris=["/tmp/a.mp4"] * 65, audio_uri=speech), auth),
        "mode 99": (options(mode=99), auth),
        "lip_sync 77": (options(lip_sync=77), auth),
        "jump_penalty NaN": (options(jump_penalty=math.nan), auth),
        "jump_penalty -1": (options(jump_penalty=-1.0), auth),
        "jump_penalty infinite": (options(jump_penalty=math.inf), auth),
        "transition_frames 1000": (options(transition_frames=1000), auth),
        "max_height 100000": (options(max_height=100000), auth),
        "speaker without references": (speaker(), auth),
        "speaker max_seconds NaN": (speaker(reference_uris=["/tmp/a.mp4"],
                                            options=pb.SpeakerOptions(max_seconds=math.nan)), auth),
        "speaker train_minutes infinite": (speaker(reference_uris=["/tmp/a.mp4"],
                                                   options=pb.SpeakerOptions(train_minutes=math.inf)), auth),
        "speaker max_seconds -5": (speaker(reference_uris=["/tmp/a.mp4"],
                                           options=pb.SpeakerOptions(max_seconds=-5.0)), auth),
        "GetOperation unknown": (lambda ch: operations(ch).GetOperation(
            operations_pb2.GetOperationRequest(name="operations/unknown"), timeout=10), auth),
        "GetOperation name of 5000 characters": (lambda ch: operations(ch).GetOperation(
            operations_pb2.GetOperationRequest(name=LONG), timeout=10), auth),
        "GetOperation ../ name": (lambda ch: operations(ch).GetOperation(
            operations_pb2.GetOperationRequest(name="operations/../../jobs"), timeout=10), auth),
        "ListOperations negative page token": (lambda ch: operations(ch).ListOperations(
            operations_pb2.ListOperationsRequest(page_token="-1"), timeout=10), auth),
        "ListOperations page token not a number": (lambda ch: operations(ch).ListOperations(
            operations_pb2.ListOperationsRequest(page_token="'; DROP TABLE jobs;--"), timeout=10), auth),
        "ListOperations unknown filter": (lambda ch: operations(ch).ListOperations(
            operations_pb2.ListOperationsRequest(filter="owner='x' OR 1=1"), timeout=10), auth),
        "ListOperations filter of 5000 characters": (lambda ch: operations(ch).ListOperations(
            operations_pb2.ListOperationsRequest(filter=LONG), timeout=10), auth),
        "download of a path with a NUL byte": (lambda ch: list(orchestrator(ch).DownloadMedia(
            pb.DownloadMediaRequest(uri="/tmp/a\x00b.mp4"), timeout=10)), auth),
        "upload named _COMPLETE": (upload(pb.UploadMediaRequest(filename="_COMPLETE"), pb.UploadMediaRequest(chunk=b"x")),
                                   auth),
        "CancelOperation unknown": (lambda ch: operations(ch).CancelOperation(
            operations_pb2.CancelOperationRequest(name="operations/unknown"), timeout=10), auth),
        "DeleteOperation unknown": (lambda ch: operations(ch).DeleteOperation(
            operations_pb2.DeleteOperationRequest(name="operations/unknown"), timeout=10), auth),
        "WaitOperation unknown": (lambda ch: operations(ch).WaitOperation(
            operations_pb2.WaitOperationRequest(name="operations/unknown"), timeout=10), auth),
        "WatchOperation unknown": (lambda ch: list(orchestrator(ch).WatchOperation(
            pb.WatchOperationRequest(name="operations/unknown"), timeout=10)), auth),
        "GetSpeaker empty name": (lambda ch: orchestrator(ch).GetSpeaker(pb.GetSpeakerRequest(), timeout=10), auth),
        "ListSpeakers unknown page token": (lambda ch: orchestrator(ch).ListSpeakers(
            pb.ListSpeakersRequest(page_token="speakers/zz"), timeout=10), auth),
        "upload without a file name": (upload(pb.UploadMediaRequest(chunk=b"RIFF")), auth),
        "upload named .hidden": (upload(pb.UploadMediaRequest(filename=".hidden"), pb.UploadMediaRequest(chunk=b"x")), auth),
        "upload of nothing": (upload(pb.UploadMediaRequest(filename="speech.wav")), auth),
        "download /etc/passwd": (lambda ch: list(orchestrator(ch).DownloadMedia(
            pb.DownloadMediaRequest(uri="/etc/passwd"), timeout=10)), auth),
        "download of the job database": (lambda ch: list(orchestrator(ch).DownloadMedia(
            pb.DownloadMediaRequest(uri=str(door["inputs"].parent / "data" / "orchestrator.sqlite")), timeout=10)), auth),
        "download path of 5000 characters": (lambda ch: list(orchestrator(ch).DownloadMedia(
            pb.DownloadMediaRequest(uri=LONG), timeout=10)), auth),
        "live stream without a header": (live(pb.StreamReenactmentRequest(end_of_audio=True)), auth),
        "live stream at 44.1 kHz": (live(header(audio_format=types_pb2.AudioFormat(sample_rate_hz=44100, channels=1))), auth),
        "live stream of an unknown speaker": (live(header()), auth),
        "live stream lookahead NaN": (live(header(options=pb.LiveOptions(lookahead_s=math.nan))), auth),
        "garbage bytes as CreateReenactment": (raw_bytes("/tango.orchestrator.v1.OrchestratorService/CreateReenactment",
                                                         b"\x0a\x03\xff\xfe\xfd"), auth),
        "an upload that names its file and goes silent": (trickle(8.0, 1), auth),
        "an upload trickling a byte a second": (trickle(1.0, 20), auth),
        "garbage bytes as GetOperation": (raw_bytes("/google.longrunning.Operations/GetOperation", b"\xff" * 16), auth),
    }


def test_hostile_inputs_get_clear_statuses_and_the_service_keeps_serving(door):
    health = health_pb2_grpc.HealthStub(door["raw"])
    table = []
    for name, (call, kind) in _cases(door).items():
        with pytest.raises(grpc.RpcError) as caught:
            call(door["channel"] if kind == "auth" else door["raw"])
        error = caught.value
        info = error_details_pb2.ErrorInfo()
        status = rpc_status.from_call(error)
        assert status is not None and status.details and status.details[0].Unpack(info), (name, error.details())
        assert error.code() not in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN), (name, error.details())
        assert "Traceback" not in error.details() and len(error.details()) <= MAX_MESSAGE_CHARS + 3, name
        table.append((name, error.code().name, info.reason))
        assert health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == health_pb2.HealthCheckResponse.SERVING
    print("\n| # | hostile input | code | reason |\n|---|---|---|---|")
    for number, (name, code, reason) in enumerate(table, 1):
        print(f"| {number} | {name} | {code} | {reason} |")
    assert len(table) >= 40


def test_a_stalled_upload_leaves_no_spooled_part(door):
    spool = Path(tempfile.gettempdir())
    before = set(spool.glob("*.part"))
    stub = pb_grpc.OrchestratorServiceStub(door["channel"])

    def stalls():
        yield pb.UploadMediaRequest(filename="stalled.mp4")
        yield pb.UploadMediaRequest(chunk=b"x" * 1000)
        time.sleep(6)

    with pytest.raises(grpc.RpcError) as caught:
        stub.UploadMedia(stalls(), timeout=30)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED and "nothing sent" in caught.value.details()
    assert set(spool.glob("*.part")) - before == set()


def test_a_malformed_upload_message_is_refused_at_once(door):
    """A garbage message in an upload stream is MALFORMED_REQUEST as soon as it arrives, not an idle stream."""
    upload = door["channel"].stream_unary("/tango.orchestrator.v1.OrchestratorService/UploadMedia")
    with pytest.raises(grpc.RpcError) as caught:
        upload(iter([b"\x12j\x84\xfb"]), timeout=30)
    info = error_details_pb2.ErrorInfo()
    rpc_status.from_call(caught.value).details[0].Unpack(info)
    assert (caught.value.code(), info.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "MALFORMED_REQUEST")  # not _IDLE
