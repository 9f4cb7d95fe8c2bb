"""One v-prediction training step of ACInterp on a real video clip (k context + n middle + k context frames).

The clip's latents x_0 are noised at a random timestep t, x_t = add_noise(x_0, eps, t); the motion UNet,
guided by every frame's own pose image and the background offset flow, with the ReferenceNet bank and
CLIP context of the two boundary frames (last context frame before the middle, first after it), predicts
v = alpha_t * eps - sigma_t * x_0; loss = MSE. With probability p (config.reference_dropout) the reference
is dropped - no bank, zeroed context - which is the unconditional branch classifier-free guidance needs
(dropped for the whole mini-batch: a batch is one clip). The VAE and the CLIP encoder stay frozen; the
UNet (spatial + motion), ReferenceNet and both guiders train, as in AnimateAnyone's two stages together.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch.nn import functional

from tango.acinterp.conditioning import ClipConditioning, training_conditioning
from tango.acinterp.pipeline import ACInterpPipeline, resize_frames
from tango.acinterp.pose_render import Observer, observe_video

TRAINABLE = ("unet", "reference_net", "pose_guider", "background_guider")


@dataclasses.dataclass(frozen=True)
class TrainingClip:
    frames: np.ndarray  # (T, h, w, 3) uint8 at the generation size
    conditioning: ClipConditioning

    @property
    def reference_indices(self) -> tuple[int, int]:
        before = int(np.flatnonzero(self.conditioning.taus <= 0)[-1])  # last context frame before the middle
        after = int(np.flatnonzero(self.conditioning.taus >= 1)[0])  # first context frame after it
        return before, after


def prepare_training_clip(pipeline: ACInterpPipeline, frames: np.ndarray,
                          observe: Observer = observe_video) -> TrainingClip:
    """frames (T, H, W, 3) uint8 of one shot, T >= 2k + 1 -> resized clip + its conditioning images."""
    size = pipeline.config.generation_size(*frames.shape[1:3])
    small = resize_frames(frames, *size)
    return TrainingClip(frames=small, conditioning=training_conditioning(small, pipeline.config, observe))


class ACInterpTrainer:
    def __init__(self, pipeline: ACInterpPipeline, learning_rate: float = 1e-4, seed: int = 0):
        self.pipeline = pipeline
        self.generator = torch.Generator().manual_seed(seed)
        modules = pipeline.networks.modules()
        for name, module in modules.items():
            module.requires_grad_(name in TRAINABLE)
        parameters = [p for name in TRAINABLE for p in modules[name].parameters()]
        self.optimizer = torch.optim.AdamW(parameters, lr=learning_rate, weight_decay=0.0)

    def step(self, clip: TrainingClip) -> float:
        """One optimiser step on the clip; returns the loss before the update."""
        self._set_training(True)
        latents = self._latents(clip)  # (1, C, T, h, w)
        timestep = torch.randint(0, self.pipeline.scheduler.config.num_train_timesteps, (), generator=self.generator)
        noise = torch.randn(latents.shape, generator=self.generator)
        drop = bool(torch.rand((), generator=self.generator) < self.pipeline.config.reference_dropout)
        loss = self.loss(clip, latents, timestep, noise, drop_reference=drop)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self._set_training(False)  # the pipeline stays usable for inference between steps
        return float(loss.detach())

    @torch.no_grad()
    def evaluation_loss(self, clip: TrainingClip, timesteps: tuple[int, ...] = (100, 500, 900), seed: int = 0) -> float:
        """Mean loss at fixed timesteps and noise with the reference kept: comparable across training."""
        self._set_training(False)
        latents = self._latents(clip)
        generator = torch.Generator().manual_seed(seed)
        losses = [self.loss(clip, latents, torch.tensor(t), torch.randn(latents.shape, generator=generator), False)
                  for t in timesteps]
        return float(torch.stack(losses).mean())

    def loss(self, clip: TrainingClip, latents: torch.Tensor, timestep: torch.Tensor, noise: torch.Tensor,
             drop_reference: bool) -> torch.Tensor:
        pipeline, device = self.pipeline, self.pipeline.device
        scheduler = pipeline.scheduler
        timestep, noise = timestep.to(device), noise.to(device, latents.dtype)
        noisy = scheduler.add_noise(latents, noise, timestep)  # (1, C, T, h, w)
        target = scheduler.get_velocity(latents, noise, timestep)  # v
        before, after = clip.reference_indices
        if drop_reference:
            context = torch.zeros((1, 2, pipeline.config.image_encoder.projection_dim), device=device)
        else:
            context = pipeline.write_reference(clip.frames[[before, after]])  # (1, 2, D); fills the bank
        features = pipeline.guider_features(clip.conditioning)  # (T, C0, h, w)
        hidden = context.repeat_interleave(latents.shape[2], dim=0)  # (T, 2, D)
        try:
            with pipeline.bank.reading(not drop_reference), pipeline.injection.adding(features):
                velocity = pipeline.networks.unet(noisy, timestep, encoder_hidden_states=hidden).sample
        finally:
            pipeline.bank.clear()
        return functional.mse_loss(velocity.float(), target.float())

    def _latents(self, clip: TrainingClip) -> torch.Tensor:
        with torch.no_grad():
            latents = self.pipeline.encode(clip.frames)  # (T, C, h, w)
        return latents.transpose(0, 1).unsqueeze(0)  # (1, C, T, h, w)

    def _set_training(self, training: bool) -> None:
        for name, module in self.pipeline.networks.modules().items():
            module.train(training and name in TRAINABLE)
