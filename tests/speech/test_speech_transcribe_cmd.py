"""`tango transcribe AUDIO [--transcript FILE] --json` in-process, on the first 10 s of the BEAT2 recording."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from support import shared_media

from tango.aumoclip.transcript import Word
from tango.cli.main import main
from tango.media.audio import SPEECH_SAMPLE_RATE as RATE
from tango.media.audio import load_audio, write_wav
from tango.speech.scoring import score_words
from tango.speech.transcript_files import read_transcript

CLIP_S = 10.0


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("transcribe") / "clip.wav"
    write_wav(path, load_audio(shared_media("motion/2_scott_0_1_1.wav"), RATE)[: int(CLIP_S * RATE)])
    return path


def _run(capsys, *argv: str) -> tuple[int, dict | None, str]:
    code = main(["transcribe", *argv])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip().startswith("{") else None), err


def _srt_of_clip(path: Path) -> Path:
    """The TextGrid's words of the clip as SRT cues of about four words."""
    words = [w for w in read_transcript(shared_media("motion/2_scott_0_1_1.TextGrid")).timed_words if w.end_s <= CLIP_S]
    stamp = lambda s: f"00:00:{int(s):02d},{int(round(1000 * (s % 1))):03d}"  # noqa: E731 (ruff F/E9/BLE only)
    blocks = [f"{n + 1}\n{stamp(cue[0].start_s)} --> {stamp(cue[-1].end_s)}\n{' '.join(w.text for w in cue)}\n"
              for n, cue in enumerate(words[k:k + 4] for k in range(0, len(words), 4))]
    path.write_text("\n".join(blocks), encoding="utf-8")
    return path


def test_recognition_prints_the_document(capsys, clip: Path) -> None:
    code, document, err = _run(capsys, str(clip), "--json")
    assert code == 0 and document is not None, err
    assert list(document)[:3] == ["text", "language", "words"]
    assert document["language"] == "en-US" and document["status"] == "ok" and document["source"] == "recognition"
    assert all(set(w) == {"word", "start_s", "end_s"} for w in document["words"])
    assert document["text"].split() == [w["word"] for w in document["words"]]
    truth = [w for w in read_transcript(shared_media("motion/2_scott_0_1_1.TextGrid")).timed_words if w.end_s <= CLIP_S]
    recognised = [Word(w["word"], w["start_s"], w["end_s"]) for w in document["words"]]
    assert score_words(truth, recognised).hits >= 10  # measured 14 of 35 (WER 0.63 on this clip, 0.38 on all 64 s)
    assert "phones" not in document


def test_alignment_of_an_srt_transcript_with_phones(capsys, clip: Path, tmp_path: Path) -> None:
    code, document, err = _run(capsys, str(clip), "--transcript", str(_srt_of_clip(tmp_path / "clip.srt")),
                               "--phones", "--json")
    assert code == 0 and document is not None, err
    assert document["status"] == "ok" and document["source"] == "alignment"
    words = [w for w in read_transcript(shared_media("motion/2_scott_0_1_1.TextGrid")).timed_words
             if w.end_s <= CLIP_S]
    assert [w["word"] for w in document["words"]] == [w.text.lower() for w in words]
    errors = np.abs([d["start_s"] - w.start_s for d, w in zip(document["words"], words)])
    assert np.median(errors) < 0.05
    assert document["phones"] and {"phone", "start_s", "end_s"} == set(document["phones"][0])


def test_silence_is_reported_and_a_bad_transcript_is_an_error(capsys, tmp_path: Path) -> None:
    silence = tmp_path / "silence.wav"
    write_wav(silence, np.zeros(3 * RATE, np.float32))
    code, document, _ = _run(capsys, str(silence), "--json")
    assert code == 0 and document["status"] == "no_speech" and document["words"] == []
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n", encoding="utf-8")
    code, _, err = _run(capsys, str(silence), "--transcript", str(empty), "--json")
    assert code == 2 and "EMPTY_TRANSCRIPT" in err


def test_plain_output_lists_the_words(capsys, clip: Path) -> None:
    code = main(["transcribe", str(clip)])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0 and len(lines) > 10
    start_s, end_s, word = lines[0].split()
    assert 1.0 < float(start_s) < float(end_s) and word.isalpha()  # the speech starts at 1.42 s
