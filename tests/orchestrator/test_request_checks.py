"""Options no stage would accept are refused when the request arrives, each with its reason."""
from __future__ import annotations

import pytest

from tango.orchestrator.request_checks import (check_reenactment_options, check_references, check_speaker_options,
                                               check_uris)
from tango.orchestrator.v1 import orchestrator_service_pb2 as pb
from tango.runtime import errors


@pytest.mark.parametrize("options, reason", [
    (pb.ReenactmentOptions(mode=99), "UNKNOWN_ENUM_VALUE"),
    (pb.ReenactmentOptions(lip_sync=42), "UNKNOWN_ENUM_VALUE"),
    (pb.ReenactmentOptions(lip_sync_source=-3), "UNKNOWN_ENUM_VALUE"),
    (pb.ReenactmentOptions(transition_frames=-1), "BAD_TRANSITION_FRAMES"),
    (pb.ReenactmentOptions(transition_frames=10_000), "BAD_TRANSITION_FRAMES"),
    (pb.ReenactmentOptions(max_height=-5), "BAD_MAX_HEIGHT"),
    (pb.ReenactmentOptions(max_height=100_000), "BAD_MAX_HEIGHT"),
    (pb.ReenactmentOptions(jump_penalty=float("nan")), "BAD_JUMP_PENALTY"),
    (pb.ReenactmentOptions(jump_penalty=-1.0), "BAD_JUMP_PENALTY"),
])
def test_bad_reenactment_options_are_refused(options, reason):
    with pytest.raises(errors.InvalidArgument) as caught:
        check_reenactment_options(options)
    assert caught.value.reason == reason


def test_bad_speaker_options_references_and_uris_are_refused():
    for options, reason in ((pb.SpeakerOptions(max_seconds=float("nan")), "BAD_MAX_SECONDS"),
                            (pb.SpeakerOptions(train_minutes=float("inf")), "BAD_TRAIN_MINUTES")):
        with pytest.raises(errors.InvalidArgument) as caught:
            check_speaker_options(options)
        assert caught.value.reason == reason
    with pytest.raises(errors.InvalidArgument) as caught:
        check_references(["video.mp4"] * 20_000)
    assert caught.value.reason == "TOO_MANY_REFERENCES"
    with pytest.raises(errors.InvalidArgument) as caught:
        check_uris("a.wav", "x" * 5000)
    assert caught.value.reason == "URI_TOO_LONG" and len(caught.value.message) < 200


def test_the_defaults_and_usual_values_pass():
    check_reenactment_options(pb.ReenactmentOptions())
    check_reenactment_options(pb.ReenactmentOptions(mode=pb.RetrievalMode.Value(pb.RetrievalMode.keys()[-1]),
                                                    transition_frames=16, max_height=1080, jump_penalty=1.0))
    check_speaker_options(pb.SpeakerOptions(max_seconds=10.0, train_minutes=0.25))
    check_references(["a.mp4", "b.mp4"])
