"""Summary statistics of a perception artifact (stored in meta `stats`, shown by the CLI)."""
from __future__ import annotations

import numpy as np

from tango.speech.result import SpeechTranscript


def summarize(arrays: dict[str, np.ndarray], meta: dict, speech: SpeechTranscript | None = None) -> dict:
    """frames, fps, duration_s, pose_ratio, hands_ratio (frames with >= 1 hand), mean_hand_clarity,
    face_ratio (frames with a meshed face), speech (what was heard: status, words, language, reason; None
    without audio).

    Ratios and the mean are None where the artifact has no such data (an SMPL-X import has no hands).
    """
    frames = int(arrays["timestamps_s"].shape[0])
    fps = float(meta["fps"])
    summary: dict = {
        "frames": frames,
        "fps": fps,
        "duration_s": frames / fps if fps > 0 else 0.0,
        "pose_ratio": float(np.mean(arrays["person_present"])) if frames else 0.0,
        "hands_ratio": None,
        "mean_hand_clarity": None,
        "face_ratio": float(np.mean(arrays["face_present"])) if "face_present" in arrays and frames else None,
    }
    if speech is not None:
        summary["speech"] = {"status": speech.status, "words": len(speech.words), "language": speech.language,
                             "reason": speech.reason}
    if "hand_boxes" in arrays and frames:
        hand_present = ~np.isnan(arrays["hand_boxes"]).any(axis=2)  # (F, 2)
        summary["hands_ratio"] = float(np.mean(hand_present.any(axis=1)))
        clarity = arrays["hand_clarity"][np.isfinite(arrays["hand_clarity"])]
        summary["mean_hand_clarity"] = float(clarity.mean()) if clarity.size else None
    return summary
