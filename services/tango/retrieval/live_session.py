"""Live retrieval of one stream: PCM16 chunks in, committed path steps out (no gRPC here).

Each chunk is resampled to 16 kHz mono speech (`tango.media.pcm`), turned into AuMoCLIP features as soon as
whole steps are heard (`live_features`, windows through Triton) and relaxed by the online DP
(`search_online`), which commits a step once `lookahead_steps` later steps are known and never revises it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from tango.media.pcm import PcmFormat, SpeechResampler
from tango.retrieval.live_features import LiveAudioFeatures
from tango.retrieval.search_online import CommittedStep, OnlineSearch


@dataclass(frozen=True)
class LiveBatch:
    steps: list[CommittedStep]
    audio_s: float  # audio received so far
    features_s: float  # seconds spent on features / search for this batch
    search_s: float


class LiveSearch:
    def __init__(self, pcm: PcmFormat, features: LiveAudioFeatures, search: OnlineSearch):
        self.pcm = pcm
        self.resampler = SpeechResampler(pcm)
        self.features = features
        self.search = search
        self.samples = 0

    @property
    def typical_jump_difficulty(self) -> float:
        return self.search.typical_jump_difficulty

    def push(self, chunk: bytes) -> LiveBatch:
        samples = self.pcm.decode(chunk)
        self.samples += samples.shape[0]
        began = time.perf_counter()
        low, high = self.features.push(self.resampler.push(samples))
        return self._search(began, low, high, finish=False)

    def finish(self) -> LiveBatch:
        began = time.perf_counter()
        tail_low, tail_high = self.features.push(self.resampler.finish())
        low, high = self.features.finish()
        batch = self._search(began, tail_low, tail_high, finish=False)
        final = self._search(time.perf_counter(), low, high, finish=True)
        return LiveBatch(batch.steps + final.steps, final.audio_s, batch.features_s + final.features_s,
                         batch.search_s + final.search_s)

    def _search(self, began: float, low, high, finish: bool) -> LiveBatch:
        featured = time.perf_counter()
        steps = self.search.push(low, high)
        if finish:
            steps += self.search.finish()
        return LiveBatch(steps, self.pcm.seconds(self.samples), featured - began, time.perf_counter() - featured)
