from __future__ import annotations

import dataclasses

from tango.runtime.config import ServiceConfig


@dataclasses.dataclass(frozen=True)
class PerceptionConfig(ServiceConfig):
    max_side: int = 640  # frames are downscaled to this longest side for MediaPipe
    max_pixels: int = 4096 * 4096
    max_duration_s: float = 7200.0
    max_input_bytes: int = 8 << 30
    # MediaPipe's trackers restart every this many seconds, in every analysis, so that ranges can be analysed
    # on several replicas and merged into the same artifact (segments.py); part of the artifact's cache key
    segment_s: float = 10.0
    smplx_model_dir: str = ""  # SMPL-X body model files; empty = joint rotations only
