"""Given transcripts: plain text and the timed formats, and the checks that refuse them."""
from __future__ import annotations

from pathlib import Path

import pytest

from tango.runtime.errors import InvalidArgument
from tango.speech.quality import SpeechSettings
from tango.speech.transcript_files import GivenTranscript, check_fits, read_transcript

SRT = "1\n00:00:01,000 --> 00:00:02,000\nHello, world!\n\n2\n00:00:02,500 --> 00:00:03,100\n<i>again</i>\n"
VTT = "WEBVTT\n\n00:01.000 --> 00:02.000\nHello, world!\n\n00:00:02.500 --> 00:00:03.100\nagain\n"
TEXTGRID = '''File type = "ooTextFile"
Object class = "TextGrid"
xmin = 0
xmax = 3.1
tiers? <exists>
size = 1
item []:
    item [1]:
        class = "IntervalTier"
        name = "words"
        xmin = 0
        xmax = 3.1
        intervals: size = 4
        intervals [1]:
            xmin = 0
            xmax = 1
            text = ""
        intervals [2]:
            xmin = 1
            xmax = 1.5
            text = "hello"
        intervals [3]:
            xmin = 1.5
            xmax = 2
            text = "world"
        intervals [4]:
            xmin = 2.5
            xmax = 3.1
            text = "again"
'''


@pytest.mark.parametrize("name, content", [("t.txt", "Hello, world!\nAgain."), ("t.srt", SRT), ("t.vtt", VTT),
                                           ("t.TextGrid", TEXTGRID)])
def test_every_format_gives_the_same_words(tmp_path: Path, name: str, content: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    given = read_transcript(path)
    assert given.words == ["hello", "world", "again"]
    assert (given.end_s is None) == name.endswith(".txt")
    if given.end_s is not None:
        assert given.end_s == pytest.approx(3.1)


def test_unreadable_and_unknown_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe\x00bad")
    for path in (tmp_path / "bad.txt", tmp_path / "missing.txt", tmp_path / "t.docx"):
        with pytest.raises(InvalidArgument) as caught:
            read_transcript(path)
        assert caught.value.reason == "BAD_TRANSCRIPT"


def test_transcripts_that_cannot_belong_to_the_audio_are_refused(tmp_path: Path) -> None:
    settings = SpeechSettings()
    assert check_fits(GivenTranscript("hello world"), 1.0, settings) == ["hello", "world"]
    cases = [(GivenTranscript(" ... \n "), 10.0, "EMPTY_TRANSCRIPT"),
             (GivenTranscript("word " * 81), 10.0, "TRANSCRIPT_TOO_LONG"),  # > 8 words per second
             (GivenTranscript("word " * 2), 0.0, "TRANSCRIPT_TOO_LONG")]
    (tmp_path / "t.srt").write_text(SRT, encoding="utf-8")
    cases.append((read_transcript(tmp_path / "t.srt"), 2.0, "TRANSCRIPT_TOO_LONG"))  # ends at 3.1 s
    for given, duration_s, reason in cases:
        with pytest.raises(InvalidArgument) as caught:
            check_fits(given, duration_s, settings)
        assert caught.value.reason == reason, caught.value.message
    assert check_fits(read_transcript(tmp_path / "t.srt"), 2.2, settings)  # within max_overrun_s
