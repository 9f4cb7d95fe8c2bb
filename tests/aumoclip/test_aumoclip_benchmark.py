"""The real result: 5 minutes of training on the first 80 % of BEAT2 2_scott_0_1_1, tested on the last 20 %."""
from __future__ import annotations

import json

import pytest
from aumoclip_testkit import BEAT2_PREFIX, require_media

from tango.aumoclip.benchmark import run_benchmark


@pytest.mark.slow
def test_five_minute_training_beats_the_baselines(tmp_path):
    require_media()
    figures = run_benchmark(BEAT2_PREFIX, tmp_path / "run", minutes=5.0, seed=0)
    print(json.dumps(figures, indent=1))
    assert figures["low_acc"] > figures["low_random"]
    assert figures["low_acc"] > figures["onset_low_acc"]
    assert figures["high_acc"] > 2 * figures["high_random"]
