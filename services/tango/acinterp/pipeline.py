"""ACInterpPipeline: transition frames by pose-guided video diffusion (TANGO §3.3, AnimateAnyone-style).

One call, (before (k, H, W, 3) uint8, after (k, H, W, 3) uint8, n) -> (n, H, W, 3) uint8:
1. resize the 2k real frames to the generation size (long side = config.resolution);
2. conditioning images: detected / blended pose skeletons and the background offset flow (conditioning.py);
3. VAE-encode the real frames: the known latents of a k + n + k clip;
4. CLIP-embed the two reference frames (last before, first after): a 2-token cross-attention context;
5. ReferenceNet write pass on the reference latents (timestep 0) fills the attention bank;
6. DDIM (v-prediction) temporal inpainting of the clip with classifier-free guidance - conditional: bank +
   CLIP context, unconditional: no bank + zeroed context; pose + background features in both (sampling.py);
7. decode the n generated frames, resize back to H x W.
Deterministic for a seed (noise drawn on the CPU). One call at a time per pipeline (the bank is shared).
Precision (`precision`): float32 on the CPU; on a GPU bfloat16 by default (the float32 range, so random or
fine-tuned weights cannot overflow as they may in float16), the networks and the sampling loop alike.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch

from tango.acinterp.conditioning import ClipConditioning, transition_conditioning
from tango.acinterp.config import ACInterpConfig, check_precision
from tango.acinterp.networks import ACInterpNetworks
from tango.acinterp.pose_render import Observer, observe_video
from tango.acinterp.sampling import inpaint_clip
from tango.acinterp.scheduler import make_scheduler
from tango.interp.transition import validate_ends
from tango.runtime.errors import InvalidArgument

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)  # OpenAI CLIP image normalisation
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
VAE_CHUNK = 8  # frames per VAE call


def network_dtype(precision: str, device: torch.device | str) -> torch.dtype:
    """A name of config.PRECISIONS ("auto": bfloat16 on a GPU, float32 on the CPU) -> the networks' dtype."""
    check_precision(precision)
    if precision == "auto":
        return torch.bfloat16 if torch.device(device).type == "cuda" else torch.float32
    return getattr(torch, precision)


