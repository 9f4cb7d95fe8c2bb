"""Own-mouth lip sync on real footage: perception's face mesh, the mouth bank, the held-out evaluation,
and the renderer finisher (pixels change only around the mouth)."""
from __future__ import annotations

import numpy as np
import pytest
from support import shared_media

from tango.lipsync.bank import build_speaker_mouths
from tango.lipsync.evaluate import evaluate_lipsync
from tango.lipsync.live_mouths import LiveMouths
from tango.lipsync.mouth_shape import mouth_shapes
from tango.lipsync.render_hook import mouth_finisher
from tango.lipsync.visemes import viseme_track
from tango.media.audio import load_audio, load_track
from tango.media.video import read_frames
from tango.perception.artifact_io import InMemoryArtifact
from tango.perception.core import heard
from tango.perception.pipeline import PerceptionOptions, analyze_video
from tango.perception.result import PerceptionResult
from tango.render.lipsync import Skipped
from tango.render.plan import RenderOptions, RenderPlan


@pytest.fixture(scope="module")
def anchor():
    video = shared_media("video/mimictalk_German_20s.mp4")
    return video, InMemoryArtifact(analyze_video(video, PerceptionOptions(max_seconds=10.0)))


def test_face_mesh_and_bank(anchor):
    _, perception = anchor
    assert perception.meta["stats"]["face_ratio"] >= 0.95
    speakers = build_speaker_mouths([perception])
    assert speakers.model is not None and speakers.bank.usable.sum() >= 240
    assert speakers.bank.coefficients.shape == (perception.frames, 8)
    # the bank's lips (the search's LMD geometry) are the frames' own pose-free lips, up to the 8-component basis
    own = mouth_shapes(perception.arrays["face_landmarks"], perception.arrays["face_present"],
                       int(perception.meta["width"]), int(perception.meta["height"]), speakers.template).lips[..., :2]
    usable = speakers.bank.usable
    error = np.linalg.norm(speakers.bank.lips[usable] - own[usable], axis=-1).mean()
    spread = np.linalg.norm(own[usable] - own[usable].mean(axis=0), axis=-1).mean()
    assert speakers.bank.lips.shape == (perception.frames, 40, 2) and error < 0.25 * spread


def test_the_bank_reads_the_phones_ingest_heard(anchor):
    """The reference's visemes come from the phones kept at ingest (speech.json), not from a new recognition."""
    _, perception = anchor
    recognised = build_speaker_mouths([perception], visemes=viseme_track).bank.visemes
    kept = InMemoryArtifact(heard(PerceptionResult(perception.arrays, perception.meta, perception.audio())))

    def unused(*_):
        raise AssertionError("the reference's phones were recognised again")

    assert np.array_equal(build_speaker_mouths([kept], visemes=unused).bank.visemes, recognised)


def test_held_out_evaluation(anchor, tmp_path):
    video, perception = anchor
    result = evaluate_lipsync(video, perception, source="both", visemes=viseme_track, folds=3,
                              strip=tmp_path / "strip.png")
    assert result["frames"] == perception.frames and result["frames_meshed"] >= 0.95 * perception.frames
    assert np.isfinite([result["lmd"], result["lmd_no_lipsync"], result["envelope_corr"]]).all()
    assert len(result["lmd_per_fold"]) == 3
    # the held-out speech drives the mouths: they open with its loudness, unlike the base frames' own
    assert result["envelope_corr"] > result["envelope_corr_no_lipsync"] + 0.1
    assert result["lmd"] < 1.1 * result["lmd_no_lipsync"]
    assert (tmp_path / "strip.png").stat().st_size > 0


def _looping_plan(video, perception, loop_frames: int):
    """A render plan over the radio speech that plays the reference's first `loop_frames` frames over and over (a
    jump back at each loop), with the speech and a frame source of the video."""
    audio = shared_media("audio/sadtalker_RD_Radio31_000.wav")
    track, speech = load_track(audio), load_audio(audio, 16000)
    steps = int(track.duration_s * perception.fps / 4) + 1
    starts = (np.arange(steps) * 4) % loop_frames
    jump = np.r_[False, np.diff(starts) != 4]
    plan = RenderPlan(np.zeros(steps, np.int32), starts.astype(np.int32), jump, (perception.arrays["source_frame"],),
                      perception.fps, track)

    def frames(_video: int, indices: list[int]) -> dict[int, np.ndarray]:
        return read_frames(video, indices)

    return plan, speech, frames


