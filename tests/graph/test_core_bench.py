"""The build benchmark runs and reports time and memory (the 27 000-node figure is slow)."""
from __future__ import annotations

import pytest

from tango.graph.bench import bench_graph_build


def test_bench_reports_seconds_and_memory():
    report = bench_graph_build(300)
    assert report["nodes"] == 300 and report["frames"] == 1200
    assert report["seconds"] > 0 and report["tracemalloc_peak_mb"] > 0 and report["rss_peak_mb"] > 0
    assert report["dead_end_rate_30s_after"] == 0.0


@pytest.mark.slow
def test_bench_27000_nodes_fits_in_memory():
    report = bench_graph_build(27000)
    assert report["rss_peak_delta_mb"] < 4096
