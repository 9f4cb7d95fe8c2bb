from __future__ import annotations

import torch
from aumoclip_testkit import tiny_config

from tango.aumoclip.keyframes import KeyframeConfig, keyframe_scores, mask_keyframes, select_keyframes
from tango.aumoclip.model import AuMoCLIP


def test_density_peaks_of_two_clusters_are_the_key_frames():
    # frames 0-5 sit around A, 6-9 around B, frame 10 alone: the two cluster centres score highest
    a, b = torch.tensor([0.0, 0.0]), torch.tensor([3.0, 0.0])
    latents = torch.stack([a + 0.01 * k for k in range(6)] + [b + 0.01 * k for k in range(4)]
                          + [torch.tensor([1.5, 3.0])])[None]  # (1, 11, 2)
    scores = keyframe_scores(latents)
    keys = select_keyframes(latents, fraction=2 / 11)
    chosen = torch.nonzero(keys[0]).flatten().tolist()
    assert len(chosen) == 2
    assert any(k < 6 for k in chosen) and any(6 <= k < 10 for k in chosen)
    assert scores.shape == (1, 11) and torch.all(scores > 0)


def test_masking_replaces_key_frames_with_the_input_mean():
    model = AuMoCLIP(tiny_config()).eval()
    model.motion_tower.set_input_statistics(torch.full((825,), 0.25), torch.ones(825))
    motion = torch.randn(2, 30, 55, 15)
    masked = mask_keyframes(model, motion, KeyframeConfig(enabled=True, fraction=0.2))
    changed = (masked != motion).flatten(2).any(-1)  # (B, T)
    assert changed.sum(1).tolist() == [6, 6]
    assert torch.all(masked[changed] == 0.25)