def test_finisher_changes_only_the_lower_face(anchor):
    video, perception = anchor
    plan, speech, frames = _looping_plan(video, perception, perception.frames - 8)
    finisher = mouth_finisher([perception], plan, RenderOptions(), speech, frames, "model")
    assert not isinstance(finisher, Skipped)
    original = read_frames(video, [12])[12]
    out = finisher(12, original.copy())
    changed = np.abs(out.astype(int) - original).sum(axis=2) > 0
    ys, xs = np.nonzero(changed)
    mouth = perception.arrays["face_landmarks"][12, :40, :2] * [perception.meta["width"], perception.meta["height"]]
    assert changed.any() and changed.mean() < 0.15
    assert ys.min() > perception.arrays["face_landmarks"][12, :, 1].min() * perception.meta["height"]  # below the brow
    assert abs(xs.mean() - mouth[:, 0].mean()) < 25
    report = finisher.report()
    assert report["method"] == "mouths" and report["frames_changed"] == 1


def test_no_face_is_a_clean_skip(anchor):
    _, perception = anchor
    faceless = InMemoryArtifact(PerceptionResult(arrays={**perception.arrays,
                                                  "face_present": np.zeros(perception.frames, bool)},
                                          meta=perception.meta, audio=perception.audio()))
    track = load_track(shared_media("audio/sadtalker_RD_Radio31_000.wav"))
    plan = RenderPlan(np.zeros(3, np.int32), np.array([0, 4, 8], np.int32), np.zeros(3, bool),
                      (perception.arrays["source_frame"],), perception.fps, track)
    skipped = mouth_finisher([faceless], plan, RenderOptions(), np.zeros(16000, np.float32), None, "model")
    assert isinstance(skipped, Skipped) and "face" in skipped.reason


def test_live_mouths_segment_by_segment(anchor):
    """Live lip sync: segments planned one after another as the speech arrives change only the lower face."""
    video, perception = anchor
    speech = load_audio(shared_media("audio/sadtalker_RD_Radio31_000.wav"), 16000)

    def frames(_video: int, indices: list[int]) -> dict[int, np.ndarray]:
        return read_frames(video, indices)

    mouths = LiveMouths.open([perception], frames, perception.fps, pad=9)
    assert mouths is not None
    segment, shown = 15, (np.arange(90) * 2) % (perception.frames - 1)  # the path: every other reference frame
    originals = read_frames(video, sorted(set(shown.tolist())))
    per_frame = int(16000 / perception.fps)
    for start in range(0, 60, segment):
        mouths.add_speech(speech[start * per_frame: (start + segment + 20) * per_frame])
        first, end = max(start - 9, 0), start + segment + 9
        window = shown[first:end]
        batch = np.stack([originals[int(i)] for i in shown[start:start + segment]])
        out = mouths.apply(batch.copy(), start, first, np.zeros(len(window), np.int64), window,
                           np.zeros(len(window), bool))
        changed = np.abs(out.astype(int) - batch).sum(axis=3) > 0  # (n, H, W)
        assert changed.any() and changed.mean() < 0.15
        top = perception.arrays["face_landmarks"][shown[start], :, 1].min() * perception.meta["height"]
        assert np.nonzero(changed)[1].min() > top  # below the brow
    assert mouths.report()["frames_changed"] >= 50


def test_meshing_generated_faces_leaves_real_frames_as_they_were(anchor):
    """The renderer's finisher meshes generated frames (and the real frame before each window, to calibrate);
    every real frame it draws is bit-identical to the drawing without that."""
    from tango.lipsync.mouths import MouthCompositor

    video, perception = anchor
    plan, speech, frames = _looping_plan(video, perception, min(24, perception.frames - 8))  # a jump back every 6 steps
    finisher = mouth_finisher([perception], plan, RenderOptions(), speech, frames, "model")
    assert finisher.generated_faces is not None
    plain = MouthCompositor(finisher.speakers, finisher.plan, frames, finisher.source_frame)
    states = finisher.plan.frame_state
    window = int(np.flatnonzero((states < 0) & (finisher.plan.mouth >= 0))[0])
    before = window - 1
    positions = list(range(max(before - 1, 0), window + 2))
    shown = read_frames(video, [int(finisher.speakers.local[max(s, 0)]) for s in states[positions]])
    for position, state in zip(positions, states[positions]):
        frame = shown[int(finisher.speakers.local[max(state, 0)])]
        drawn, reference = finisher(position, frame.copy()), plain(position, frame.copy())
        if state >= 0:
            np.testing.assert_array_equal(drawn, reference)
    assert finisher.generated_faces.found + finisher.generated_faces.missed == sum(states[positions] < 0)
