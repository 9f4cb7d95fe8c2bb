"""`tango cluster status` and Job submission against a local fake Kubernetes API server (no cluster):
the real `kubernetes` client talks HTTP to it, so (de)serialisation is exercised end to end."""
from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from tango.cli import cluster_cmd
from tango.cluster.jobs import JobPoolConfig, JobRequest, JobWorkload, build_job, submit_job
from tango.cluster.render import DEFAULT_MANIFESTS
from tango.cluster.status import cluster_status, format_status
from tango.runtime.errors import AlreadyExists

READY = {"perception": 2, "graph": 1, "retrieval": 1, "render": 1, "trainer": 1, "orchestrator": 1,
         "triton-embedding": 1, "triton-interp": 0}


def default_objects(kind: str) -> list[dict]:
    docs = [d for d in yaml.safe_load_all(DEFAULT_MANIFESTS.read_text()) if d]
    return [d for d in docs if d["kind"] == kind]


def deployments_with_status() -> dict:
    items = []
    for body in default_objects("Deployment"):
        stage = body["metadata"]["labels"]["app.kubernetes.io/component"]
        body = {**body, "spec": {**body["spec"], "replicas": 2 if stage == "perception" else 1},
                "status": {"replicas": 2, "readyReplicas": READY[stage], "updatedReplicas": 2, "availableReplicas": READY[stage]}}
        items.append(body)
    return {"apiVersion": "apps/v1", "kind": "DeploymentList", "metadata": {}, "items": items}


def hpas_with_status() -> dict:
    items = []
    for body in default_objects("HorizontalPodAutoscaler"):
        pods_metric = body["spec"]["metrics"][1]["pods"]["metric"]["name"]
        status = {"currentReplicas": 1, "desiredReplicas": 2, "currentMetrics": [
            {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 85, "averageValue": "1700m"}}},
            {"type": "Pods", "pods": {"metric": {"name": pods_metric}, "current": {"averageValue": "1500m"}}}]}
        items.append({**body, "status": status})
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscalerList", "metadata": {}, "items": items}


class FakeApi(BaseHTTPRequestHandler):
    created_jobs: set[str] = set()

    def _send(self, code: int, body: dict) -> None:
        payload = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self):  # noqa: N802
        path = self.path.split("?")[0]
        if "/namespaces/forbidden/" in path:
            return self._send(403, {"kind": "Status", "apiVersion": "v1", "code": 403, "reason": "Forbidden"})
        if path == "/apis/apps/v1/namespaces/tango/deployments":
            return self._send(200, deployments_with_status())
        if path == "/apis/autoscaling/v2/namespaces/tango/horizontalpodautoscalers":
            return self._send(200, hpas_with_status())
        if path.startswith("/apis/apps/v1/namespaces/") and path.endswith("/deployments"):
            return self._send(200, {"kind": "DeploymentList", "apiVersion": "apps/v1", "metadata": {}, "items": []})
        if path.startswith("/apis/autoscaling/v2/namespaces/"):
            return self._send(200, {"kind": "HorizontalPodAutoscalerList", "apiVersion": "autoscaling/v2", "metadata": {}, "items": []})
        return self._send(403, {"kind": "Status", "apiVersion": "v1", "code": 403, "reason": "Forbidden"})

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        name = body["metadata"]["name"]
        if name in FakeApi.created_jobs:
            return self._send(409, {"kind": "Status", "apiVersion": "v1", "code": 409, "reason": "AlreadyExists"})
        FakeApi.created_jobs.add(name)
        return self._send(201, body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture()
def api_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture()
def api_client(api_server):
    from kubernetes import client

    configuration = client.Configuration()
    configuration.host = api_server
    with client.ApiClient(configuration) as api:
        yield api


def test_cluster_status_reports_replicas_and_hpa_targets(api_client):
    status = cluster_status(api_client, "tango")
    assert set(status["stages"]) == set(READY)
    assert status["ready"] is False  # triton-interp has 0 ready
    perception = status["stages"]["perception"]
    assert (perception["desired"], perception["ready"], perception["deployment"]) == (2, 2, "tango-perception")
    hpa = perception["hpa"]
    assert (hpa["min_replicas"], hpa["max_replicas"], hpa["current_replicas"], hpa["desired_replicas"]) == (1, 4, 1, 2)
    assert hpa["metrics"] == [
        {"type": "Resource", "name": "cpu", "target": "70%", "current": "85%"},
        {"type": "Pods", "name": "tango_perception_inflight_requests", "target": "4", "current": "1500m"}]
    assert status["stages"]["triton-interp"]["hpa"]["metrics"][1]["name"] == "tango_triton_inflight_requests"
    json.dumps(status)  # plain data
    table = format_status(status)
    assert "NOT ready" in table and "tango_perception_inflight_requests 1500m/4" in table


def test_empty_namespace_is_not_ready(api_client):
    assert cluster_status(api_client, "elsewhere") == {"namespace": "elsewhere", "ready": False, "stages": {}}


def test_cli_cluster_status_json_through_a_kubeconfig(api_server, tmp_path, capsys):
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "fake",
        "clusters": [{"name": "fake", "cluster": {"server": api_server}}],
        "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "me"}}],
        "users": [{"name": "me", "user": {"token": "t"}}]}))
    parser = argparse.ArgumentParser(prog="tango")
    cluster_cmd.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["cluster", "status", "--namespace", "tango", "--json", "--kubeconfig", str(kubeconfig)])
    assert args.func(args) == 1  # not every stage is ready
    printed = json.loads(capsys.readouterr().out)
    assert printed["stages"]["orchestrator"]["ready"] == 1
    args = parser.parse_args(["cluster", "status", "-n", "forbidden", "--kubeconfig", str(kubeconfig)])
    from tango.runtime.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        args.func(args)


def test_submit_job_creates_once_then_refuses_the_same_request(api_client):
    pool = JobPoolConfig(image="img:1", namespace="batch")
    job = build_job(pool, JobRequest(JobWorkload.SPEAKER_INGEST, ("ingest", "x.mp4"), "same-request"))
    assert submit_job(api_client, job) == job.metadata.name
    with pytest.raises(AlreadyExists):
        submit_job(api_client, job)
