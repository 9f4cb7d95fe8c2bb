"""Fixtures of the ACInterp tests: one tiny random pipeline and its saved weights per session."""
from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """The tiny networks run faster on one thread than two, and on a shared 2-core box two threads
    oversubscribe the CPUs badly (measured 10x slower); restored after each module."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def tiny_config():
    from tango.acinterp.config import ACInterpConfig

    return ACInterpConfig.tiny()


@pytest.fixture(scope="session")
def tiny_pipeline(tiny_config):
    from tango.acinterp.weights import random_acinterp

    return random_acinterp(tiny_config, seed=0)


@pytest.fixture(scope="session")
def tiny_weights_dir(tiny_pipeline, tmp_path_factory) -> Path:
    from tango.acinterp.weights import save_acinterp

    return save_acinterp(tiny_pipeline, tmp_path_factory.mktemp("acinterp") / "tiny")
