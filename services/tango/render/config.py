from __future__ import annotations

import dataclasses

from tango.runtime.config import ServiceConfig


@dataclasses.dataclass(frozen=True)
class RenderConfig(ServiceConfig):
    # one BLAS thread: render solves many small systems per frame (lip sync's thin-plate fits), where a second
    # thread only waits on the first; measured on 2 cores beside other work, a live segment's lip sync at 360
    # rows took 0.75 s with the default and 0.29 s with one
    blas_threads: int = 1
    interp_url: str = "127.0.0.1:50061"  # Triton serving the interpolation models
    interp_timeout_s: float = 600.0
    interpolator: str = "interp_flow"  # the Triton model drawing transitions, e.g. interp_acinterp (diffusion)
    interpolator_fallback: str = "interp_flow"  # used where that model is not ready or refuses a window
    # how interp_flow draws: layered (person by flow over the speaker's background plate; measured less
    # ghosting at taken jumps, `tango interp eval --jumps`), flow (the previous default) or crossfade
    transition_method: str = "layered"
    transition_frames: int = 8
    max_height: int = 1080
    # x264 quality of offline renders: 18, a master a broadcast chain re-encodes (at 23, the demo showed a 39-level
    # fleck beside a nostril in one B-frame that the drawn frame did not have); live streams keep their own 23
    crf: int = 18
    lipsync_dir: str = ""  # a user's Wav2Lip weights (wav2lip.pth / wav2lip_gan.pth), for lip_sync=WAV2LIP
    # what drives the own-mouth lip sync: both (the speaker's phone model: audio + recognised phones; measured
    # best on both videos of `tango lipsync eval`), model (audio only) or phones (visemes only)
    lipsync_source: str = "both"
    max_audio_seconds: float = 600.0
    # live streams (StreamRender): how many one replica carries, and their defaults
    live_streams: int = 2
    # heights a stream may get, the tallest whose measured render load still fits the budget (render seconds per
    # media second over all live streams of the replica: `tango.render.live_ladder`)
    live_ladder: str = "720,480,360,240"
    live_budget: float = 0.55
    # rows a stream that cannot keep up may draw its frames at, scaled up to its picture (0: always at the picture's)
    live_render_floor: int = 180
    live_segment_s: float = 0.5
    live_transition_frames: int = 6
    live_transition_method: str = "flow"
