"""SpeechTranscript: its invariants and its JSON document."""
from __future__ import annotations

import json

import pytest

from tango.aumoclip.transcript import Word
from tango.speech.phones import PhoneSegment
from tango.runtime.errors import InvalidArgument
from tango.speech.result import LANGUAGE, UNDETERMINED, SpeechTranscript, heard, not_heard

WORDS = (Word("hello", 0.5, 0.9), Word("world", 0.95, 1.4))


def test_heard_transcript_round_trips_through_json() -> None:
    result = heard(WORDS, source="alignment", confidence=1.0, acoustic_fit=None, duration_s=2.0,
                   phones=(PhoneSegment("HH", 0.5, 0.6), PhoneSegment("SIL", 0.6, 0.7)))
    document = json.loads(result.to_json())
    assert document["text"] == "hello world" and document["language"] == LANGUAGE == "en-US"
    assert document["words"] == [{"word": "hello", "start_s": 0.5, "end_s": 0.9},
                                 {"word": "world", "start_s": 0.95, "end_s": 1.4}]
    assert document["status"] == "ok" and document["acoustic_fit"] is None and len(document["phones"]) == 2
    assert SpeechTranscript.from_json(result.to_json()) == result
    assert result.usable


def test_phones_appear_only_when_asked_for() -> None:
    result = heard(WORDS, source="recognition", confidence=0.6, acoustic_fit=-3.2, duration_s=2.0)
    assert "phones" not in result.to_dict()
    assert SpeechTranscript.from_dict(result.to_dict()).phones is None


def test_a_transcript_that_is_not_ok_carries_no_words() -> None:
    result = not_heard("low_confidence", "confidence 0.30 < 0.36", confidence=0.3, acoustic_fit=-4.5)
    assert not result.usable and result.words == () and result.text == ""
    assert result.language == UNDETERMINED
    assert SpeechTranscript.from_json(result.to_json()) == result
    with pytest.raises(InvalidArgument):
        SpeechTranscript("hello world", UNDETERMINED, WORDS, "low_confidence")
    with pytest.raises(InvalidArgument):
        SpeechTranscript("", UNDETERMINED, (), "garbage")


@pytest.mark.parametrize("text", ["[]", "{", '{"text": "a"}', '{"text": "a", "language": "en-US", "words": [{}]}'])
def test_bad_documents_are_refused(text: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        SpeechTranscript.from_json(text)
    assert caught.value.reason == "BAD_TRANSCRIPT"
