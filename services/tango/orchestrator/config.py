from __future__ import annotations

import dataclasses

from tango.runtime.config import ServiceConfig


@dataclasses.dataclass(frozen=True)
class OrchestratorConfig(ServiceConfig):
    perception_addr: str = "127.0.0.1:50051"
    graph_addr: str = "127.0.0.1:50052"
    retrieval_addr: str = "127.0.0.1:50053"
    render_addr: str = "127.0.0.1:50054"  # the render stage (transitions, lip sync, encoding: TANGO_RENDER_*)
    trainer_addr: str = "127.0.0.1:50055"  # the trainer stage (the speaker's AuMoCLIP: TANGO_TRAINER_*)
    # the job store every replica shares: a postgresql:// DSN (clusters), or a SQLite file; empty = SQLite at
    # <data dir>/orchestrator.sqlite (the local mesh)
    database: str = ""
    database_pool: int = 8  # PostgreSQL connections per replica
    lease_s: float = 30.0  # a replica's claim on a job; a dead replica's jobs are taken over after it
    max_jobs_in_flight: int = 4  # pending + running; beyond it CreateX answers RESOURCE_EXHAUSTED
    job_workers: int = 1  # jobs run concurrently (CPU-bound stages: keep low on small machines)
    max_audio_seconds: float = 600.0
    stage_attempts: int = 7  # per stage, on UNAVAILABLE / DEADLINE_EXCEEDED: waits 1+2+4+8+16+30 s in all
    retry_base_s: float = 1.0
    stage_deadline_s: float = 3600.0
    # speaker ingest perceives a reference in frame ranges on several perception replicas at once (merged into
    # the artifact of one whole analysis): at most this many ranges (0 = one per address listed in
    # perception_addr, e.g. `ipv4:a,b` -> 2; 1 = never split), none shorter than ingest_chunk_s seconds
    ingest_ranges: int = 0
    ingest_chunk_s: float = 10.0
    # cap on the speaker AuMoCLIP training, a safety net: its budget is 150 steps (~1.5 min on 2 idle cores); a
    # 3-minute cap cut it at 35 steps on a loaded box, and the undertrained model stays cached
    train_minutes: float = 10.0
    # live streams (StreamReenactment): how many one replica conducts (each holds a server thread and three of
    # its own), and how long a caller may stay silent before its stream is ended (LIVE_INPUT_IDLE)
    live_streams: int = 2
    live_idle_s: float = 20.0
    # an upload that sends nothing for upload_idle_s, or is still sending after upload_max_s, is ended
    # (DEADLINE_EXCEEDED, UPLOAD_IDLE / UPLOAD_TOO_SLOW): a trickling caller does not keep a server thread
    upload_idle_s: float = 30.0
    upload_max_s: float = 3600.0
    live_open_s: float = 5.0  # a render stage at its live capacity is asked again for this long
    jump_penalty: float = 1.0  # per jump, in similarity units: ~1 jump per 9 steps, ~78 % of frames real
