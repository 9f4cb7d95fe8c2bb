"""`tango interp eval --jumps --json` on a short real clip, perception and graph served in-process."""
from __future__ import annotations

import json

import cv2
import pytest

from support import allowed_roots, shared_media
from tango.cli.main import main
from tango.graph.config import GraphConfig
from tango.graph.server import build as build_graph_service
from tango.perception.config import PerceptionConfig
from tango.perception.server import build as build_perception_service

MEASURES = {"psnr", "ssim", "ghosting", "bleed", "warp_error", "face_sharpness", "hand_clarity", "face_sharpness_error",
            "hand_clarity_error", "ms_per_frame"}


@pytest.fixture(scope="module")
def endpoints(store_root, inputs_root):
    common = dict(port=0, metrics_port=-1, data_uri=store_root.as_uri(), allowed_roots=allowed_roots(inputs_root),
                  grace_s=1)
    services = [build_perception_service(PerceptionConfig(service="perception", **common)),
                build_graph_service(GraphConfig(service="graph", **common))]
    for service in services:
        service.start()
        service.mark_ready()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TANGO_PERCEPTION_ENDPOINT", f"127.0.0.1:{services[0].port}")
        patch.setenv("TANGO_GRAPH_ENDPOINT", f"127.0.0.1:{services[1].port}")
        yield
    for service in services:
        service.stop()


def test_jump_eval_prints_every_model_and_writes_the_strip(endpoints, tmp_path, capsys):
    video = shared_media("video/tango_speaker8.mp4")
    strip = tmp_path / "worst.png"
    code = main(["interp", "eval", "--video", str(video), "--jumps", "--json", "--windows", "2", "--gaps", "1",
                 "--strip", str(strip)])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["default"] == "layered" and set(result["models"]) == {"flow", "crossfade", "layered"}
    assert result["windows"] == 2 and result["strip"] == str(strip) and result["held_out_gaps"] == 1
    assert 0 <= result["reference_windows"] <= 2
    for scores in result["models"].values():
        assert MEASURES <= set(scores)
        assert all(isinstance(scores[m], float) for m in ("psnr", "ssim", "ghosting", "warp_error", "ms_per_frame"))
    assert result["width"] == 768 and result["height"] == 768
    image = cv2.imread(str(strip))
    assert image is not None and image.shape[0] > 3 * 100 and image.shape[1] > 10 * 100  # 2 windows x 3 models


def test_unknown_models_are_refused(endpoints, capsys):
    video = shared_media("video/tango_speaker8.mp4")
    assert main(["interp", "eval", "--video", str(video), "--jumps", "--models", "flow,magic"]) == 2
    assert "magic" in capsys.readouterr().err
