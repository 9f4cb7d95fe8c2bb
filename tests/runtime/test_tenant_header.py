"""The tenant a stage works for: artifact keys are the scope's tenant's, the orchestrator's stage channels name
it, and a stage serves the call in it (a real perception service over gRPC)."""
from __future__ import annotations

import threading

import grpc
import pytest
from grpc_status import rpc_status
from google.rpc import error_details_pb2
from support import allowed_roots, shared_media

from tango.artifacts.hashing import artifact_tenant, key_sha256, tenant_scope
from tango.perception.config import PerceptionConfig
from tango.perception.server import build
from tango.perception.v1 import perception_service_pb2 as perception_pb
from tango.perception.v1 import perception_service_pb2_grpc as perception_grpc
from tango.runtime.progress import Finished, run_with_progress
from tango.runtime.tenant_header import HEADER, tenant_channel


def test_keys_are_the_scopes_tenants():
    description = {"video": "a" * 64}
    plain = key_sha256(description)
    with tenant_scope("news"):
        news = key_sha256(description)
        with tenant_scope("sport"):
            sport = key_sha256(description)
        assert key_sha256(description) == news
    assert len({plain, news, sport}) == 3 and key_sha256(description) == plain


def test_long_work_runs_in_the_callers_scope():
    with tenant_scope("news"):
        events = list(run_with_progress(lambda report, stop: (artifact_tenant(), threading.current_thread().name),
                                        lambda: False))
    assert events[-1] == Finished(("news", "long-work"))


@pytest.fixture(scope="module")
def perception(tmp_path_factory):
    home = tmp_path_factory.mktemp("perception")
    service = build(PerceptionConfig(service="perception", port=0, metrics_port=-1, grace_s=0,
                                     data_uri=(home / "data").as_uri(), allowed_roots=allowed_roots(home)))
    service.start()
    yield f"127.0.0.1:{service.port}"
    service.stop(grace_s=0)


def _analysis_uri(target: str, tenant: str) -> str:
    """The perception artifact of a clip, analysed through a stage channel in `tenant`'s scope."""
    request = perception_pb.AnalyzeVideoRequest(video_uri=str(shared_media("video/tango_speaker8.mp4")),
                                                options=perception_pb.AnalysisOptions(max_seconds=1.0))
    with grpc.insecure_channel(target) as raw, tenant_scope(tenant):
        replies = list(perception_grpc.PerceptionServiceStub(tenant_channel(raw)).AnalyzeVideo(request, timeout=120))
    return replies[-1].result.artifact.uri


def test_a_stage_makes_each_tenants_artifacts_apart(perception):
    news, sport, unscoped = (_analysis_uri(perception, t) for t in ("news", "sport", ""))
    assert len({news, sport, unscoped}) == 3
    assert _analysis_uri(perception, "news") == news  # found again, by the same tenant only


def test_a_malformed_tenant_header_is_refused(perception):
    request = perception_pb.PlanAnalysisRequest(video_uri=str(shared_media("video/tango_speaker8.mp4")))
    with grpc.insecure_channel(perception) as channel, pytest.raises(grpc.RpcError) as caught:
        perception_grpc.PerceptionServiceStub(channel).PlanAnalysis(request, metadata=[(HEADER, "../Other")], timeout=10)
    info = error_details_pb2.ErrorInfo()
    rpc_status.from_call(caught.value).details[0].Unpack(info)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and info.reason == "BAD_TENANT"
