"""Cue files and cue checks: a bad cue is refused with a clear reason before any job starts."""
from __future__ import annotations

import pytest

from tango.cli.cue_file import cues_of, read_cue_file
from tango.orchestrator.request_checks import check_cue_words, check_cues
from tango.orchestrator.reenact_pipeline import tagged_cues
from tango.orchestrator.v1 import orchestrator_service_pb2 as pb
from tango.runtime.errors import InvalidArgument
from tango.type.v1 import types_pb2


def test_a_cue_file_reads_into_script_cues(tmp_path):
    path = tmp_path / "cues.json"
    path.write_text('{"emphasis": [{"word": "three", "occurrence": 2}, {"time_s": 4.5}],'
                    ' "gesture": [{"word": "reasons", "name": "count"}],'
                    ' "rest": [{"start_s": 8, "end_s": 10.5}], "avoid": [{"start_s": 1, "end_s": 2, "reference": 1}]}')
    cues = read_cue_file(path)
    assert (cues.emphasis[0].word, cues.emphasis[0].occurrence, cues.emphasis[1].time_s) == ("three", 2, 4.5)
    assert (cues.gesture[0].name, cues.gesture[0].at.word) == ("count", "reasons")
    assert (cues.rest[0].end_s, cues.avoid[0].reference) == (10.5, 1)
    check_cues(cues)


@pytest.mark.parametrize("text", ['{"emphasis": [{"wrd": "x"}]}', '{"pause": []}', '[1]', '{"rest": [{"start_s": "a"}]}',
                                  '{"gesture": ["x"]}', "{not json"])
def test_a_bad_cue_file_is_refused(tmp_path, text):
    path = tmp_path / "cues.json"
    path.write_text(text)
    with pytest.raises(InvalidArgument) as error:
        read_cue_file(path)
    assert error.value.reason == "BAD_CUE_FILE"


@pytest.mark.parametrize("document", [
    {"emphasis": [{"time_s": -1}]},
    {"emphasis": [{"occurrence": 2}]},
    {"gesture": [{"word": "x"}]},
    {"rest": [{"start_s": 3, "end_s": 3}]},
    {"avoid": [{"start_s": 0, "end_s": 1, "reference": -1}]},
])
def test_cues_that_name_no_place_are_refused(document):
    with pytest.raises(InvalidArgument) as error:
        check_cues(cues_of(document))
    assert error.value.reason == "BAD_CUE"


def test_cue_words_must_occur_in_the_given_transcript():
    words = ["here", "are", "three", "reasons", "and", "three", "more"]
    check_cue_words(cues_of({"emphasis": [{"word": "Three,", "occurrence": 2}]}), words)
    with pytest.raises(InvalidArgument) as error:
        check_cue_words(cues_of({"gesture": [{"word": "three", "occurrence": 3, "name": "count"}]}), words)
    assert error.value.reason == "CUE_WORD_NOT_FOUND"


def test_gestures_take_the_speakers_tagged_spans_and_its_avoid_tags_are_added():
    span = types_pb2.ReferenceRange(reference=0, start_s=2.0, end_s=3.0)
    avoid = types_pb2.ReferenceRange(reference=0, start_s=6.0, end_s=8.0)
    speaker = pb.Speaker(name="speakers/x", tags=[pb.GestureTag(name="count", span=span),
                                                  pb.GestureTag(name="drink", span=avoid, avoid=True)])
    resolved = tagged_cues(cues_of({"gesture": [{"word": "three", "name": "count"}]}), speaker)
    assert resolved.gesture[0].span == span and list(resolved.avoid) == [avoid]
    for name in ("wave", "drink"):
        with pytest.raises(InvalidArgument) as error:
            tagged_cues(cues_of({"gesture": [{"word": "three", "name": name}]}), speaker)
        assert error.value.reason == "CUE_UNKNOWN_GESTURE"
