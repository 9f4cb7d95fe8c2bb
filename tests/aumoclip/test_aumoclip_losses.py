from __future__ import annotations

import torch
from torch.nn import functional as F

from tango.aumoclip.losses import LocalWindow, global_infonce, local_contrastive


def test_local_windows_match_the_paper_definition():
    positive, negative = LocalWindow(4, 4).masks(40)
    row = 20
    assert torch.nonzero(positive[row]).flatten().tolist() == list(range(16, 25))  # |i-j| <= 4
    expected_negative = list(range(5, 16)) + list(range(25, 36))  # (i-16, i-4) U (i+4, i+16)
    assert torch.nonzero(negative[row]).flatten().tolist() == expected_negative
    assert not (positive & negative).any()
    edge_positive, edge_negative = positive[0], negative[0]
    assert torch.nonzero(edge_positive).flatten().tolist() == [0, 1, 2, 3, 4]
    assert torch.nonzero(edge_negative).flatten().tolist() == list(range(5, 16))


def test_local_loss_hand_made_example():
    # one-hot frame embeddings: frame i of audio equals frame i of motion
    frames = 12
    window = LocalWindow(1, 3)  # positives |d| <= 1, negatives 1 < |d| < 3 (i.e. |d| == 2)
    eye = torch.eye(frames)[None]  # (1, T, T) as (B, T, D)
    scale = torch.tensor(10.0)
    loss = local_contrastive(eye, eye, scale, window)
    # anchor i: positive logits {10 (j=i), 0, 0}, negatives {0, 0} (fewer at the edges)
    positive, negative = window.masks(frames)
    pos_count, neg_count = positive.sum(1).float(), negative.sum(1).float()
    expected = torch.log(torch.exp(scale) + pos_count - 1 + neg_count) - torch.log(torch.exp(scale) + pos_count - 1)
    assert torch.isclose(loss, expected.mean(), atol=1e-5)
    shifted = torch.roll(eye, 2, dims=1)  # motion two frames late: the true frame is now a negative
    assert local_contrastive(eye, shifted, scale, window) > loss + 1.0


def test_global_infonce_is_low_for_matching_and_symmetric():
    torch.manual_seed(0)
    audio = F.normalize(torch.randn(8, 16), dim=-1)
    matched = global_infonce(audio, audio, torch.tensor(20.0))
    shuffled = global_infonce(audio, audio.roll(1, 0), torch.tensor(20.0))
    assert matched < 0.1 < shuffled
    motion = F.normalize(torch.randn(8, 16), dim=-1)
    assert torch.isclose(global_infonce(audio, motion, torch.tensor(5.0)),
                         global_infonce(motion, audio, torch.tensor(5.0)), atol=1e-6)


def test_frame_weight_zero_removes_anchors():
    audio = F.normalize(torch.randn(1, 20, 4), dim=-1)
    weight = torch.ones(1, 20)
    assert torch.isclose(local_contrastive(audio, audio, torch.tensor(5.0), frame_weight=weight),
                         local_contrastive(audio, audio, torch.tensor(5.0)), atol=1e-6)
