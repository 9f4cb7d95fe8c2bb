"""The images, checked without a Docker engine: parse every Dockerfile (following `FROM ${BASE_IMAGE}` to
the shared base), and check that it starts from a pinned base, runs as a non-root user, copies what its
entrypoint needs, and that the entrypoint exists in the repository."""
from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKER_DIR = REPO_ROOT / "deploy" / "docker"
PYTHON_SERVICES = ("perception", "graph", "retrieval", "render", "trainer", "orchestrator")
TRITON_MODELS = {"triton-embedding": ("aumoclip_audio", "aumoclip_motion"), "triton-interp": ("interp_flow", "interp_acinterp")}
PINNED_BASES = {"python:3.11.7-slim-bookworm", "nvcr.io/nvidia/tritonserver:24.10-py3", "ghcr.io/astral-sh/uv:0.5.11"}


@dataclass
class Stage:
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)  # (INSTRUCTION, arguments)

    def all(self, name: str) -> list[str]:
        return [args for instruction, args in self.instructions if instruction == name]

    def last(self, name: str) -> str | None:
        found = self.all(name)
        return found[-1] if found else None


def logical_lines(text: str) -> list[str]:
    lines, current = [], ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue  # comment inside a continuation
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    return lines


def parse_dockerfile(path: Path) -> list[Stage]:
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical_lines(path.read_text()):
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name.strip()] = default.strip()
        elif instruction == "FROM":
            image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], rest.split()[0])
            stages.append(Stage(base=image))
        else:
            stages[-1].instructions.append((instruction, rest.strip()))
    return stages


def base_dockerfile(image: str) -> Path | None:
    """`<registry>/tango-<folder>:<tag>` -> deploy/docker/<folder>/Dockerfile (a base built here)."""
    match = re.fullmatch(r".*/tango-([a-z-]+):[\w.]+", image)
    return DOCKER_DIR / match.group(1) / "Dockerfile" if match else None


def image_chain(folder: str) -> list[Stage]:
    """Every stage that ends up in the image of `folder`, base stages first."""
    stages = parse_dockerfile(DOCKER_DIR / folder / "Dockerfile")
    parent = base_dockerfile(stages[-1].base)
    return (image_chain(parent.parent.name) if parent else []) + stages


def exec_form(args: str) -> list[str]:
    return json.loads(args)


def command_of(stages: list[Stage]) -> list[str]:
    final = stages[-1]
    return exec_form(final.last("ENTRYPOINT")) + exec_form(final.last("CMD"))


def copies(stages: list[Stage]) -> list[tuple[str, str]]:
    pairs = []
    for stage in stages:
        for args in stage.all("COPY"):
            parts = [p for p in args.split() if not p.startswith("--")]
            if not args.startswith("--from"):
                pairs += [(source, parts[-1]) for source in parts[:-1]]
    return pairs


def dockerignore_patterns() -> list[str]:
    lines = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def ignored(path: str) -> bool:
    path = path.rstrip("/")
    return any(fnmatch.fnmatch(path, p) or fnmatch.fnmatch(path, p.removeprefix("**/")) for p in dockerignore_patterns())


ALL_FOLDERS = sorted(p.parent.name for p in DOCKER_DIR.glob("*/Dockerfile"))


def test_every_deployable_has_its_own_dockerfile():
    assert set(ALL_FOLDERS) == {*PYTHON_SERVICES, *TRITON_MODELS, "python-base", "triton-base"}


@pytest.mark.parametrize("folder", ALL_FOLDERS)
def test_bases_are_pinned_and_the_user_is_not_root(folder):
    stages = image_chain(folder)
    for stage in stages:
        if base_dockerfile(stage.base) is None and stage.base not in {s for s in ("builder", "uv", "runtime")}:
            assert stage.base in PINNED_BASES, f"{folder}: unpinned or unexpected base {stage.base}"
    user = stages[-1].last("USER") or next(s.last("USER") for s in reversed(stages) if s.last("USER"))
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) > 0 and gid.isdigit() and int(gid) > 0, f"{folder}: USER {user}"
    assert not any("latest" in s.base for s in stages)


@pytest.mark.parametrize("folder", ALL_FOLDERS)
def test_copied_sources_exist_and_are_not_dockerignored(folder):
    for source, _ in copies(parse_dockerfile(DOCKER_DIR / folder / "Dockerfile")):
        if source.startswith("model_repository/") and not (REPO_ROOT / "model_repository").is_dir():
            pytest.skip("model_repository/ is not in this checkout yet")
        assert (REPO_ROOT / source).exists(), f"{folder}: COPY {source} does not exist"
        assert not ignored(source), f"{folder}: COPY {source} is excluded by .dockerignore"


