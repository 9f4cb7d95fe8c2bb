"""One v-prediction training step: overfitting a single tiny clip lowers the loss."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from acinterp_testkit import moving_scene

from tango.acinterp.config import ACInterpConfig
from tango.acinterp.train import ACInterpTrainer, prepare_training_clip
from tango.acinterp.weights import random_acinterp


@pytest.fixture(scope="module")
def trainer_and_clip():
    config = ACInterpConfig.tiny(resolution=32, reference_dropout=0.2)
    pipeline = random_acinterp(config, seed=0)
    clip = prepare_training_clip(pipeline, moving_scene(6, 32, 32))  # k = 2 context + 2 middle + 2 context
    return ACInterpTrainer(pipeline, learning_rate=2e-3, seed=0), clip


def test_clip_preparation(trainer_and_clip):
    _, clip = trainer_and_clip
    assert clip.frames.shape == (6, 32, 32, 3)
    assert clip.conditioning.pose_images.shape == (6, 32, 32, 3)
    assert clip.conditioning.flow_images.shape == (6, 2, 32, 32)
    np.testing.assert_allclose(clip.conditioning.taus, [-1 / 3, 0, 1 / 3, 2 / 3, 1, 4 / 3], atol=1e-6)
    assert clip.reference_indices == (1, 4)


def test_overfitting_one_clip_lowers_the_loss(trainer_and_clip):
    trainer, clip = trainer_and_clip
    frozen_before = {k: v.clone() for k, v in trainer.pipeline.networks.vae.state_dict().items()}
    guider_before = trainer.pipeline.networks.pose_guider.conv_out.weight.detach().clone()
    start = trainer.evaluation_loss(clip)
    losses = [trainer.step(clip) for _ in range(30)]
    end = trainer.evaluation_loss(clip)
    assert all(np.isfinite(losses))
    assert end < 0.8 * start, f"evaluation loss {start:.4f} -> {end:.4f}"
    vae_after = trainer.pipeline.networks.vae.state_dict()
    assert all(torch.equal(v, vae_after[k]) for k, v in frozen_before.items())  # the VAE stays frozen
    assert not torch.equal(guider_before, trainer.pipeline.networks.pose_guider.conv_out.weight)  # guiders train
    assert trainer.evaluation_loss(clip) == end  # evaluation is deterministic
