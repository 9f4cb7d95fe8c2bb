"""Read and write the perception artifact directory: arrays.npz, meta.json, audio.wav, speech.json (CONTRACTS.md)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from tango.media.audio import load_audio, write_wav
from tango.perception.result import (
    ARTIFACT_KIND, AUDIO_SAMPLE_RATE, MEDIAPIPE_FIELDS, SCHEMA_VERSION, SMPLX_FIELDS, PerceptionResult,
)
from tango.speech.result import SpeechTranscript
from tango.runtime.errors import ArtifactNotFound, CorruptMedia, FailedPrecondition, InvalidArgument, WrongArtifactKind

ARRAYS_FILE = "arrays.npz"
META_FILE = "meta.json"
AUDIO_FILE = "audio.wav"
SPEECH_FILE = "speech.json"
_REQUIRED = {"mediapipe": MEDIAPIPE_FIELDS, "smplx": SMPLX_FIELDS}


def write_perception_artifact(directory: Path | str, result: PerceptionResult) -> Path:
    """Write `result` into `directory` (created if needed); returns the directory."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    _check_fields(result.arrays, result.meta)
    np.savez_compressed(directory / ARRAYS_FILE, **result.arrays)
    if result.audio is not None:
        write_wav(directory / AUDIO_FILE, result.audio, AUDIO_SAMPLE_RATE)
    if result.speech is not None:
        (directory / SPEECH_FILE).write_text(json.dumps(result.speech, allow_nan=False))
    (directory / META_FILE).write_text(json.dumps(result.meta, indent=1, sort_keys=True, allow_nan=False))
    return directory


def _check_fields(arrays: dict[str, np.ndarray], meta: dict) -> None:
    representation = meta.get("representation")
    if representation not in _REQUIRED:
        raise InvalidArgument(f"unknown perception representation {representation!r}")
    missing = [k for k in _REQUIRED[representation] if k not in arrays]
    if missing:
        raise InvalidArgument(f"perception arrays lack {missing}")
    if sorted(meta.get("fields", [])) != sorted(arrays):
        raise InvalidArgument("meta 'fields' must list exactly the arrays written")


class PerceptionArtifact:
    """A perception artifact read from a local directory (arrays loaded eagerly, without pickle)."""

    def __init__(self, directory: Path, meta: dict, arrays: dict[str, np.ndarray]) -> None:
        self.directory = directory
        self.meta = meta
        self.arrays = arrays

    @classmethod
    def load(cls, directory: Path | str) -> "PerceptionArtifact":
        directory = Path(directory)
        meta_path, arrays_path = directory / META_FILE, directory / ARRAYS_FILE
        if not meta_path.is_file() or not arrays_path.is_file():
            raise ArtifactNotFound(f"no perception artifact in {directory}", metadata={"path": str(directory)})
        try:
            meta = json.loads(meta_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CorruptMedia(f"{meta_path} is not valid JSON: {exc}", reason="CORRUPT_ARTIFACT") from exc
        if not isinstance(meta, dict) or meta.get("kind") != ARTIFACT_KIND:
            kind = meta.get("kind") if isinstance(meta, dict) else None
            raise WrongArtifactKind(f"{directory} holds a {kind!r} artifact, not a {ARTIFACT_KIND!r} one")
        if meta.get("schema_version") != SCHEMA_VERSION:
            raise WrongArtifactKind(
                f"perception schema_version {meta.get('schema_version')!r} is not the supported {SCHEMA_VERSION}"
            )
        try:
            with np.load(arrays_path, allow_pickle=False) as npz:
                arrays = {key: npz[key] for key in npz.files}
        except (ValueError, OSError) as exc:
            raise CorruptMedia(f"{arrays_path} cannot be read: {exc}", reason="CORRUPT_ARTIFACT") from exc
        _check_fields(arrays, meta)
        return cls(directory, meta, arrays)

    @property
    def frames(self) -> int:
        return int(self.arrays["timestamps_s"].shape[0])

    @property
    def fps(self) -> float:
        return float(self.meta["fps"])

    def audio(self) -> np.ndarray | None:
        """(S,) float32 mono at 16 kHz, or None when the source had no audio."""
        path = self.directory / AUDIO_FILE
        return load_audio(path, AUDIO_SAMPLE_RATE) if path.is_file() else None

    def speech(self) -> SpeechTranscript | None:
        """The transcript of the audio heard at ingest (words and phones with times; a wordless one with its reason
        where no usable speech was heard), or None for a source without audio and for parts of an analysis."""
        path = self.directory / SPEECH_FILE
        return SpeechTranscript.from_json(path.read_text()) if path.is_file() else None

    def _mask_parts(self) -> tuple[np.ndarray, int, int]:
        if "mask_bits" not in self.arrays:
            raise FailedPrecondition(
                f"this {self.meta.get('representation')} perception artifact has no body masks", reason="NO_MASKS",
            )
        height, width = (int(v) for v in self.arrays["mask_shape"])
        bits = self.arrays["mask_bits"]
        if bits.ndim != 2 or bits.shape[1] != math.ceil(height * width / 8):
            raise CorruptMedia(f"mask_bits {bits.shape} do not match mask_shape ({height}, {width})",
                               reason="CORRUPT_ARTIFACT")
        return bits, height, width

    def mask(self, frame: int) -> np.ndarray:
        """(Hm, Wm) bool body mask of one frame."""
        bits, height, width = self._mask_parts()
        if not 0 <= frame < bits.shape[0]:
            raise InvalidArgument(f"frame {frame} outside [0, {bits.shape[0]})", reason="FRAME_OUT_OF_RANGE")
        return np.unpackbits(bits[frame], count=height * width).reshape(height, width).astype(bool)

    def masks(self) -> np.ndarray:
        """(F, Hm, Wm) bool body masks of all frames."""
        bits, height, width = self._mask_parts()
        unpacked = np.unpackbits(bits, axis=1, count=height * width)  # (F, Hm*Wm)
        return unpacked.reshape(-1, height, width).astype(bool)


class InMemoryArtifact:
    """A `PerceptionResult` read like a PerceptionArtifact (arrays, meta, frames, fps, audio(), speech()), for work
    done in one process without the artifact store (benchmarks, tests)."""

    def __init__(self, result: PerceptionResult) -> None:
        self.arrays, self.meta, self._result = result.arrays, result.meta, result

    @property
    def frames(self) -> int:
        return int(self.meta["frames"])

    @property
    def fps(self) -> float:
        return float(self.meta["fps"])

    def audio(self) -> np.ndarray | None:
        return self._result.audio

    def speech(self) -> SpeechTranscript | None:
        return None if self._result.speech is None else SpeechTranscript.from_dict(self._result.speech)
