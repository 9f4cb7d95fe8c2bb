"""Tracker segments and planned ranges (pure functions), and the merge's refusal of parts that do not tile."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tango.perception.artifact_io import PerceptionArtifact
from tango.perception.merge import merge_parts, ordered_parts
from tango.perception.segments import Span, check_range, plan_ranges, segment_frames
from tango.runtime.errors import InvalidArgument, SeveralPeople


@pytest.mark.parametrize("budget, segment, max_ranges, min_frames, expected", [
    (665, 299, 2, 299, [(0, 299), (299, 665)]),  # the 22 s reference, 10 s segments, 2 replicas
    (665, 299, 4, 299, [(0, 299), (299, 665)]),  # no range under 10 s
    (240, 60, 3, 60, [(0, 60), (60, 180), (180, 240)]),
    (200, 60, 1, 60, [(0, 200)]),
    (50, 60, 4, 10, [(0, 50)]),  # one segment cannot be cut
    (18000, 300, 4, 300, [(0, 4500), (4500, 9000), (9000, 13500), (13500, 18000)]),
])
def test_plan_ranges_tile_the_budget_on_segment_boundaries(budget, segment, max_ranges, min_frames, expected):
    ranges = plan_ranges(budget, segment, max_ranges, min_frames)
    assert ranges == expected
    for start, end in ranges:
        check_range(start, end, budget, segment)


def test_segment_frames_and_spans():
    assert segment_frames(10.0, 29.94, 665) == 299 and segment_frames(0.0, 29.94, 665) == 665
    assert Span(299, 665, 665, 299).frames == 366 and not Span(299, 665, 665, 299).whole
    assert check_range(0, 0, 665, 299) == Span(0, 665, 665, 299)
    for start, end in ((30, 299), (0, 300), (299, 700), (299, 299)):
        with pytest.raises(InvalidArgument):
            check_range(start, end, 665, 299)


def _part(start: int, end: int, multi: int = 0, sha: str = "v") -> PerceptionArtifact:
    frames = end - start
    arrays = {"timestamps_s": np.arange(start, end) / 30.0, "person_present": np.ones(frames, bool),
              "mask_shape": np.array([4, 4], np.int32)}
    meta = {"fps": 30.0, "source": {"uri": "file:///v.mp4", "sha256": sha}, "width": 8, "height": 8,
            "stats": {"analysis_seconds": 1.0, "is_vfr": False, "source_frames": 90, "analysis_max_side": 640},
            "part": {"start_frame": start, "end_frame": end, "budget": 90, "segment_frames": 30,
                     "multi_face_frames": multi, "sampled_frames": 12}}
    return PerceptionArtifact(Path("/nonexistent"), meta, arrays)


def test_merge_orders_parts_and_refuses_gaps_and_other_videos():
    merged = merge_parts([_part(60, 90), _part(0, 60)], audio=np.zeros(48000, np.float32), min_pose_ratio=0.2)
    assert np.array_equal(merged.arrays["timestamps_s"], np.arange(90) / 30.0)
    assert merged.meta["frames"] == 90 and merged.audio.shape == (48000,) and "part" not in merged.meta
    assert merged.meta["stats"]["analysis_seconds"] == 2.0
    for parts in ([_part(0, 60)], [_part(0, 30), _part(60, 90)], [_part(0, 60), _part(60, 90, sha="w")]):
        with pytest.raises(InvalidArgument):
            ordered_parts(parts)


def test_merge_sums_the_several_people_samples_of_its_parts():
    with pytest.raises(SeveralPeople):  # 4 + 3 of 12 samples: a majority no single part saw
        merge_parts([_part(0, 60, multi=4), _part(60, 90, multi=3)], audio=None, min_pose_ratio=0.2)
