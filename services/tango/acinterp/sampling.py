"""Temporal-inpainting DDIM sampler with classifier-free guidance; knows nothing about the networks.

A clip of T latent frames is denoised together; the frames flagged `known` (the 2k real boundary frames)
are re-imposed before every network call at the current noise level, x_t = add_noise(x_0, eps_fixed, t),
so the motion module sees real context on both sides of the gap at every step and the generated frames
are pulled to agree with it. Guidance: v = v_u + g * (v_c - v_u) (g = 1: one conditional pass per step).
"""
from __future__ import annotations

from typing import Callable

import torch
from diffusers import DDIMScheduler

from tango.acinterp.scheduler import fresh_copy

# (latents (B, C, T, h, w), timestep (), conditional) -> predicted v (B, C, T, h, w)
Denoiser = Callable[[torch.Tensor, torch.Tensor, bool], torch.Tensor]


def guided_velocity(denoise: Denoiser, latents: torch.Tensor, timestep: torch.Tensor, guidance: float) -> torch.Tensor:
    conditional = denoise(latents, timestep, True)
    if guidance == 1.0:
        return conditional
    unconditional = denoise(latents, timestep, False)
    return unconditional + guidance * (conditional - unconditional)


def inpaint_clip(scheduler: DDIMScheduler, known: torch.Tensor, known_frames: torch.Tensor, denoise: Denoiser,
                 num_steps: int, guidance: float, generator: torch.Generator) -> torch.Tensor:
    """Denoised latents (B, C, T, h, w); frames where known_frames (T,) is True equal `known` exactly.

    known: (B, C, T, h, w) clean latents (values at unknown frames are ignored). The noise comes from
    `generator` on the CPU, so a seed gives the same clip on any device.
    """
    scheduler = fresh_copy(scheduler)
    scheduler.set_timesteps(num_steps, device=known.device)
    shape, device = known.shape, known.device
    latents = torch.randn(shape, generator=generator, dtype=torch.float32).to(device, known.dtype)
    latents = latents * scheduler.init_noise_sigma  # (B, C, T, h, w)
    known_noise = torch.randn(shape, generator=generator, dtype=torch.float32).to(device, known.dtype)
    mask = known_frames.to(device).view(1, 1, -1, 1, 1)  # (1, 1, T, 1, 1)
    for timestep in scheduler.timesteps:
        latents = torch.where(mask, scheduler.add_noise(known, known_noise, timestep), latents)
        model_input = scheduler.scale_model_input(latents, timestep)
        velocity = guided_velocity(denoise, model_input, timestep, guidance)  # (B, C, T, h, w)
        latents = scheduler.step(velocity, timestep, latents, eta=0.0).prev_sample
    return torch.where(mask, known, latents)
