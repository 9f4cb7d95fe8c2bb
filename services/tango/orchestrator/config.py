from __future__ import annotations

import dataclasses

from tango.runtime.config import ServiceConfig


@dataclasses.dataclass(frozen=True)
class OrchestratorConfig(ServiceConfig):
    perception_addr: str = "127.0.0.1:50051"
    graph_addr: str = "127.0.0.1:50052"
    retrieval_addr: str = "127.0.0.1:50053"
    embed_url: str = "127.0.0.1:50061"  # Triton serving aumoclip_audio / aumoclip_motion
    interp_url: str = "127.0.0.1:50061"  # Triton serving the interpolation model
    interpolator: str = "interp_flow"  # the Triton model drawing transitions, e.g. interp_acinterp (diffusion)
    interpolator_fallback: str = "interp_flow"  # used where that model is not ready or refuses a window
    # how interp_flow draws: layered (person by flow over the speaker's background plate; measured less
    # ghosting at taken jumps, `tango interp eval --jumps`), flow (the previous default) or crossfade
    transition_method: str = "layered"
    database: str = ""  # SQLite file; empty = <data dir>/orchestrator.sqlite
    max_jobs_in_flight: int = 4  # pending + running; beyond it CreateX answers RESOURCE_EXHAUSTED
    job_workers: int = 1  # jobs run concurrently (CPU-bound stages: keep low on small machines)
    max_audio_seconds: float = 600.0
    stage_attempts: int = 7  # per stage, on UNAVAILABLE / DEADLINE_EXCEEDED: waits 1+2+4+8+16+30 s in all
    retry_base_s: float = 1.0
    stage_deadline_s: float = 3600.0
    train_minutes: float = 3.0  # cap on the speaker AuMoCLIP training (a fixed 150-step budget, ~1.5 min)
    jump_penalty: float = 1.0  # per jump, in similarity units: ~1 jump per 9 steps, ~78 % of frames real
    transition_frames: int = 8
    max_height: int = 1080
    lipsync_dir: str = ""  # a user's Wav2Lip weights (wav2lip.pth / wav2lip_gan.pth), for lip_sync=WAV2LIP
    lipsync_source: str = "model"  # what drives the own-mouth lip sync: model (measured best), phones or both
