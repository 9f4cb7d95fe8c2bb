"""tango.perception.pipeline.analyze_video on real and synthetic videos."""
from __future__ import annotations

import resource
import threading
import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from support import shared_media

from tango.media.video import iter_frames
from tango.perception.pipeline import PerceptionOptions, analyze_video
from tango.perception.result import MEDIAPIPE_FIELDS
from tango.runtime.errors import Cancelled, EmptyMedia, MediaTooLarge, NoPerson, NotAVideo, SeveralPeople


def _video(name: str) -> Path:
    return shared_media(f"video/{name}")


def _encode(path: Path, frames: list[np.ndarray], fps: int = 30) -> Path:
    """Encode (H, W, 3) uint8 RGB frames as H.264 mp4 (no audio)."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast"})
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        for rgb in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        out.mux(stream.encode(None))
    return path


def _check_contract_arrays(arrays: dict[str, np.ndarray], frames: int) -> None:
    assert list(arrays) == list(MEDIAPIPE_FIELDS)
    height, width = (int(v) for v in arrays["mask_shape"])
    expected = {
        "timestamps_s": ((frames,), np.float64), "source_frame": ((frames,), np.int32),
        "person_present": ((frames,), np.bool_), "pose_world": ((frames, 33, 3), np.float32),
        "pose_visibility": ((frames, 33), np.float32), "pose_image": ((frames, 33, 2), np.float32),
        "mask_bits": ((frames, -(-height * width // 8)), np.uint8), "mask_shape": ((2,), np.int32),
        "hand_boxes": ((frames, 2, 4), np.float32), "hand_clarity": ((frames, 2), np.float32),
        "face_present": ((frames,), np.bool_), "face_landmarks": ((frames, 95, 3), np.float32),
        "head_pose": ((frames, 3), np.float32),
    }
    for key, (shape, dtype) in expected.items():
        assert arrays[key].shape == shape and arrays[key].dtype == dtype, key
    assert max(height, width) == 96


def test_female_speaker_first_3s():
    progress: list[tuple[int, int]] = []
    result = analyze_video(
        _video("tango_female_test_V1_22s.mp4"), PerceptionOptions(max_seconds=3.0),
        on_progress=lambda done, total: progress.append((done, total)),
    )
    arrays, meta = result.arrays, result.meta
    frames = meta["frames"]
    assert frames == 90 and progress[-1] == (90, 90) and len(progress) == 90
    _check_contract_arrays(arrays, frames)
    np.testing.assert_allclose(arrays["timestamps_s"], np.arange(frames) / meta["fps"], atol=2e-3)
    np.testing.assert_array_equal(arrays["source_frame"], np.arange(frames))
    stats = meta["stats"]
    assert stats["pose_ratio"] >= 0.9 and stats["hands_ratio"] > 0
    assert stats["mean_hand_clarity"] > 0
    present = arrays["person_present"]
    world = arrays["pose_world"][present]
    assert np.isfinite(world).all() and np.abs(world).max() < 2.0  # metres, hip-centred
    hips = world[:, [23, 24]].mean(axis=1)  # (F', 3) mid-hip near the origin
    assert np.abs(hips).max() < 0.1
    boxes = arrays["hand_boxes"]
    has_box = ~np.isnan(boxes).any(axis=2)  # (F, 2)
    assert (boxes[has_box][:, 2:] >= boxes[has_box][:, :2]).all()
    np.testing.assert_array_equal(np.isfinite(arrays["hand_clarity"]), has_box)
    mask_fraction = np.unpackbits(arrays["mask_bits"], axis=1).sum(axis=1) / np.prod(arrays["mask_shape"])
    assert 0.05 < mask_fraction.mean() < 0.7
    assert (meta["width"], meta["height"], meta["has_audio"]) == (1280, 948, True)
    # face mesh on the full-resolution head crop: a face in every frame, lips inside the head, pose plausible
    assert stats["face_ratio"] >= 0.95
    faces = arrays["face_landmarks"][arrays["face_present"]]  # (F', 95, 3) normalised
    assert np.isfinite(faces).all() and (faces[..., :2] > 0).all() and (faces[..., :2] < 1).all()
    nose = arrays["pose_image"][arrays["face_present"], 0]  # (F', 2) pose nose
    assert np.abs(faces[:, :, :2].mean(axis=1) - nose).max() < 0.08
    assert np.abs(arrays["head_pose"][arrays["face_present"]]).max() < 60
    assert meta["kind"] == "perception" and meta["representation"] == "mediapipe"
    assert len(meta["source"]["sha256"]) == 64
    assert result.audio is not None and result.audio.size == pytest.approx(3.0 * 16000, abs=400)


def test_newsreader_has_no_hands():
    result = analyze_video(_video("mimictalk_German_20s.mp4"), PerceptionOptions(max_seconds=2.0))
    stats = result.meta["stats"]
    assert result.meta["frames"] == 50 and result.meta["fps"] == 25.0
    assert stats["pose_ratio"] >= 0.9
    assert stats["hands_ratio"] <= 0.05


def test_no_person_video(tmp_path):
    gradient = np.tile(np.linspace(0, 255, 160, dtype=np.uint8)[None, :, None], (120, 1, 3))
    path = _encode(tmp_path / "empty_scene.mp4", [gradient] * 30)
    with pytest.raises(NoPerson) as caught:
        analyze_video(path, PerceptionOptions())
    assert caught.value.metadata["person_frames"] == "0"


def test_two_people_side_by_side(tmp_path):
    left = [f.rgb for f in iter_frames(_video("tango_speaker7.mp4"), max_frames=24)]
    right = [f.rgb for f in iter_frames(_video("tango_speaker8.mp4"), max_frames=24)]
    frames = [cv2.resize(np.hstack([a, b]), (768, 384), interpolation=cv2.INTER_AREA) for a, b in zip(left, right)]
    path = _encode(tmp_path / "two_people.mp4", frames)
    with pytest.raises(SeveralPeople):
        analyze_video(path, PerceptionOptions())
    single = analyze_video(path, PerceptionOptions(check_several_people=False, min_pose_ratio=0.0))
    assert single.meta["frames"] == 24


def test_one_speaker_passes_several_people_check():
    result = analyze_video(_video("tango_speaker12.mp4"), PerceptionOptions(max_frames=30, several_people_samples=6))
    assert result.meta["stats"]["pose_ratio"] >= 0.9


def test_cancel_stops_the_decode_thread():
    calls = {"n": 0}

    def should_stop() -> bool:
        calls["n"] += 1
        return calls["n"] > 5

    with pytest.raises(Cancelled):
        analyze_video(_video("tango_female_test_V1_22s.mp4"), PerceptionOptions(), should_stop=should_stop)
    time.sleep(0.2)
    assert not any(t.name == "perception-decode" and t.is_alive() for t in threading.enumerate())


def test_bad_inputs_raise_media_errors(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(EmptyMedia):
        analyze_video(empty)
    picture = tmp_path / "picture.png"
    cv2.imwrite(str(picture), np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(NotAVideo):
        analyze_video(picture)
    with pytest.raises(MediaTooLarge):
        analyze_video(_video("tango_speaker8.mp4"), PerceptionOptions(max_pixels=100 * 100))


@pytest.mark.slow
def test_female_speaker_full_22s_throughput():
    started = time.perf_counter()
    result = analyze_video(_video("tango_female_test_V1_22s.mp4"), PerceptionOptions())
    elapsed = time.perf_counter() - started
    stats = result.meta["stats"]
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nfull 22 s: {result.meta['frames']} frames in {elapsed:.1f} s = {result.meta['frames'] / elapsed:.1f} "
          f"frames/s, peak RSS {peak_rss_mb:.0f} MB, stats {stats}")
    assert result.meta["frames"] == 665
    assert stats["pose_ratio"] >= 0.9 and stats["hands_ratio"] > 0
    _check_contract_arrays(result.arrays, 665)
