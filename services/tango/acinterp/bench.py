"""ACInterp's speed at its real size (`make bench`'s `acinterp` section): the full architecture of acinterp.json's
defaults (SD-1.5-sized denoising UNet with the AnimateDiff motion module, ReferenceNet, CLIP ViT-L/14 image
encoder, VAE) with random weights, which cost what trained ones cost, drawing one HD transition: 4 real frames
either side of 8 generated ones at 1280x720, 25 DDIM steps with classifier-free guidance, in float32 and in
bfloat16 (the GPU default). Measured only on a CUDA device: on a CPU one such window takes many minutes."""
from __future__ import annotations

import time

import numpy as np
import torch

from tango.acinterp.config import ACInterpConfig
from tango.acinterp.networks import random_networks
from tango.acinterp.pipeline import ACInterpPipeline

HEIGHT, WIDTH, CONTEXT, GENERATED = 720, 1280, 4, 8


def hd_window(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two (4, 720, 1280, 3) uint8 ends: smooth random images (what they show does not change the cost)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(2 * CONTEXT, 45, 80, 3), dtype=np.uint8)
    frames = small.repeat(16, axis=1).repeat(16, axis=2)
    return frames[:CONTEXT], frames[CONTEXT:]


def acinterp_speed_benchmark(config: ACInterpConfig | None = None, device: str = "cuda", repeats: int = 2,
                             precisions: tuple[str, ...] = ("bfloat16", "float32")) -> dict:
    """Seconds per window and ms per generated frame for each precision (best of `repeats` after a warm-up)."""
    on_gpu = torch.device(device).type == "cuda"
    if on_gpu and not torch.cuda.is_available():
        return {"skipped": "no CUDA device (the real-size model is measured on a GPU only)"}
    config = config or ACInterpConfig()
    began = time.perf_counter()
    networks = random_networks(config, seed=0)
    name = torch.cuda.get_device_name(torch.device(device)) if on_gpu else "cpu"
    synchronize = torch.cuda.synchronize if on_gpu else (lambda: None)
    figures: dict = {"device": name, "generated_frames": GENERATED,
                     "source": f"{WIDTH}x{HEIGHT}", "generation": "x".join(map(str, config.generation_size(HEIGHT, WIDTH)[::-1])),
                     "steps": config.num_inference_steps, "guidance_scale": config.guidance_scale,
                     "parameters_m": round(sum(p.numel() for m in networks.modules().values()
                                               for p in m.parameters()) / 1e6, 1),
                     "init_s": round(time.perf_counter() - began, 1)}
    before, after = hd_window()
    for precision in precisions:
        pipeline = ACInterpPipeline(config, networks, device=device, precision=precision)
        if on_gpu:
            torch.cuda.reset_peak_memory_stats()
        pipeline(before, after, GENERATED)  # warm-up: cuDNN autotuning, allocator
        synchronize()
        seconds = []
        for _ in range(repeats):
            started = time.perf_counter()
            frames = pipeline(before, after, GENERATED)
            synchronize()
            seconds.append(time.perf_counter() - started)
        best = min(seconds)
        figures[precision] = {"seconds_per_window": round(best, 3), "ms_per_frame": round(1000 * best / GENERATED, 1),
                              "frames_shape": list(frames.shape)}
        if on_gpu:
            figures[precision]["peak_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    return figures
