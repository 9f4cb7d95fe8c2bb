"""Graph of real MediaPipe perception of real reference videos (slow: runs the perception pipeline)."""
from __future__ import annotations

import numpy as np
import pytest
from support import shared_media

from tango.graph.build import build_graph


@pytest.mark.slow
def test_real_two_video_graph_prunes_to_zero_dead_ends():
    videos = [shared_media("video/tango_female_test_V1_22s.mp4"), shared_media("video/tango_speaker12.mp4")]
    from tango.perception.pipeline import analyze_video

    artifacts = [analyze_video(path) for path in videos]
    result = build_graph(artifacts, perception_uris=[str(path) for path in videos])
    stats = result.meta["stats"]
    assert stats["nodes"] > 150 and stats["kept_nodes"] > 0.5 * stats["nodes"]
    assert stats["jump_edges"] > 0 and stats["dead_end_rate_30s_after"] == 0.0
    assert stats["dead_end_rate_30s_before"] >= stats["dead_end_rate_30s_after"]
    assert result.arrays["motion"].shape == (stats["kept_nodes"], 4, 33, 15)
    assert np.isfinite(result.arrays["motion"]).all()
