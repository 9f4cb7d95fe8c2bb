from __future__ import annotations

import json

import numpy as np
import pytest
from aumoclip_testkit import BEAT2_PREFIX, require_media

from tango.aumoclip.text_features import align_word_features
from tango.aumoclip.transcript import Word, load_transcript, parse_cues, parse_json_words
from tango.runtime.errors import InvalidArgument

SRT = """1
00:00:01,000 --> 00:00:02,000
hello world

2
00:00:02,500 --> 00:00:03,100
<i>again</i>
"""
VTT = """WEBVTT

NOTE a comment

00:01.000 --> 00:02.000 align:start
hello world

intro
00:00:02.500 --> 00:00:03.100
again
"""


def test_textgrid_of_the_shared_media():
    require_media()
    words = load_transcript(BEAT2_PREFIX.with_suffix(".TextGrid"))
    assert [w.text for w in words[:4]] == ["the", "first", "thing", "i"]
    assert (words[0].start_s, words[0].end_s) == (1.42, 1.52)
    assert len(words) > 100 and all(w.end_s > w.start_s for w in words)
    assert words[-1].end_s <= 64.1


@pytest.mark.parametrize("text", [SRT, VTT])
def test_cue_formats_split_cues_into_words(text):
    words = parse_cues(text)
    assert [w.text for w in words] == ["hello", "world", "again"]
    assert words[0] == Word("hello", 1.0, 1.5) and words[1] == Word("world", 1.5, 2.0)
    assert words[2].start_s == pytest.approx(2.5) and words[2].end_s == pytest.approx(3.1)


def test_json_words_and_file_dispatch(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps([{"word": "b", "start": 1.0, "end": 1.4}, {"word": "a", "start": 0.2, "end": 0.5}]))
    assert load_transcript(path) == [Word("a", 0.2, 0.5), Word("b", 1.0, 1.4)]
    assert parse_json_words(json.dumps({"words": [{"word": "x", "start": 0, "end": 1}]})) == [Word("x", 0.0, 1.0)]
    with pytest.raises(InvalidArgument):
        parse_json_words("[{\"word\": 1}]")
    with pytest.raises(InvalidArgument):
        load_transcript(tmp_path / "t.docx")


def test_alignment_fills_gaps_with_nearest_word():
    words = [Word("a", 0.1, 0.2), Word("b", 0.5, 0.6)]
    features = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    aligned = align_word_features(words, features, frames=30, fps=30)
    owner = aligned[:, 1]  # 1 where word b's feature sits
    assert owner[:10].sum() == 0  # before and inside a, up to midway to b: a's feature
    assert owner[12:].min() == 1  # closer to b, inside b and after it: b's feature
    assert np.all(np.abs(aligned).sum(1) == 1)  # no zero frame is left


def test_alignment_without_words_is_zero():
    assert not align_word_features([], np.zeros((0, 4), np.float32), 10, 30).any()
