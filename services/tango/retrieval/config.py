from __future__ import annotations

import dataclasses

from tango.runtime.config import ServiceConfig


@dataclasses.dataclass(frozen=True)
class RetrievalConfig(ServiceConfig):
    embed_url: str = "127.0.0.1:50061"  # Triton serving aumoclip_audio / aumoclip_motion
    triton_timeout_s: float = 120.0
    graph_cache_bytes: int = 2 << 30  # LRU bound on graphs held in memory
    memory_bound_bytes: int = 6 << 30  # a search estimated above this is refused (RESOURCE_EXHAUSTED)
    max_audio_seconds: float = 900.0
    window_hop_frames: int = 30  # hop of the 4 s windows giving high-level features (1 s)
    # live streams (StreamPath): steps looked ahead before one is committed (4 = 0.53 s: the 2-s latency budget
    # also holds the render's horizon and a segment), and the hop of the causal feature windows
    live_lookahead_steps: int = 4
    # script cues: weights of an emphasis word's energy bonus and of a rest span's energy charge (tango.retrieval.cues)
    cue_emphasis_weight: float = 1.0
    cue_rest_weight: float = 0.5
    live_hop_frames: int = 8
