"""The JSON sidecar written next to a rendered mp4 (`out.mp4` -> `out.json`).

Schema (schema_version 1):
{"kind": "render", "schema_version": 1, "video": "<mp4 file name>",
 "path": [node ids], "jumps": [{"step": t, "time_s": s}], "frames": N, "fps": f, "duration_s": d,
 "width": W, "height": H, "generated_frames": G, "windows": [[start, end], ...],
 "timings_s": {"schedule": .., "fetch": .., "resize": .., "interpolate": .., "encode": .., "total": ..},
 "render_fps": r,
 "metrics": {"output": {beat_consistency, diversity, mean_hand_clarity, ...},
             "reference": {...same keys...}},
 "lipsync": {"status": "skipped", "reason": ..} | {"status": "applied", "method": "mouths"|"wav2lip",
             "source": "model"|"phones"|"both", "frames_changed": n, "frames_left": m,
             "left": {"transition"|"no_face"|"composite_failed": count}, "mouth_runs": r, "frames_crossfaded": c,
             "timings_s": {..}},
 "transitions": {"model": requested Triton model, "windows": W, "fallback": model|null,
                 "fallback_windows": F, "fallback_reason": str|null, "cuts": jumps cut, not drawn}
                (absent when not given),
 "speech": {"captions": "video.vtt"|null, "cues": n, "transcript": {`tango transcribe --json`'s document: text,
            language, words with times, status, reason, source (alignment of the given transcript, or
            recognition), confidence, ...}} (absent when not given)}
Numpy scalars/arrays become JSON numbers/lists; NaN and infinities become null (strict JSON).
"""
from __future__ import annotations

import json
import math
import os
import uuid
from pathlib import Path

import numpy as np

from tango.render.renderer import RenderReport

SCHEMA_VERSION = 1


def sidecar_path(video_path: str | Path) -> Path:
    return Path(video_path).with_suffix(".json")


def build_sidecar(report: RenderReport, path_nodes: np.ndarray | list[int], output_metrics: dict,
                  reference_metrics: dict | None, lipsync: dict, transitions: dict | None = None,
                  speech: dict | None = None, cues: list[dict] | None = None) -> dict:
    """The sidecar document of one render."""
    rendered = report.to_dict()
    document = {
        "kind": "render",
        "schema_version": SCHEMA_VERSION,
        "video": Path(rendered.pop("out_path")).name,
        "path": [int(n) for n in np.asarray(path_nodes).reshape(-1)],
        **rendered,
        "metrics": {"output": output_metrics, "reference": reference_metrics},
        "lipsync": lipsync,
    }
    if transitions is not None:
        document["transitions"] = transitions
    if speech is not None:
        document["speech"] = speech
    if cues:
        document["cues"] = cues
    return document


def write_sidecar(path: str | Path, report: dict) -> Path:
    """Writes `report` as strict JSON to `path` atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_plain(report), indent=2, sort_keys=False, allow_nan=False)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        temporary.write_text(text + "\n", encoding="utf-8")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def _plain(value):
    """JSON-ready copy: numpy -> Python, NaN/inf -> None, tuples -> lists, Paths -> str."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value
