"""RetrievalService over gRPC with a real Triton: node embeddings, searches in every mode, bad input."""
from __future__ import annotations

import grpc
import numpy as np
import pytest
import soundfile as sf

from support import allowed_roots
from tango.artifacts.store import ArtifactStore
from tango.graph.artifact_io import write_graph_artifact
from tango.graph.build import build_graph
from tango.graph.synthetic import synthetic_perception
from tango.retrieval.config import RetrievalConfig
from tango.retrieval.server import build
from tango.retrieval.v1 import retrieval_service_pb2 as pb
from tango.retrieval.v1 import retrieval_service_pb2_grpc as pb_grpc
from tango.triton.launcher import TritonServer, TritonServerConfig

CHECKPOINT = "tinymediapipe"


def save_tiny_mediapipe_checkpoint(directory) -> None:
    import torch

    from tango.aumoclip.checkpoint import save_checkpoint
    from tango.aumoclip.config import AuMoCLIPConfig
    from tango.aumoclip.model import AuMoCLIP

    torch.manual_seed(0)
    config = AuMoCLIPConfig.for_representation("mediapipe", embed_dim=16, motion_hidden=32, motion_layers=2,
                                               motion_low_layers=1, transformer_dim=32, transformer_ff=64,
                                               audio_conv_channels=(16,) * 7)
    save_checkpoint(AuMoCLIP(config), directory)


@pytest.fixture(scope="module")
def setup(tmp_path_factory, inputs_root):
    root = tmp_path_factory.mktemp("retrieval-store")
    store = ArtifactStore(root.as_uri())
    save_tiny_mediapipe_checkpoint(root / "checkpoint" / CHECKPOINT)
    graph = build_graph([synthetic_perception(600, seed=3)])
    graph_uri = store.create("graph", "1" * 64, lambda tmp: write_graph_artifact(tmp, graph)).uri
    speech = inputs_root / "speech.wav"
    t = np.arange(16000 * 9) / 16000
    sf.write(str(speech), (0.3 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 2 * t) > 0)).astype(np.float32), 16000)
    triton_config = TritonServerConfig(models=("aumoclip_audio", "aumoclip_motion"), checkpoint_root=root / "checkpoint",
                                       backend_cache_dir=tmp_path_factory.mktemp("backends"))
    with TritonServer(triton_config) as triton:
        config = RetrievalConfig(service="retrieval", port=0, metrics_port=-1, data_uri=root.as_uri(),
                                 allowed_roots=allowed_roots(inputs_root), embed_url=triton.urls.grpc,
                                 memory_bound_bytes=3 << 20)  # 9 s of speech fits, 10 min does not
        service = build(config)
        service.start()
        service.mark_ready()
        stub = pb_grpc.RetrievalServiceStub(grpc.insecure_channel(f"127.0.0.1:{service.port}"))
        yield {"stub": stub, "graph": graph_uri, "speech": speech, "nodes": int(graph.arrays["indptr"].size - 1)}
        service.stop()


def search(setup, mode=pb.SEARCH_MODE_DP, **fields) -> pb.SearchPathResponse:
    request = pb.SearchPathRequest(graph_uri=setup["graph"], audio_uri=str(setup["speech"]), checkpoint=CHECKPOINT,
                                   mode=mode, **fields)
    return setup["stub"].SearchPath(request, timeout=300)


def test_prepare_graph_embeds_once(setup):
    first = setup["stub"].PrepareGraph(pb.PrepareGraphRequest(graph_uri=setup["graph"], checkpoint=CHECKPOINT), timeout=300)
    again = setup["stub"].PrepareGraph(pb.PrepareGraphRequest(graph_uri=setup["graph"], checkpoint=CHECKPOINT), timeout=60)
    assert first.nodes == setup["nodes"] and first.dim == 16 and again.cache_hit
    assert again.embeddings.uri == first.embeddings.uri


