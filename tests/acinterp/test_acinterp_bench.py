"""`make bench`'s acinterp section: the figures it prints, measured here on the tiny model on the CPU (the
real-size model is measured on a GPU only, and says so where there is none)."""
from __future__ import annotations

import torch

from tango.acinterp.bench import GENERATED, acinterp_speed_benchmark


def test_the_speed_bench_times_every_precision(tiny_config):
    figures = acinterp_speed_benchmark(tiny_config, device="cpu", repeats=1)
    assert figures["device"] == "cpu" and figures["source"] == "1280x720" and figures["generation"] == "64x40"
    for precision in ("bfloat16", "float32"):
        assert figures[precision]["frames_shape"] == [GENERATED, 720, 1280, 3]
        assert figures[precision]["seconds_per_window"] > 0
    if not torch.cuda.is_available():
        assert "skipped" in acinterp_speed_benchmark()
