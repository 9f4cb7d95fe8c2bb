"""Speech regions of PCM16 audio: pocketsphinx's voice-activity `Endpointer`, driven to the very end.

pocketsphinx 5.1.1's own `Segmenter.segment` closes a region still open at the end of the stream only when
the input ends in a partial 30 ms frame: where the length is a whole number of frames (any 15 s clip at
16 kHz) a region running to the end is silently dropped, and speech throughout gives no region at all. This
drives the same `Endpointer` itself and closes the last region with `end_stream` whatever the length.
"""
from __future__ import annotations

from pocketsphinx import Endpointer

from tango.media.audio import SPEECH_SAMPLE_RATE

SEGMENT_PAD_S = 0.1  # regions are widened by this on both sides (as the lip-sync room's phone decoding does)


def _raw_regions(pcm: bytes) -> list[tuple[float, float]]:
    endpointer = Endpointer(sample_rate=SPEECH_SAMPLE_RATE)
    size = endpointer.frame_bytes
    frames = [pcm[offset: offset + size] for offset in range(0, len(pcm), size)]
    regions: list[tuple[float, float]] = []
    for index, frame in enumerate(frames):
        last = index == len(frames) - 1
        if last and endpointer.in_speech:
            speech = endpointer.end_stream(frame)  # takes a partial or a whole frame, never an empty one
        elif len(frame) == size:
            speech = endpointer.process(frame)
        else:
            speech = None  # a partial last frame outside speech
        if speech is not None and (last or not endpointer.in_speech):
            regions.append((float(endpointer.speech_start), float(endpointer.speech_end)))
    return regions


def speech_regions(pcm: bytes, pad_s: float = SEGMENT_PAD_S) -> list[tuple[float, float]]:
    """Speech regions of little-endian PCM16 mono at 16 kHz in seconds: widened by `pad_s`, clipped to the
    input, merged where they touch, in order."""
    duration_s = len(pcm) / 2 / SPEECH_SAMPLE_RATE
    merged: list[tuple[float, float]] = []
    for start_s, end_s in _raw_regions(pcm):
        start, end = max(0.0, start_s - pad_s), min(duration_s, end_s + pad_s)
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        elif end > start:
            merged.append((start, end))
    return merged
