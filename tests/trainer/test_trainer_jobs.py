"""Training as a Kubernetes Job, without a cluster: the Job built for a training (valid for Kubernetes 1.30,
on the training pool, running the `tango trainer train` command line), the phase read from the client's
V1Job objects, and the executor driven through the real `kubernetes` client against a local fake API
server that plays the Job's lifecycle (the Job's work, writing the checkpoint, is simulated)."""
from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml
from kubernetes import client

from tango.artifacts.store import ArtifactStore
from tango.cli.main import build_parser
from tango.cluster.jobs import JobPoolConfig, build_job, job_manifest, job_phase
from tango.cluster.validate import validate_object
from tango.runtime.errors import Cancelled, FailedPrecondition, Unavailable
from tango.trainer.job_executor import KubernetesJobExecutor, kubernetes_api_client, training_job_request
from tango.trainer.training import KIND, TrainingPlan

KEY = "c" * 64
PLAN = TrainingPlan(KEY, ("file:///data/perception/" + "1" * 64, "file:///data/perception/" + "2" * 64), 3.0,
                    config=None, artifacts=())
POOL = JobPoolConfig(image="ghcr.io/tango-reenact/tango-trainer:0.1.0", namespace="tango",
                     node_selector={"tango.dev/pool": "gpu-train"},
                     tolerations=({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},),
                     gpus=1, artifact_claim="tango-artifacts")


def test_training_job_runs_the_trainer_command_on_the_training_pool():
    body = job_manifest(build_job(POOL, training_job_request(PLAN, POOL.gpus)))
    assert validate_object(body, "1.30") == []
    pod = body["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"tango.dev/pool": "gpu-train"} and pod["restartPolicy"] == "Never"
    container = pod["containers"][0]
    assert container["command"] == ["tango"] and container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    args = build_parser().parse_args(container["args"])  # the Job's arguments are a valid command line
    assert (args.command, args.action) == ("trainer", "train")
    assert args.perception == list(PLAN.perception_uris) and args.max_minutes == 3.0
    assert args.device == "cuda"  # a Job given a GPU trains on it (and fails where it sees none)
    assert build_parser().parse_args(training_job_request(PLAN, 0).args).device == "cpu"
    again = build_job(POOL, training_job_request(PLAN)).metadata.name
    assert body["metadata"]["name"] == again  # one Job per checkpoint: retries adopt it


def v1job(status: dict | None):
    return client.ApiClient()._ApiClient__deserialize({"metadata": {"name": "j"}, "status": status}, "V1Job")


@pytest.mark.parametrize("status, phase", [
    (None, "pending"),
    ({}, "pending"),
    ({"active": 1}, "running"),
    ({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}, "succeeded"),
    ({"failed": 2, "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                                   "message": "Job has reached the specified backoff limit"}]}, "failed"),
    ({"active": 1, "conditions": [{"type": "Failed", "status": "False"}]}, "running"),
])
def test_job_phase_from_the_clients_objects(status, phase):
    assert job_phase(v1job(status))[0] == phase


def test_failed_phase_says_why():
    job = v1job({"conditions": [{"type": "Failed", "status": "True", "reason": "DeadlineExceeded", "message": "too long"}]})
    assert job_phase(job) == ("failed", "DeadlineExceeded: too long")


class FakeBatchApi(BaseHTTPRequestHandler):
    """Jobs of one namespace. Each status read moves a Job along `script` (pending -> running -> outcome); on
    success the test's `on_success` plays the Job's work (it writes the checkpoint)."""

    jobs: dict[str, dict] = {}
    reads: dict[str, int] = {}
    scripts: dict[str, list[dict]] = {}  # the script a Job was created under
    script: list[dict] = []
    requests: list[tuple[str, str]] = []
    on_success = staticmethod(lambda name: None)

    def _send(self, code: int, body: dict) -> None:
        payload = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _name(self) -> str:
        match = re.search(r"/jobs/([^/?]+)", self.path)
        return match.group(1) if match else ""

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        name = body["metadata"]["name"]
        self.requests.append(("POST", name))
        if name in self.jobs:
            return self._send(409, {"kind": "Status", "apiVersion": "v1", "code": 409, "reason": "AlreadyExists"})
        self.jobs[name], self.reads[name], self.scripts[name] = body, 0, self.script
        return self._send(201, body)

    def do_GET(self):  # noqa: N802
        name = self._name()
        if name not in self.jobs:
            return self._send(404, {"kind": "Status", "apiVersion": "v1", "code": 404, "reason": "NotFound"})
        script = self.scripts.get(name, self.script)
        step = min(self.reads[name], len(script) - 1)
        self.reads[name] += 1
        status = script[step]
        if status.get("succeeded"):
            self.on_success(name)
        return self._send(200, {**self.jobs[name], "status": status})

    def do_DELETE(self):  # noqa: N802
        name = self._name()
        self.requests.append(("DELETE", name))
        self.jobs.pop(name, None)
        return self._send(200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})

    def log_message(self, *args) -> None:
        pass


RUNS = [{}, {"active": 1}, {"active": 1}, {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}]
FAILS = [{"active": 1}, {"failed": 2, "conditions": [{"type": "Failed", "status": "True",
                                                    "reason": "BackoffLimitExceeded", "message": "pod OOMKilled"}]}]


@pytest.fixture()
def api(tmp_path):
    FakeBatchApi.jobs, FakeBatchApi.reads, FakeBatchApi.requests, FakeBatchApi.script = {}, {}, [], RUNS
    FakeBatchApi.scripts = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeBatchApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "fake",
        "clusters": [{"name": "fake", "cluster": {"server": f"http://127.0.0.1:{server.server_address[1]}"}}],
        "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "me"}}],
        "users": [{"name": "me", "user": {"token": "t"}}]}))
    yield str(kubeconfig)
    server.shutdown()
    server.server_close()


