"""AuMoCLIP training on a CUDA device (the GPU training Jobs' path): the same model as on the CPU up to float
rounding, saved from the CPU side, so a run started on the GPU resumes and loads on the CPU. Skipped without a
GPU; the device check (`pytest -m gpu`) runs it on one. Where no GPU is, asking for one is a clear error."""
from __future__ import annotations

import pytest
import torch
from aumoclip_testkit import synthetic_pair, tiny_config

from tango.aumoclip.checkpoint import load_checkpoint
from tango.aumoclip.data import gather_clips
from tango.aumoclip.train import TrainConfig, train, training_device
from tango.runtime.errors import FailedPrecondition

FAST = TrainConfig(batch_size=4, window_stride_frames=6, warmup_steps=1, learning_rate=3e-3)
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def test_training_device_names():
    assert training_device("cpu") == torch.device("cpu")
    assert training_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(FailedPrecondition) as caught:
        training_device("tpu")
    assert caught.value.reason == "BAD_TRAINING_DEVICE"
    with pytest.raises(FailedPrecondition) as caught:
        training_device(f"cuda:{torch.cuda.device_count()}")  # one past the last GPU (every GPU where none is)
    assert caught.value.reason == "CUDA_UNAVAILABLE"


@pytest.mark.gpu
@needs_cuda
def test_training_on_the_gpu_matches_the_cpu_and_resumes_on_the_cpu(tmp_path):
    config = tiny_config()
    pairs = [synthetic_pair(seconds=3.0, seed=0), synthetic_pair(seconds=3.0, seed=1)]
    on_cpu = train(pairs, tmp_path / "cpu", config, epochs=2, seed=5, train_config=FAST, device="cpu")
    on_gpu = train(pairs, tmp_path / "gpu", config, epochs=2, seed=5, train_config=FAST, device="cuda")
    assert on_gpu.steps == on_cpu.steps > 0
    losses = [(c["loss"], g["loss"]) for c, g in zip(on_cpu.history, on_gpu.history)]
    print("losses cpu/gpu per epoch", losses)
    assert all(abs(c - g) < 0.05 * abs(c) + 1e-3 for c, g in losses)

    cpu_model, gpu_model = load_checkpoint(tmp_path / "cpu"), load_checkpoint(tmp_path / "gpu")  # both on the CPU
    assert next(gpu_model.parameters()).device.type == "cpu"
    batch = gather_clips(pairs, torch.tensor([0, 1]).numpy(), torch.tensor([0, 30]).numpy(), config.clip_frames)
    with torch.no_grad():
        (_, cpu_audio), (_, cpu_motion) = cpu_model(torch.from_numpy(batch.wave), torch.from_numpy(batch.motion))
        (_, gpu_audio), (_, gpu_motion) = gpu_model(torch.from_numpy(batch.wave), torch.from_numpy(batch.motion))
    similarity = torch.nn.functional.cosine_similarity(torch.cat([cpu_audio, cpu_motion]),
                                                       torch.cat([gpu_audio, gpu_motion]), dim=-1)
    print("embedding cosine cpu/gpu", similarity.tolist())
    assert similarity.min() > 0.98

    resumed = train(pairs, tmp_path / "gpu", config, epochs=3, seed=5, train_config=FAST, device="cpu")
    assert resumed.epochs == 3 and resumed.steps > on_gpu.steps  # the GPU's train state continues on the CPU
