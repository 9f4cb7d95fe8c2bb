"""Captions: WebVTT cues of timed words, set as broadcast subtitles are (lines of at most 42 characters, two lines,
six seconds, a pause starts a new cue, no overlap), and written from real speech with its real transcript."""
from __future__ import annotations

import re
import numpy as np
import pytest

from tango.aumoclip.transcript import Word, load_transcript
from tango.media.audio import SPEECH_SAMPLE_RATE, load_audio
from tango.speech.captions import MAX_CUE_S, MAX_LINE_CHARS, caption_cues, webvtt, write_captions
from tango.speech.transcript_files import read_transcript

STAMP = r"(\d\d):(\d\d):(\d\d)\.(\d\d\d)"


def _words(text: str, start: float = 0.0, step: float = 0.3) -> list[Word]:
    return [Word(w, start + k * step, start + k * step + 0.25) for k, w in enumerate(text.split())]


def test_cues_break_at_pauses_lines_and_length_and_never_overlap():
    words = _words("one two three", 0.0) + _words("after a pause", 2.0) + \
        _words(" ".join(f"word{k}" for k in range(40)), 4.0)
    cues = caption_cues(words)
    assert cues[0].lines == ("one two three",) and cues[1].lines == ("after a pause",)
    for cue, following in zip(cues, cues[1:]):
        assert cue.end_s <= following.start_s and cue.end_s - cue.start_s <= MAX_CUE_S
    assert all(len(line) <= MAX_LINE_CHARS and 1 <= len(cue.lines) <= 2 for cue in cues for line in cue.lines)
    assert [w for cue in cues for line in cue.lines for w in line.split()] == [w.text for w in words]
    assert cues[0].end_s == pytest.approx(1.0)  # a short cue is held for a second where the next leaves room


def test_webvtt_is_well_formed_and_escapes_cue_text():
    text = webvtt(caption_cues([Word("<b>fish", 61.5, 62.0), Word("&", 62.1, 62.2), Word("chips-->", 62.3, 62.9)]),
                  note="test")
    blocks = text.strip().split("\n\n")
    assert blocks[0] == "WEBVTT" and blocks[1] == "NOTE test"
    number, timing, line = blocks[2].split("\n")
    assert number == "1" and re.fullmatch(f"{STAMP} --> {STAMP}", timing) and timing.startswith("00:01:01.500")
    assert line == "&lt;b&gt;fish &amp; chips--&gt;"


def test_captions_of_real_speech_with_its_transcript_follow_its_words(media_dir, tmp_path):
    recording = media_dir / "motion" / "2_scott_0_1_1.wav"
    grid = recording.with_suffix(".TextGrid")
    if not grid.is_file():
        pytest.skip("the BEAT2 TextGrid is not in the shared media")
    speech = load_audio(recording, SPEECH_SAMPLE_RATE)[: 20 * SPEECH_SAMPLE_RATE]  # the first 20 s
    truth = [w for w in load_transcript(grid) if w.end_s <= 19.5]
    given = tmp_path / "transcript.txt"
    given.write_text(" ".join(w.text for w in truth))
    entry = write_captions(tmp_path / "video.vtt", speech, read_transcript(given))
    assert entry["transcript"]["source"] == "alignment" and entry["captions"] == "video.vtt"
    text = (tmp_path / "video.vtt").read_text()
    assert "forced alignment" in text
    starts = [int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000
              for h, m, s, ms in re.findall(f"{STAMP} -->", text)]
    assert len(starts) == entry["cues"] > 1
    truth_starts = np.array([w.start_s for w in truth])
    assert max(np.min(np.abs(truth_starts - s)) for s in starts) < 0.1  # each cue starts on a word of the truth


def test_no_captions_where_no_words_are_heard(tmp_path):
    noise = np.random.default_rng(0).normal(0, 0.1, 5 * SPEECH_SAMPLE_RATE).astype(np.float32)
    entry = write_captions(tmp_path / "video.vtt", noise)
    assert entry["captions"] is None and entry["cues"] == 0 and entry["transcript"]["status"] != "ok"
    assert not (tmp_path / "video.vtt").exists()