def executor(kubeconfig: str) -> KubernetesJobExecutor:
    return KubernetesJobExecutor(POOL, lambda: kubernetes_api_client(kubeconfig), poll_s=0.0, sleep=lambda _s: None)


def test_a_job_is_launched_watched_to_completion_and_reports_its_phases(api, tmp_path):
    store = ArtifactStore(tmp_path.joinpath("store").as_uri())
    FakeBatchApi.on_success = staticmethod(lambda name: store.exists(KIND, KEY) or store.create(
        KIND, KEY, lambda d: (d / "model.safetensors").write_bytes(b"weights")))
    phases = []
    name = executor(api).run(PLAN, lambda stage, done, total: phases.append((stage, done, total)), lambda: False)
    assert name.startswith("tango-aumoclip-finetune-") and store.exists(KIND, KEY)
    assert phases[0] == ("job_pending", 0, 2) and ("job_running", 1, 2) in phases and phases[-1] == ("job_succeeded", 2, 2)
    assert FakeBatchApi.requests == [("POST", name)]


def test_a_retried_request_adopts_the_running_job(api):
    first = executor(api)
    FakeBatchApi.script = [{"active": 1}]
    stop_after = iter([False, False, True])
    with pytest.raises(Cancelled):
        first.run(PLAN, lambda *_: None, lambda: next(stop_after))  # cancelled: the Job is deleted
    name = next(iter(n for verb, n in FakeBatchApi.requests if verb == "POST"))
    assert ("DELETE", name) in FakeBatchApi.requests and name not in FakeBatchApi.jobs
    FakeBatchApi.requests.clear()
    FakeBatchApi.script = RUNS
    FakeBatchApi.jobs[name], FakeBatchApi.reads[name] = {"apiVersion": "batch/v1", "kind": "Job",
                                                         "metadata": {"name": name, "namespace": "tango"}}, 1
    FakeBatchApi.scripts.pop(name)
    assert executor(api).run(PLAN, lambda *_: None, lambda: False) == name  # submitted by someone else: adopted
    assert FakeBatchApi.requests == [("POST", name)]  # the refused create only


def test_a_failed_job_fails_the_training_and_is_replaced_next_time(api):
    FakeBatchApi.script = FAILS
    with pytest.raises(FailedPrecondition) as caught:
        executor(api).run(PLAN, lambda *_: None, lambda: False)
    assert caught.value.reason == "TRAINING_JOB_FAILED" and "OOMKilled" in caught.value.message
    FakeBatchApi.requests.clear()
    FakeBatchApi.script = RUNS
    FakeBatchApi.reads = {n: len(FAILS) - 1 for n in FakeBatchApi.reads}  # still failed when read again
    name = executor(api).run(PLAN, lambda *_: None, lambda: False)
    assert [verb for verb, _ in FakeBatchApi.requests] == ["POST", "DELETE", "POST"] and name in FakeBatchApi.jobs


def test_an_unreachable_api_server_is_unavailable_so_the_caller_retries(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "gone",
        "clusters": [{"name": "gone", "cluster": {"server": "http://127.0.0.1:9"}}],
        "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "me"}}],
        "users": [{"name": "me", "user": {"token": "t"}}]}))
    with pytest.raises(Unavailable) as caught:
        executor(str(kubeconfig)).run(PLAN, lambda *_: None, lambda: False)
    assert caught.value.reason == "KUBERNETES_API_UNAVAILABLE"