@pytest.mark.parametrize("service", PYTHON_SERVICES)
def test_python_service_image_builds_the_package_and_runs_tango_serve(service):
    stages = image_chain(service)
    assert command_of(stages) == ["tango", "serve", service]
    copied = {source.rstrip("/") for source, _ in copies(stages)}
    assert {"pyproject.toml", "README.md", "protos", "services"} <= copied
    runs = [args for stage in stages for args in stage.all("RUN")]
    build = next(r for r in runs if "tango.runtime.protogen" in r)
    assert build.index("tango.runtime.protogen") < build.index("pip install --no-deps .")  # generated code is packaged
    assert stages[0].base == "python:3.11.7-slim-bookworm"
    exposed = set(stages[-1].last("EXPOSE").split())
    assert exposed == {"50051", "9090"}
    # The entrypoint exists: the console script, the `serve` command and the service's server module.
    scripts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["tango"] == "tango.cli.main:main"
    assert "def main(" in (REPO_ROOT / "services/tango/cli/main.py").read_text()
    from tango.cli.serve_cmd import SERVICES

    assert service in SERVICES
    server = REPO_ROOT / "services" / "tango" / service / "server.py"
    assert server.is_file(), f"{server} (the module `tango serve {service}` imports) is missing"
    assert "def load_config(" in server.read_text() and "def build(" in server.read_text()


@pytest.mark.parametrize("deployable", sorted(TRITON_MODELS))
def test_triton_image_serves_its_models_with_the_python_3_11_stub(deployable):
    stages = image_chain(deployable)
    assert stages[0].base == "nvcr.io/nvidia/tritonserver:24.10-py3" or any(
        s.base == "nvcr.io/nvidia/tritonserver:24.10-py3" for s in stages)
    command = command_of(stages)
    assert command[0] == "tritonserver" and "--model-repository=/models" in command
    assert {"--http-port=8000", "--grpc-port=8001", "--metrics-port=8002"} <= set(command)
    destinations = {source.rstrip("/"): dest.rstrip("/") for source, dest in copies(stages[-1:])}
    models = TRITON_MODELS[deployable]
    assert destinations == {f"model_repository/{m}": f"/models/{m}" for m in models}
    stub_copies = " ".join(stages[-1].all("RUN"))
    for model in models:
        assert f"/opt/tango/triton_python_backend_stub /models/{model}/" in stub_copies
    base_env = " ".join(args for stage in stages for args in stage.all("ENV"))
    assert "LD_LIBRARY_PATH=/opt/python/current/lib" in base_env and "PATH=/opt/venv/bin" in base_env
    base_runs = " ".join(args for stage in stages for args in stage.all("RUN"))
    assert "tango.runtime.protogen" in base_runs and "python_backend_stubs/3.11" in base_runs
    if not (REPO_ROOT / "model_repository").is_dir():
        pytest.skip("model_repository/ is not in this checkout yet")
    for model in models:
        assert (REPO_ROOT / "model_repository" / model / "config.pbtxt").is_file()
        assert (REPO_ROOT / "model_repository" / model / "1" / "model.py").is_file()


def test_dockerignore_keeps_the_context_small_and_clean():
    for path in (".venv", ".git", "tests", "services/tango/perception/v1", "services/tango/type", "out",
                 "services/tango/__pycache__"):
        assert ignored(path), path
    for path in ("pyproject.toml", "README.md", "services", "protos", "model_repository/interp_flow"):
        assert not ignored(path), path


def test_gpu_training_image_is_the_trainer_on_a_cuda_torch_base():
    """build-images.sh builds tango-trainer-gpu from python-base with a CUDA wheel index, and the chart's GPU
    scenario runs its training Jobs in that image (a Job given a GPU trains on it: `--device cuda`)."""
    import yaml

    script = (DOCKER_DIR / "build-images.sh").read_text()
    base = re.search(r'build python-base "" tango-python-base-gpu \\\s*--build-arg "TORCH_INDEX_URL=([^"]+)"', script)
    assert base and "download.pytorch.org/whl/cu" in base.group(1)
    assert 'build trainer "$REGISTRY/tango-python-base-gpu:$TAG" tango-trainer-gpu' in script
    assert "ARG TORCH_INDEX_URL=" in (DOCKER_DIR / "python-base" / "Dockerfile").read_text()
    values = yaml.safe_load((REPO_ROOT / "helm" / "tango" / "ci" / "gpu-production-values.yaml").read_text())
    jobs = values["trainer"]["jobs"]
    assert jobs["image"] == "tango-trainer-gpu" and jobs["gpus"] >= 1
