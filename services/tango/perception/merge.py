"""MergeAnalyses: the part artifacts of a plan's ranges -> the artifact one whole analysis makes.

Each part holds the contract arrays of frames [start, end) of the budget, analysed with trackers restarted
on the same segment boundaries as a whole run (segments.py), plus what a part cannot judge alone: its
share of the several-people samples. The merge concatenates the arrays, applies the whole-video checks
(NoPerson, SeveralPeople) and writes the meta of a whole run; only the timing stats differ
(`analysis_seconds` is the parts' sum).
"""
from __future__ import annotations

import numpy as np

from tango.perception.artifact_io import PerceptionArtifact
from tango.perception.pipeline import finish_meta, raise_if_several_people, raise_no_person
from tango.perception.result import AUDIO_SAMPLE_RATE, PerceptionResult
from tango.runtime.errors import InvalidArgument

PER_VIDEO_FIELDS = ("mask_shape",)  # arrays of the video, not of its frames: equal in every part


def ordered_parts(parts: list[PerceptionArtifact]) -> list[PerceptionArtifact]:
    """The parts by start frame; InvalidArgument unless they are parts of one video tiling its budget."""
    if any("part" not in p.meta for p in parts):
        raise InvalidArgument("only part artifacts (AnalysisOptions.frame_range) can be merged", reason="NOT_A_PART")
    ordered = sorted(parts, key=lambda p: p.meta["part"]["start_frame"])
    first = ordered[0].meta
    budget, segment = first["part"]["budget"], first["part"]["segment_frames"]
    bounds = [(p.meta["part"]["start_frame"], p.meta["part"]["end_frame"]) for p in ordered]
    tiles = [start for start, _ in bounds] == [0] + [end for _, end in bounds[:-1]] and bounds[-1][1] == budget
    same = all(p.meta["source"] == first["source"] and p.meta["fps"] == first["fps"]
               and (p.meta["part"]["budget"], p.meta["part"]["segment_frames"]) == (budget, segment) for p in ordered)
    if not (tiles and same):
        raise InvalidArgument(
            f"parts {bounds} do not tile frames [0, {budget}) of one video", reason="PARTS_DO_NOT_TILE",
            metadata={"ranges": str(bounds), "budget": budget},
        )
    return ordered


def merge_parts(parts: list[PerceptionArtifact], audio: np.ndarray | None, min_pose_ratio: float) -> PerceptionResult:
    """The whole-run result of `parts` (any order); `audio` (S,) 16 kHz of the whole source, or None."""
    ordered = ordered_parts(parts)
    arrays = _concatenate([p.arrays for p in ordered])
    multi = sum(int(p.meta["part"]["multi_face_frames"]) for p in ordered)
    raise_if_several_people(multi, int(ordered[0].meta["part"]["sampled_frames"]))
    frames, person_frames = arrays["timestamps_s"].shape[0], int(arrays["person_present"].sum())
    if frames == 0 or person_frames / frames < min_pose_ratio:
        raise_no_person(person_frames, max(frames, 1), min_pose_ratio)
    base = ordered[0].meta
    if audio is not None:
        audio = audio[: int(round(frames / float(base["fps"]) * AUDIO_SAMPLE_RATE))]
    seconds = sum(float(p.meta["stats"]["analysis_seconds"]) for p in ordered)
    meta = finish_meta(base, arrays, has_audio=audio is not None, analysis_seconds=seconds)
    return PerceptionResult(arrays=arrays, meta=meta, audio=audio)


def _concatenate(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Per-frame arrays joined along frames (contract order kept); per-video arrays checked equal."""
    merged = {}
    for name in parts[0]:
        if name in PER_VIDEO_FIELDS:
            if any(not np.array_equal(p[name], parts[0][name]) for p in parts):
                raise InvalidArgument(f"parts disagree on {name}", reason="PARTS_DO_NOT_TILE")
            merged[name] = parts[0][name]
        else:
            merged[name] = np.concatenate([p[name] for p in parts], axis=0)
    return merged
