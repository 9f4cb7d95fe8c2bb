"""Live retrieval of one stream: PCM16 chunks in, committed path steps out (no gRPC here).

Each chunk is resampled to 16 kHz mono speech (`tango.media.pcm`), turned into AuMoCLIP features as soon as
whole steps are heard (`live_features`, windows through Triton) and relaxed by the online DP
(`search_online`), which commits a step once `lookahead_steps` later steps are known and never revises it.

Loudness following (`tango.retrieval.energy`): each step's loudness comes with its features (the window ending
at the step's end: no added latency) and is standardised by the running statistics of the steps heard so far
(`energy.RunningLoudness`, off for the first `energy.LIVE_WARMUP_S` of the stream) before the search scores it.
The search ignores it where the options' `energy_weight` is 0 or the graph has no motion.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from tango.media.pcm import PcmFormat, SpeechResampler
from tango.retrieval.energy import RunningLoudness, live_warmup_steps
from tango.retrieval.live_features import LiveAudioFeatures, LiveSteps
from tango.retrieval.search_online import CommittedStep, OnlineSearch


@dataclass(frozen=True)
class LiveBatch:
    steps: list[CommittedStep]
    audio_s: float  # audio received so far
    features_s: float  # seconds spent on features / search for this batch
    search_s: float


class LiveSearch:
    def __init__(self, pcm: PcmFormat, features: LiveAudioFeatures, search: OnlineSearch,
                 loudness: RunningLoudness | None = None):
        self.pcm = pcm
        self.resampler = SpeechResampler(pcm)
        self.features = features
        self.search = search
        self.loudness = loudness if loudness is not None else RunningLoudness(live_warmup_steps(features.fps))
        self.samples = 0

    @property
    def typical_jump_difficulty(self) -> float:
        return self.search.typical_jump_difficulty

    def push(self, chunk: bytes) -> LiveBatch:
        samples = self.pcm.decode(chunk)
        self.samples += samples.shape[0]
        began = time.perf_counter()
        steps = self.features.push(self.resampler.push(samples))
        return self._search(began, steps, finish=False)

    def finish(self) -> LiveBatch:
        began = time.perf_counter()
        tail = self.features.push(self.resampler.finish())
        last = self.features.finish()
        batch = self._search(began, tail, finish=False)
        final = self._search(time.perf_counter(), last, finish=True)
        return LiveBatch(batch.steps + final.steps, final.audio_s, batch.features_s + final.features_s,
                         batch.search_s + final.search_s)

    def _search(self, began: float, steps: LiveSteps, finish: bool) -> LiveBatch:
        loudness = self.loudness.push(steps.loudness_db)  # (k,) standardised so far
        featured = time.perf_counter()
        committed = self.search.push(steps.low, steps.high, loudness=loudness)
        if finish:
            committed += self.search.finish()
        return LiveBatch(committed, self.pcm.seconds(self.samples), featured - began, time.perf_counter() - featured)