def test_every_mode_returns_a_full_path_over_graph_edges(setup):
    steps = int(np.ceil(9 * 30 / 4))
    results = {mode: search(setup, mode) for mode in (pb.SEARCH_MODE_DP, pb.SEARCH_MODE_BEAM, pb.SEARCH_MODE_ONSET,
                                                       pb.SEARCH_MODE_RANDOM)}
    for reply in results.values():
        assert reply.steps == steps == len(reply.path)
        assert all(0 <= node < setup["nodes"] for node in reply.path)
        assert reply.jumps == len(reply.jump_steps)
    assert results[pb.SEARCH_MODE_DP].cost <= min(r.cost for r in results.values()) + 1e-6
    pinned = search(setup, options=pb.SearchOptions(start_node=5, pins=[pb.Pin(step=10, node=15)]))  # reachable
    assert pinned.path[0] == 5 and pinned.path[10] == 15
    no_jumps = search(setup, options=pb.SearchOptions(jump_penalty=100.0))
    assert no_jumps.jumps <= results[pb.SEARCH_MODE_DP].jumps


def test_precomputed_features(setup):
    rng = np.random.default_rng(0)
    low, high = rng.normal(size=(60, 16)).astype("<f4"), rng.normal(size=(3, 16)).astype("<f4")
    features = pb.AudioFeatures(frames=60, dim=16, low=low.tobytes(), high=high.tobytes(), high_windows=3,
                                high_hop_frames=30)
    reply = setup["stub"].SearchPath(pb.SearchPathRequest(graph_uri=setup["graph"], features=features,
                                                          checkpoint=CHECKPOINT), timeout=120)
    assert reply.steps == 15


@pytest.mark.parametrize("change, code", [
    ({"graph_uri": "file:///nowhere/graph/" + "2" * 64}, grpc.StatusCode.NOT_FOUND),
    ({"checkpoint": ""}, grpc.StatusCode.INVALID_ARGUMENT),
    ({"checkpoint": "missing-checkpoint"}, grpc.StatusCode.NOT_FOUND),
    ({"options": pb.SearchOptions(start_node=10**6)}, grpc.StatusCode.INVALID_ARGUMENT),
])
def test_bad_requests(setup, change, code):
    request = pb.SearchPathRequest(graph_uri=setup["graph"], audio_uri=str(setup["speech"]), checkpoint=CHECKPOINT)
    for key, value in change.items():
        if isinstance(value, pb.SearchOptions):
            request.options.CopyFrom(value)
        else:
            setattr(request, key, value)
    with pytest.raises(grpc.RpcError) as caught:
        setup["stub"].SearchPath(request, timeout=120)
    assert caught.value.code() == code


def test_dimension_mismatch_and_memory_bound(setup, inputs_root):
    features = pb.AudioFeatures(frames=8, dim=4, low=np.zeros((8, 4), "<f4").tobytes(),
                                high=np.zeros((1, 4), "<f4").tobytes(), high_windows=1, high_hop_frames=30)
    with pytest.raises(grpc.RpcError) as caught:
        setup["stub"].SearchPath(pb.SearchPathRequest(graph_uri=setup["graph"], features=features,
                                                      checkpoint=CHECKPOINT), timeout=60)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    long_speech = inputs_root / "long.wav"
    sf.write(str(long_speech), (0.2 * np.random.default_rng(1).normal(size=16000 * 600)).astype(np.float32), 16000)
    with pytest.raises(grpc.RpcError) as caught:
        setup["stub"].SearchPath(pb.SearchPathRequest(graph_uri=setup["graph"], audio_uri=str(long_speech),
                                                      checkpoint=CHECKPOINT), timeout=300)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_silent_and_empty_audio(setup, inputs_root):
    silent = inputs_root / "silent.wav"
    sf.write(str(silent), np.zeros(16000 * 2, dtype=np.float32), 16000)
    for request in (pb.SearchPathRequest(graph_uri=setup["graph"], audio_uri=str(silent), checkpoint=CHECKPOINT),
                    pb.SearchPathRequest(graph_uri=setup["graph"], checkpoint=CHECKPOINT)):
        with pytest.raises(grpc.RpcError) as caught:
            setup["stub"].SearchPath(request, timeout=60)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
