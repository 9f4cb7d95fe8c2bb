"""The noise schedule of ACInterp, apart from the networks: diffusers DDIM with v-prediction.

Zero terminal SNR with "trailing" timestep spacing (Lin et al. 2024, as AnimateAnyone's v-prediction
training uses), so the first sampling step starts from pure noise; eta = 0 makes sampling deterministic.
"""
from __future__ import annotations

from diffusers import DDIMScheduler

from tango.acinterp.config import SchedulerSettings

PREDICTION_TYPE = "v_prediction"


def make_scheduler(settings: SchedulerSettings = SchedulerSettings()) -> DDIMScheduler:
    return DDIMScheduler(
        num_train_timesteps=settings.num_train_timesteps, beta_start=settings.beta_start, beta_end=settings.beta_end,
        beta_schedule=settings.beta_schedule, timestep_spacing=settings.timestep_spacing,
        rescale_betas_zero_snr=settings.rescale_betas_zero_snr, prediction_type=PREDICTION_TYPE,
        clip_sample=False, set_alpha_to_one=True, steps_offset=0,
    )


def fresh_copy(scheduler: DDIMScheduler) -> DDIMScheduler:
    """A scheduler of the same config with its own step state (set_timesteps mutates it)."""
    return DDIMScheduler.from_config(scheduler.config)
