"""The Helm chart, rendered offline for every CI scenario: lint, Kubernetes 1.30 schemas, and the
properties the deployment must have (autoscaling, probes, GPUs, data-flow network policies, hardening)."""
from __future__ import annotations

import pytest

from tango.cluster.render import (DEFAULT_MANIFESTS, SCENARIOS, default_manifests, lint_chart, render_chart,
                                  scenario_values)
from tango.cluster.validate import validate_object, validate_objects

PYTHON_SERVICES = ("perception", "graph", "retrieval", "render", "trainer", "orchestrator")
TRITONS = ("triton-embedding", "triton-interp")
STAGES = PYTHON_SERVICES + TRITONS
# Who may call whom (CONTRACTS.md "Deployables"); the orchestrator is the only client-facing stage.
CALLERS = {
    "perception": {"orchestrator"},
    "graph": {"orchestrator"},
    "retrieval": {"orchestrator"},
    "render": {"orchestrator"},
    "trainer": {"orchestrator"},
    "triton-embedding": {"retrieval"},
    "triton-interp": {"render"},
}


JOB_STORE = "postgresql"  # the opt-in in-chart job store: a companion, not a stage


def is_stage(component: str) -> bool:
    """Not the job store, nor a stage's headless Service (the DNS name its callers resolve every pod by)."""
    return component != JOB_STORE and not component.endswith("-headless")


def objects_of(objects, kind, component_filter=is_stage):
    """Component name -> object of this kind (the stages' by default)."""
    return {name: o.body for o in objects if o.kind == kind
            and component_filter(name := o.body["metadata"]["labels"]["app.kubernetes.io/component"])}


