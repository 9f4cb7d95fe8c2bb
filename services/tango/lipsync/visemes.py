"""ARPAbet phones -> viseme classes (what the lips show), per video frame.

A viseme is a group of phones that look alike on the mouth. The 39 CMUdict phones (stress stripped) fall
into 13 classes, in the spirit of the MPEG-4 face-animation viseme table (which also keeps s/z apart from
t/d and n/l) merged to what a lip-sync frame picker can tell apart:

    sil           SIL (silence, fillers): mouth at rest
    closed        P B M: lips pressed together
    lip_teeth     F V: lower lip under the upper teeth
    tongue_teeth  TH DH: tongue tip between the teeth
    alveolar      T D N L: jaw slightly open, tongue tip up
    sibilant      S Z: teeth together, lips spread
    velar         K G NG HH: jaw open, lips neutral (HH takes the next vowel's shape)
    postalveolar  CH JH SH ZH: lips pushed forward, teeth close
    rhotic        R ER: lips slightly rounded
    rounded       W UW OW UH: small round opening
    open          AA AE AH AY: wide jaw opening
    spread        EH EY IH IY Y: lips spread, medium/small opening
    open_rounded  AO AW OY: open jaw with rounding

`viseme_similarity()` scores a pair of classes 1 when equal, 0.5 when they look close, 0 otherwise.
Close pairs (`CLOSE_PAIRS`): sil~closed (both show shut lips), lip_teeth~tongue_teeth (teeth visible, lips
almost closed), tongue_teeth~alveolar, alveolar~sibilant, alveolar~velar (tongue-made, lips neutral),
sibilant~postalveolar, sibilant~spread (spread lips, teeth showing), postalveolar~rounded, rhotic~rounded,
rounded~open_rounded, open~open_rounded, open~spread (unrounded vowels differing in jaw height).
Everything else scores 0; in particular closed~lip_teeth is NOT close (a shut mouth against teeth on lip
is exactly the error lip sync must avoid), nor are silence and open vowels.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from tango.runtime.errors import InvalidArgument

_CLASSES: tuple[tuple[str, str], ...] = (  # (viseme name, its phones)
    ("sil", "SIL"),
    ("closed", "P B M"),
    ("lip_teeth", "F V"),
    ("tongue_teeth", "TH DH"),
    ("alveolar", "T D N L"),
    ("sibilant", "S Z"),
    ("velar", "K G NG HH"),
    ("postalveolar", "CH JH SH ZH"),
    ("rhotic", "R ER"),
    ("rounded", "W UW OW UH"),
    ("open", "AA AE AH AY"),
    ("spread", "EH EY IH IY Y"),
    ("open_rounded", "AO AW OY"),
)
VISEMES: tuple[str, ...] = tuple(name for name, _ in _CLASSES)
SIL_VISEME = 0
PHONE_TO_VISEME: dict[str, int] = {phone: index for index, (_, phones) in enumerate(_CLASSES)
                                   for phone in phones.split()}
_FILLERS = ("<sil>", "<s>", "</s>", "+NSN+", "+SPN+", "")
CLOSE_PAIRS: tuple[tuple[str, str], ...] = (
    ("sil", "closed"), ("lip_teeth", "tongue_teeth"), ("tongue_teeth", "alveolar"), ("alveolar", "sibilant"),
    ("alveolar", "velar"), ("sibilant", "postalveolar"), ("sibilant", "spread"), ("postalveolar", "rounded"),
    ("rhotic", "rounded"), ("rounded", "open_rounded"), ("open", "open_rounded"), ("open", "spread"),
)
CLOSE_SIMILARITY = 0.5


class TimedPhone(Protocol):  # tango.speech.phones.PhoneSegment, or anything with these fields
    phone: str
    start_s: float
    end_s: float


def viseme_of(phone: str) -> int:
    """Index into VISEMES of an ARPAbet phone (stress digits ignored); SIL and fillers give the sil class."""
    if phone in _FILLERS:
        return SIL_VISEME
    key = re.sub(r"\d", "", phone).upper()
    if key not in PHONE_TO_VISEME:
        raise InvalidArgument(f"unknown ARPAbet phone {phone!r}", reason="UNKNOWN_PHONE")
    return PHONE_TO_VISEME[key]


def frame_visemes(segments: Sequence[TimedPhone], n_frames: int, fps: float) -> np.ndarray:
    """(n_frames,) int16 viseme at each frame's centre time (i + 0.5) / fps; sil where no segment covers it.

    Segments may come in any order and are expected not to overlap (phones.py tiles time); where they do,
    a frame looks only at the last segment starting at or before its centre.
    """
    if n_frames < 0 or fps <= 0:
        raise InvalidArgument(f"need n_frames >= 0 and fps > 0, got {n_frames} and {fps}")
    out = np.full(n_frames, SIL_VISEME, dtype=np.int16)  # (F,)
    if not segments or n_frames == 0:
        return out
    ordered = sorted(segments, key=lambda s: s.start_s)
    starts = np.array([s.start_s for s in ordered], dtype=np.float64)  # (P,)
    ends = np.array([s.end_s for s in ordered], dtype=np.float64)  # (P,)
    classes = np.array([viseme_of(s.phone) for s in ordered], dtype=np.int16)  # (P,)
    centres = (np.arange(n_frames, dtype=np.float64) + 0.5) / fps  # (F,)
    index = np.searchsorted(starts, centres, side="right") - 1  # (F,) last segment starting at or before
    safe = np.maximum(index, 0)  # (F,)
    covered = (index >= 0) & (centres < ends[safe])  # (F,)
    out[covered] = classes[safe[covered]]
    return out


def viseme_similarity() -> np.ndarray:
    """(V, V) float32, symmetric: 1 on the diagonal, CLOSE_SIMILARITY for CLOSE_PAIRS, 0 elsewhere."""
    size = len(VISEMES)
    matrix = np.eye(size, dtype=np.float32)  # (V, V)
    for first, second in CLOSE_PAIRS:
        a, b = VISEMES.index(first), VISEMES.index(second)
        matrix[a, b] = matrix[b, a] = CLOSE_SIMILARITY
    return matrix


def viseme_track(speech: np.ndarray, n_frames: int, fps: float) -> np.ndarray:
    """(n_frames,) viseme per video frame of mono 16 kHz speech, from recognised phones (a `VisemeFn`)."""
    from tango.speech.phones import recognize_phones  # pocketsphinx loads lazily

    return frame_visemes(recognize_phones(speech), n_frames, fps)