class ACInterpPipeline:
    def __init__(self, config: ACInterpConfig, networks: ACInterpNetworks, device: torch.device | str = "cpu",
                 observe: Observer = observe_video, precision: str = "auto"):
        self.config = config.validate()
        self.device = torch.device(device)
        self.dtype = network_dtype(precision, self.device)
        self.networks = networks.to(self.device, self.dtype).eval()
        for module in networks.modules().values():
            module.requires_grad_(False)  # inference; ACInterpTrainer re-enables what it trains
        self.scheduler = make_scheduler(config.scheduler)
        self.observe = observe
        self.bank = networks.bank
        self.injection = networks.injection

    @torch.no_grad()
    def __call__(self, before: np.ndarray, after: np.ndarray, num_frames: int, *, seed: int | None = None,
                 num_inference_steps: int | None = None, guidance_scale: float | None = None) -> np.ndarray:
        before, after = self.context_frames(before, after, num_frames)
        height, width = before.shape[1:3]
        size = self.config.generation_size(height, width)
        small_before, small_after = resize_frames(before, *size), resize_frames(after, *size)
        conditioning = transition_conditioning(small_before, small_after, num_frames, self.config, self.observe)
        known, known_frames = self.known_latents(small_before, small_after, num_frames)  # (1, C, T, h, w), (T,)
        try:
            context = self.write_reference(np.stack([small_before[-1], small_after[0]]))  # (1, 2, D)
            features = self.guider_features(conditioning)  # (T, C0, h, w)
            generator = torch.Generator().manual_seed(self.config.seed if seed is None else seed)
            steps = self.config.num_inference_steps if num_inference_steps is None else num_inference_steps
            guidance = self.config.guidance_scale if guidance_scale is None else guidance_scale
            latents = inpaint_clip(self.scheduler, known, known_frames, self.denoiser(context, features), steps,
                                   guidance, generator)
        finally:
            self.bank.clear()
        generated = latents[:, :, len(small_before):len(small_before) + num_frames]  # (1, C, n, h, w)
        return resize_frames(self.decode(generated[0].transpose(0, 1)), height, width)

    # ---- steps ----

    def context_frames(self, before: np.ndarray, after: np.ndarray, num_frames: int) -> tuple[np.ndarray, np.ndarray]:
        """The last k of `before` and the first k of `after`; InvalidArgument when the clip cannot hold them."""
        max_generated = self.config.max_clip_frames - 2
        validate_ends(before, after, num_frames, max_generated)
        k = self.config.context_frames
        before, after = before[-k:], after[:k]
        if len(before) + num_frames + len(after) > self.config.max_clip_frames:
            raise InvalidArgument(
                f"{len(before)} + {num_frames} + {len(after)} frames exceed the motion module's "
                f"{self.config.max_clip_frames}", reason="BAD_TRANSITION_INPUT")
        return before, after

    def known_latents(self, before: np.ndarray, after: np.ndarray,
                      num_frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(1, C, T, h, w) latents with the real frames in place (zeros between) and the (T,) known mask."""
        real = self.encode(np.concatenate([before, after]))  # (kb + ka, C, h, w)
        gap = real.new_zeros((num_frames,) + real.shape[1:])  # (n, C, h, w)
        clip = torch.cat([real[:len(before)], gap, real[len(before):]])  # (T, C, h, w)
        mask = torch.zeros(clip.shape[0], dtype=torch.bool)
        mask[:len(before)] = True
        mask[len(before) + num_frames:] = True
        return clip.transpose(0, 1).unsqueeze(0), mask

    def encode(self, frames: np.ndarray) -> torch.Tensor:
        """(N, h, w, 3) uint8 -> (N, C, h / f, w / f) scaled latents (the posterior mean)."""
        vae = self.networks.vae
        pixels = to_pixels(frames, self.device, vae.dtype)  # (N, 3, h, w) in [-1, 1]
        means = [vae.encode(chunk).latent_dist.mean for chunk in pixels.split(VAE_CHUNK)]
        return torch.cat(means) * vae.config.scaling_factor

    def decode(self, latents: torch.Tensor) -> np.ndarray:
        """(N, C, h, w) scaled latents -> (N, h * f, w * f, 3) uint8."""
        vae = self.networks.vae
        images = [vae.decode(chunk / vae.config.scaling_factor).sample for chunk in latents.split(VAE_CHUNK)]
        pixels = torch.cat(images).clamp(-1, 1)  # (N, 3, H, W)
        return ((pixels + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()

    def embed_images(self, images: np.ndarray) -> torch.Tensor:
        """(R, h, w, 3) uint8 -> (R, D) CLIP image embeddings (projection output)."""
        encoder = self.networks.image_encoder
        pixels = clip_pixels(images, encoder.config.image_size, self.device, encoder.dtype)  # (R, 3, S, S)
        return encoder(pixel_values=pixels).image_embeds

    def write_reference(self, references: np.ndarray) -> torch.Tensor:
        """Fills the bank from the ReferenceNet on R reference frames; returns the (1, R, D) CLIP context."""
        embeds = self.embed_images(references)  # (R, D)
        latents = self.encode(references)  # (R, C, h, w)
        timestep = torch.zeros((), dtype=torch.long, device=self.device)
        with self.bank.recording(refs_per_clip=len(references)):
            self.networks.reference_net(latents, timestep, encoder_hidden_states=embeds[:, None])
        return embeds.unsqueeze(0)

    def guider_features(self, conditioning: ClipConditioning) -> torch.Tensor:
        """(T, C0, h, w): PoseGuider(pose images) + BackgroundGuider(offset flow)."""
        dtype = self.networks.unet.dtype
        poses = torch.from_numpy(conditioning.pose_images).to(self.device).permute(0, 3, 1, 2).to(dtype) / 255.0
        flows = torch.from_numpy(conditioning.flow_images).to(self.device, dtype)  # (T, 2, H, W)
        return self.networks.pose_guider(poses) + self.networks.background_guider(flows)

    def denoiser(self, context: torch.Tensor, features: torch.Tensor):
        """v(latents, t, conditional): the motion UNet with guider features; bank + context only if conditional."""
        unet, empty = self.networks.unet, torch.zeros_like(context)

        def denoise(latents: torch.Tensor, timestep: torch.Tensor, conditional: bool) -> torch.Tensor:
            frames = latents.shape[2]
            hidden = (context if conditional else empty).repeat_interleave(frames, dim=0)  # (B * T, R, D)
            with self.bank.reading(conditional), self.injection.adding(features):
                return unet(latents, timestep, encoder_hidden_states=hidden).sample  # (B, C, T, h, w)

        return denoise


def resize_frames(frames: np.ndarray, height: int, width: int) -> np.ndarray:
    """(N, h, w, 3) uint8 -> (N, height, width, 3); area filter down, cubic up."""
    if frames.shape[1:3] == (height, width):
        return np.ascontiguousarray(frames)
    shrink = height * width < frames.shape[1] * frames.shape[2]
    method = cv2.INTER_AREA if shrink else cv2.INTER_CUBIC
    return np.stack([cv2.resize(frame, (width, height), interpolation=method) for frame in frames])


def to_pixels(frames: np.ndarray, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """(N, h, w, 3) uint8 -> (N, 3, h, w) in [-1, 1]."""
    tensor = torch.from_numpy(np.ascontiguousarray(frames)).to(device).permute(0, 3, 1, 2)
    return tensor.to(dtype) / 127.5 - 1.0


def clip_pixels(images: np.ndarray, size: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """CLIP preprocessing: short side to `size` (bicubic), centre crop, normalise -> (N, 3, size, size)."""
    crops = []
    for image in images:
        height, width = image.shape[:2]
        scale = size / min(height, width)
        resized = cv2.resize(image, (max(size, round(width * scale)), max(size, round(height * scale))),
                             interpolation=cv2.INTER_CUBIC)
        top, left = (resized.shape[0] - size) // 2, (resized.shape[1] - size) // 2
        crops.append(resized[top:top + size, left:left + size])
    pixels = torch.from_numpy(np.stack(crops)).to(device).permute(0, 3, 1, 2).to(dtype) / 255.0
    mean = torch.tensor(CLIP_MEAN, device=device, dtype=dtype).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD, device=device, dtype=dtype).view(1, 3, 1, 1)
    return (pixels - mean) / std