def containers_of(objects):
    for deployment in objects_of(objects, "Deployment").values():
        yield from deployment["spec"]["template"]["spec"]["containers"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_chart_lints_clean(scenario):
    pytest.importorskip("helm_python")
    assert lint_chart(scenario_values(scenario)) == []


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_object_is_valid_for_kubernetes_1_30(rendered, scenario):
    objects = rendered[scenario]
    assert validate_objects([o.body for o in objects], "1.30") == []
    assert {o.kind for o in objects} >= {"Deployment", "Service", "NetworkPolicy", "ServiceAccount"}


def test_strict_validation_rejects_unknown_fields_and_wrong_types(rendered):
    deployment = next(o.body for o in rendered["default"] if o.kind == "Deployment")
    typo = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    assert validate_object(typo) and "replica" in validate_object(typo)[0]
    wrong_type = {**deployment, "spec": {**deployment["spec"], "replicas": "two"}}
    assert validate_object(wrong_type)
    monitor = next(o.body for o in rendered["default"] if o.kind == "ServiceMonitor")
    assert validate_object({**monitor, "spec": {**monitor["spec"], "endpoints": []}}) == [
        f"ServiceMonitor/{monitor['metadata']['name']}: spec.endpoints is empty"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_stage_has_a_deployment_service_and_networkpolicy(rendered, scenario):
    objects = rendered[scenario]
    for kind in ("Deployment", "Service", "NetworkPolicy"):
        assert set(objects_of(objects, kind)) == set(STAGES), kind


@pytest.mark.parametrize("scenario", ["default", "gpu-production"])
def test_every_stage_autoscales_on_cpu_and_inflight_requests(rendered, scenario):
    hpas = objects_of(rendered[scenario], "HorizontalPodAutoscaler")
    fixed = {"orchestrator"} if scenario == "default" else set()  # one replica on SQLite, no job store
    assert set(hpas) == set(STAGES) - fixed
    for stage, hpa in hpas.items():
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"tango-{stage}"}
        by_type = {m["type"]: m for m in hpa["spec"]["metrics"]}
        assert by_type["Resource"]["resource"]["name"] == "cpu"
        pods_metric = by_type["Pods"]["pods"]["metric"]["name"]
        expected = "tango_triton_inflight_requests" if stage in TRITONS else f"tango_{stage}_inflight_requests"
        assert pods_metric == expected
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    deployments = objects_of(rendered[scenario], "Deployment")
    assert all("replicas" not in d["spec"] for s, d in deployments.items() if s not in fixed)  # the HPA owns the count


def test_cpu_small_runs_fixed_replicas_without_servicemonitors(rendered):
    objects = rendered["cpu-small"]
    assert set(objects_of(objects, "HorizontalPodAutoscaler")) == set(TRITONS)
    replicas = {s: d["spec"]["replicas"] for s, d in objects_of(objects, "Deployment").items() if s in PYTHON_SERVICES}
    assert replicas == {**{s: 1 for s in PYTHON_SERVICES}, "orchestrator": 2}  # two share the in-chart job store
    assert not any(o.kind == "ServiceMonitor" for o in objects)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_probes_use_grpc_for_python_services_and_http_ready_for_triton(rendered, scenario):
    """kubelet's gRPC probe, or (with mutual TLS) the health check run in the container with its certificate."""
    tls = scenario_values(scenario).get("tls", {}).get("enabled", False)
    for stage, deployment in objects_of(rendered[scenario], "Deployment").items():
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            if stage in PYTHON_SERVICES and tls:
                assert container[probe]["exec"]["command"] == ["python", "-m", "tango.mesh.health", "127.0.0.1:50051"]
            elif stage in PYTHON_SERVICES:
                assert container[probe]["grpc"] == {"port": 50051}
                assert "httpGet" not in container[probe]
            else:
                assert container[probe]["httpGet"]["port"] == "http"
        if stage in TRITONS:
            assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
        else:
            assert container["args"] == ["serve", stage]


def test_mutual_tls_gives_every_stage_a_certificate_mounted_and_named_in_its_env(rendered):
    assert not [o for o in rendered["default"] if o.kind == "Certificate"]
    objects = rendered["gpu-production"]
    certificates = {o.body["metadata"]["name"]: o.body["spec"] for o in objects if o.kind == "Certificate"}
    assert set(certificates) == {f"tango-{stage}" for stage in STAGES}
    for stage, deployment in objects_of(objects, "Deployment").items():
        spec = certificates[f"tango-{stage}"]
        assert f"tango-{stage}-headless" in spec["dnsNames"] and spec["issuerRef"]["name"] == "tango-internal-ca"
        pod = deployment["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert {"name": "tls", "secret": {"secretName": spec["secretName"]}} in pod["volumes"]
        assert {"name": "tls", "mountPath": "/etc/tango/tls", "readOnly": True} in container["volumeMounts"]
        if stage in TRITONS:
            assert "--grpc-use-ssl-mutual=true" in container["args"]
            assert "--grpc-root-cert=/etc/tango/tls/ca.crt" in container["args"]
        else:
            env = {e["name"]: e.get("value") for e in container["env"]}
            assert env["TANGO_TLS_CA_FILE"] == "/etc/tango/tls/ca.crt"


def test_triton_interp_requests_gpus_on_the_gpu_pool_only_in_gpu_scenario(rendered):
    gpu = objects_of(rendered["gpu-production"], "Deployment")["triton-interp"]["spec"]["template"]["spec"]
    resources = gpu["containers"][0]["resources"]
    assert resources["limits"]["nvidia.com/gpu"] == 1
    assert gpu["nodeSelector"] == {"tango.dev/pool": "gpu-interp"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in gpu["tolerations"]
    for scenario in ("default", "cpu-small"):
        for container in containers_of(rendered[scenario]):
            assert "nvidia.com/gpu" not in container["resources"].get("limits", {})
    for stage in PYTHON_SERVICES:
        container = objects_of(rendered["gpu-production"], "Deployment")[stage]["spec"]["template"]["spec"]["containers"][0]
        assert "nvidia.com/gpu" not in container["resources"]["limits"]


def _env(container) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in container["env"]}


def test_transitions_use_flow_by_default_and_acinterp_on_the_gpu_pool(rendered):
    for scenario, model, loaded in (("default", "interp_flow", ["interp_flow"]),
                                    ("gpu-production", "interp_acinterp", ["interp_flow", "interp_acinterp"])):
        deployments = objects_of(rendered[scenario], "Deployment")
        render = _env(deployments["render"]["spec"]["template"]["spec"]["containers"][0])
        assert render["TANGO_RENDER_INTERPOLATOR"] == model
        assert render["TANGO_RENDER_INTERPOLATOR_FALLBACK"] == "interp_flow"
        triton = deployments["triton-interp"]["spec"]["template"]["spec"]
        args = triton["containers"][0]["args"]
        assert "--model-control-mode=explicit" in args
        assert [a.split("=", 1)[1] for a in args if a.startswith("--load-model=")] == loaded
    gpu = objects_of(rendered["gpu-production"], "Deployment")["triton-interp"]["spec"]["template"]["spec"]
    container = gpu["containers"][0]
    assert "--model-config-name=gpu" in container["args"]  # interp_acinterp/configs/gpu.pbtxt: KIND_GPU
    assert _env(container)["TANGO_ACINTERP_WEIGHTS"] == "/weights/acinterp"
    mount = {"name": "weights", "mountPath": "/weights/acinterp", "readOnly": True}
    assert mount in container["volumeMounts"]
    claims = {v["name"]: v["persistentVolumeClaim"]["claimName"]
              for v in gpu["volumes"] if "persistentVolumeClaim" in v}
    assert claims["weights"] == "tango-acinterp-weights"


def _peer_components(rule) -> set[str]:
    return {peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for peer in rule.get("from", [])
            if "podSelector" in peer and "namespaceSelector" not in peer}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_network_policies_follow_the_data_flow(rendered, scenario):
    policies = objects_of(rendered[scenario], "NetworkPolicy")
    deployments = objects_of(rendered[scenario], "Deployment")
    for stage, policy in policies.items():
        spec = policy["spec"]
        assert spec["policyTypes"] == ["Ingress"]
        assert spec["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == stage
        ports = {p["name"]: p["containerPort"] for p in deployments[stage]["spec"]["template"]["spec"]["containers"][0]["ports"]}
        service_rule, metrics_rule = spec["ingress"]
        assert {p["port"] for p in service_rule["ports"]} == {v for k, v in ports.items() if k != "metrics"}
        assert metrics_rule["ports"] == [{"port": ports["metrics"], "protocol": "TCP"}]
        prometheus = metrics_rule["from"][0]
        assert prometheus["podSelector"] and prometheus["namespaceSelector"]
        if stage == "orchestrator":
            continue
        assert _peer_components(service_rule) == CALLERS[stage]
        assert len(service_rule["from"]) == len(CALLERS[stage])  # nobody else


def test_only_the_orchestrator_is_open_to_clients(rendered):
    default_rule = objects_of(rendered["default"], "NetworkPolicy")["orchestrator"]["spec"]["ingress"][0]
    assert "from" not in default_rule  # any client, on the gRPC port only
    assert default_rule["ports"] == [{"port": 50051, "protocol": "TCP"}]
    production_rule = objects_of(rendered["gpu-production"], "NetworkPolicy")["orchestrator"]["spec"]["ingress"][0]
    assert production_rule["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}]
    services = objects_of(rendered["gpu-production"], "Service")
    assert services["orchestrator"]["spec"]["type"] == "LoadBalancer"
    assert all(s["spec"]["type"] == "ClusterIP" for stage, s in services.items() if stage != "orchestrator")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_no_container_runs_as_root_or_writes_its_root_filesystem(rendered, scenario):
    for deployment in objects_of(rendered[scenario], "Deployment").values():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] > 0
        tmp = next(v for v in pod["volumes"] if v["name"] == "tmp")
        assert "emptyDir" in tmp
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["runAsNonRoot"] is True and security["runAsUser"] > 0
            assert security["readOnlyRootFilesystem"] is True
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"] == {"drop": ["ALL"]}
            assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
            assert container["resources"]["requests"] and container["resources"]["limits"]


def test_upstream_addresses_point_at_the_services(rendered):
    env = {e["name"]: e.get("value") for e in next(
        c for c in containers_of(rendered["default"]) if c["name"] == "orchestrator")["env"]}
    for stage in ("perception", "graph", "retrieval", "render", "trainer"):  # every replica, through DNS
        assert env[f"TANGO_ORCHESTRATOR_{stage.upper()}_ADDR"] == f"dns:///tango-{stage}-headless:50051"
        headless = next(o.body for o in rendered["default"]
                        if o.kind == "Service" and o.name == f"tango-{stage}-headless")
        assert headless["spec"]["clusterIP"] == "None"
        assert headless["spec"]["selector"]["app.kubernetes.io/component"] == stage
    assert env["TANGO_ORCHESTRATOR_INGEST_RANGES"] == "4"
    assert not [name for name in env if name.endswith(("_EMBED_URL", "_INTERP_URL"))]  # it calls no Triton
    assert env["TANGO_HOST"] == "0.0.0.0" and env["TANGO_DATA_URI"] == "file:///data"
    retrieval = {e["name"]: e.get("value") for e in next(
        c for c in containers_of(rendered["default"]) if c["name"] == "retrieval")["env"]}
    assert retrieval["TANGO_RETRIEVAL_EMBED_URL"] == "tango-triton-embedding:8001"
    render = {e["name"]: e.get("value") for e in next(
        c for c in containers_of(rendered["default"]) if c["name"] == "render")["env"]}
    assert render["TANGO_RENDER_INTERP_URL"] == "tango-triton-interp:8001"


def test_production_storage_and_secrets_come_from_secrets(rendered):
    objects = rendered["gpu-production"]
    orchestrator = next(c for c in containers_of(objects) if c["name"] == "orchestrator")
    secret_env = {e["name"]: e["valueFrom"]["secretKeyRef"]["name"] for e in orchestrator["env"] if "valueFrom" in e}
    assert secret_env == {"AWS_ACCESS_KEY_ID": "tango-s3-credentials", "AWS_SECRET_ACCESS_KEY": "tango-s3-credentials",
                          "TANGO_ORCHESTRATOR_DATABASE": "tango-jobstore-dsn"}
    assert {"name": "tls", "mountPath": "/etc/tango/tls", "readOnly": True} in orchestrator["volumeMounts"]
    # authentication is read by the orchestrator: hashed API keys mounted from their Secret, and the SSO's JWKS
    env = {e["name"]: e.get("value") for e in orchestrator["env"]}
    assert env["TANGO_ORCHESTRATOR_API_KEYS_FILE"] == "/etc/tango/auth/api_keys"
    assert env["TANGO_ORCHESTRATOR_JWKS"] == "https://login.newsroom.example/.well-known/jwks.json"
    assert {"name": "api-keys", "mountPath": "/etc/tango/auth", "readOnly": True} in orchestrator["volumeMounts"]
    pod = objects_of(objects, "Deployment")["orchestrator"]["spec"]["template"]["spec"]
    keys = next(v for v in pod["volumes"] if v["name"] == "api-keys")["secret"]
    assert keys == {"secretName": "tango-api-keys", "items": [{"key": "api_keys", "path": "api_keys"}]}
    assert not any(o.kind == "PersistentVolumeClaim" for o in objects)  # existingClaim is used
    claims = {v["persistentVolumeClaim"]["claimName"] for d in objects_of(objects, "Deployment").values()
              for v in d["spec"]["template"]["spec"]["volumes"] if "persistentVolumeClaim" in v}
    assert claims == {"tango-shared-rwx", "tango-acinterp-weights"}  # artifacts everywhere + ACInterp's weights


def test_default_creates_a_read_write_many_artifact_claim(rendered):
    claim = next(o.body for o in rendered["default"] if o.kind == "PersistentVolumeClaim")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    triton = objects_of(rendered["default"], "Deployment")["triton-embedding"]["spec"]["template"]["spec"]
    shm = next(v for v in triton["volumes"] if v["name"] == "dshm")
    assert shm["emptyDir"]["medium"] == "Memory"


def test_servicemonitors_scrape_every_metrics_port(rendered):
    monitors = objects_of(rendered["default"], "ServiceMonitor")
    assert set(monitors) == set(STAGES)
    services = objects_of(rendered["default"], "Service")
    for stage, monitor in monitors.items():
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
        assert "metrics" in {p["name"] for p in services[stage]["spec"]["ports"]}


def test_render_prefers_the_cpu_pool_and_requires_it_in_production(rendered):
    default = objects_of(rendered["default"], "Deployment")["render"]["spec"]["template"]["spec"]
    preferred = default["affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]
    assert preferred["preference"]["matchExpressions"] == [{"key": "tango.dev/pool", "operator": "In", "values": ["cpu"]}]
    assert "nodeSelector" not in default  # preferred, so a cluster without that pool still runs it
    production = objects_of(rendered["gpu-production"], "Deployment")["render"]["spec"]["template"]["spec"]
    assert production["nodeSelector"] == {"tango.dev/pool": "cpu"} and "tolerations" not in production


def test_trainer_runs_jobs_on_the_training_pool_only_where_enabled(rendered):
    from tango.cluster.jobs import JobPoolConfig, build_job, job_manifest
    from tango.trainer.job_executor import training_job_request
    from tango.trainer.training import TrainingPlan

    for scenario in ("default", "cpu-small"):
        pod = objects_of(rendered[scenario], "Deployment")["trainer"]["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False and "TANGO_TRAINER_EXECUTOR" not in _env(pod["containers"][0])
        assert not any(o.kind in ("Role", "RoleBinding") for o in rendered[scenario])
    objects = rendered["gpu-production"]
    pod = objects_of(objects, "Deployment")["trainer"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "tango-trainer" and pod["automountServiceAccountToken"] is True
    role = next(o.body for o in objects if o.kind == "Role")
    assert role["rules"][0] == {"apiGroups": ["batch"], "resources": ["jobs"],
                                "verbs": ["create", "get", "list", "watch", "delete"]}
    binding = next(o.body for o in objects if o.kind == "RoleBinding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "tango-trainer", "namespace": "tango"}]
    env = _env(pod["containers"][0])  # what the trainer reads: the Job it would launch is valid, on the pool
    assert env["TANGO_TRAINER_EXECUTOR"] == "kubernetes"
    pool = JobPoolConfig.from_env(env)
    plan = TrainingPlan("d" * 64, ("s3://tango-artifacts/prod/perception/" + "1" * 64,), 3.0, None, ())
    job = job_manifest(build_job(pool, training_job_request(plan, pool.gpus)))
    assert validate_object(job, "1.30") == []
    job_pod = job["spec"]["template"]["spec"]
    assert job_pod["nodeSelector"] == {"tango.dev/pool": "gpu-train"}
    assert job_pod["containers"][0]["image"] == "ghcr.io/tango-reenact/tango-trainer-gpu:0.1.0"  # CUDA torch
    assert job_pod["containers"][0]["args"][:4] == ["trainer", "train", "--device", "cuda"]
    assert job_pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert {"name": "artifacts", "mountPath": "/data"} in job_pod["containers"][0]["volumeMounts"]


@pytest.mark.parametrize("broken", [
    {"perception": {"replicas": "two"}},
    {"graph": {"autoscaling": {"maxReplicas": "many"}}},
    {"tritonInterp": {"gpu": {"count": 0}}},
    {"orchestrator": {"unknownKey": True}},
    {"tritonInterp": {"models": ["interp flow"]}},
    {"transitions": {"model": 3}},
    {"trainer": {"jobs": {"enabled": True, "gpus": -1}}},
    {"render": {"jobs": {"enabled": True}}},
    {"artifacts": {"uri": "ftp://nowhere"}},
])
def test_schema_rejects_broken_values(broken):
    helm_python = pytest.importorskip("helm_python")
    with pytest.raises(helm_python.HelmValuesError):
        render_chart(broken)


def test_s3_without_a_secret_fails_to_render():
    helm_python = pytest.importorskip("helm_python")
    with pytest.raises(helm_python.HelmError, match="existingSecret is required"):
        render_chart({"artifacts": {"uri": "s3://bucket/prefix", "s3": {"enabled": True}}})


def test_default_manifests_are_not_stale():
    pytest.importorskip("helm_python")
    assert DEFAULT_MANIFESTS.read_text() == default_manifests(), (
        "deploy/manifests/default.yaml is stale: run `python -m tango.cluster.render` (make manifests)")


def test_orchestrators_share_a_postgresql_job_store_where_there_are_several(rendered):
    def database_env(scenario):
        container = objects_of(rendered[scenario], "Deployment")["orchestrator"]["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e for e in container["env"]}
        assert env["TANGO_ORCHESTRATOR_LEASE_S"]["value"] == "30"
        return env.get("TANGO_ORCHESTRATOR_DATABASE")

    assert database_env("default") is None  # one replica on SQLite
    assert objects_of(rendered["default"], "Deployment")["orchestrator"]["spec"]["replicas"] == 1
    production = database_env("gpu-production")["valueFrom"]["secretKeyRef"]
    assert production == {"name": "tango-jobstore-dsn", "key": "dsn"}
    assert objects_of(rendered["gpu-production"], "HorizontalPodAutoscaler")["orchestrator"]["spec"]["minReplicas"] >= 2
    trial = database_env("cpu-small")["valueFrom"]["secretKeyRef"]
    assert trial == {"name": "tango-jobstore", "key": "dsn"}
    store = {kind: objects_of(rendered["cpu-small"], kind, lambda name: name == JOB_STORE).get(JOB_STORE)
             for kind in ("StatefulSet", "Service", "Secret", "NetworkPolicy")}
    assert all(store.values()), store
    assert store["Secret"]["metadata"]["name"] == "tango-jobstore" and "dsn" in store["Secret"]["stringData"]
    assert _peer_components(store["NetworkPolicy"]["spec"]["ingress"][0]) == {"orchestrator"}
    pod = store["StatefulSet"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] and not pod["automountServiceAccountToken"]
    for scenario in ("default", "gpu-production"):
        assert not objects_of(rendered[scenario], "StatefulSet", lambda name: True)


def test_several_orchestrators_without_a_postgresql_store_fail_to_render():
    helm_python = pytest.importorskip("helm_python")
    for orchestrator in ({"replicas": 2}, {"autoscaling": {"enabled": True}}):
        with pytest.raises(helm_python.HelmError, match="need a PostgreSQL job store"):
            render_chart({"orchestrator": orchestrator})
    render_chart({"orchestrator": {"replicas": 2}, "jobStore": {"existingSecret": "dsn"}})
