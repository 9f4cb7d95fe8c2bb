"""Run the real Triton Inference Server (bundled in the nvidia-pytriton wheel) on a model repository.

`TritonServer(config).start()` spawns `tritonserver`, waits until the server is live and every model it
serves has finished loading, and checks they are READY through tritonclient (without a model list it
serves every model of the repository that can load: `tango.triton.repository.servable_models`); `stop()` sends
SIGTERM then SIGKILL after a grace period. `run_forever(config)` is the foreground entry of the local mesh
and of the `triton-*` deployables. Models that fail to load leave the server running (their reason is
visible to clients and the readiness probe stays false under --strict-readiness).
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Mapping, Sequence

import tango
from tango.runtime.errors import FailedPrecondition, InvalidArgument, Unavailable
from tango.runtime.tls import TlsFiles
from tango.triton.client import triton_grpc_client
from tango.triton.repository import servable_models
from tango.triton.environment import (
    default_backend_cache_dir,
    find_bundled_triton,
    prepare_backend_directory,
    server_environment,
)

REPOSITORY_ROOT = Path(tango.__file__).resolve().parents[2]
DEFAULT_MODEL_REPOSITORY = REPOSITORY_ROOT / "model_repository"
LOG_TAIL_CHARS = 4000


@dataclasses.dataclass(frozen=True)
class TritonServerConfig:
    model_repository: Path = DEFAULT_MODEL_REPOSITORY
    models: tuple[str, ...] = ()  # empty = every model of the repository whose weights are installed
    host: str = "127.0.0.1"  # bind address of HTTP, gRPC and metrics; 0.0.0.0 in a container
    http_port: int = 0  # 0 = pick a free port
    grpc_port: int = 0
    metrics_port: int = 0
    log_file: Path | None = None  # None = a file in a temporary directory
    checkpoint_root: Path | None = None  # -> TANGO_CHECKPOINT_ROOT of the models
    default_checkpoint: str | None = None  # -> TANGO_DEFAULT_AUMOCLIP_CHECKPOINT
    extra_env: Mapping[str, str] = dataclasses.field(default_factory=dict)
    startup_timeout_s: float = 120.0
    stop_grace_s: float = 10.0
    require_all_models_ready: bool = True  # start() raises when a model fails to load
    backend_cache_dir: Path = dataclasses.field(default_factory=default_backend_cache_dir)
    shm_default_byte_size: int = 4 * 1024 * 1024
    log_verbose: int = 0
    tls: TlsFiles | None = None  # gRPC over mutual TLS (Triton's HTTP and metrics ports stay plaintext)
    # --model-config-name: each model's configs/<name>.pbtxt where it has one (e.g. "gpu": interp_acinterp on a GPU)
    model_config_name: str = ""


@dataclasses.dataclass(frozen=True)
class TritonUrls:
    http: str
    grpc: str
    metrics: str


def pick_free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def resolve_ports(config: TritonServerConfig) -> TritonServerConfig:
    """The config with every 0 port replaced by a free one."""
    bind = "127.0.0.1" if config.host in ("0.0.0.0", "") else config.host
    ports = {}
    for name in ("http_port", "grpc_port", "metrics_port"):
        ports[name] = getattr(config, name) or pick_free_port(bind)
    return dataclasses.replace(config, **ports)


def server_command(config: TritonServerConfig, binary: Path, backend_dir: Path, cache_dir: Path) -> list[str]:
    argv = [
        str(binary),
        f"--model-repository={config.model_repository}",
        f"--backend-directory={backend_dir}",
        f"--cache-directory={cache_dir}",
        f"--backend-config=python,shm-default-byte-size={config.shm_default_byte_size}",
        f"--http-address={config.host}",
        f"--grpc-address={config.host}",
        f"--metrics-address={config.host}",
        f"--http-port={config.http_port}",
        f"--grpc-port={config.grpc_port}",
        f"--metrics-port={config.metrics_port}",
        "--allow-gpu-metrics=false",
        "--strict-readiness=true",
        "--exit-on-error=false",
        f"--log-verbose={config.log_verbose}",
    ]
    if config.tls is not None:
        argv += ["--grpc-use-ssl-mutual=true", f"--grpc-server-cert={config.tls.cert}",
                 f"--grpc-server-key={config.tls.key}", f"--grpc-root-cert={config.tls.ca}"]
    if config.model_config_name:
        argv.append(f"--model-config-name={config.model_config_name}")
    if config.models:
        argv.append("--model-control-mode=explicit")
        argv.extend(f"--load-model={name}" for name in config.models)
    return argv


def model_environment(config: TritonServerConfig) -> dict[str, str]:
    env = {"PYTHONPATH": os.pathsep.join(p for p in [str(REPOSITORY_ROOT / "services"), os.environ.get("PYTHONPATH", "")] if p)}
    if config.checkpoint_root is not None:
        env["TANGO_CHECKPOINT_ROOT"] = str(config.checkpoint_root)
    if config.default_checkpoint:
        env["TANGO_DEFAULT_AUMOCLIP_CHECKPOINT"] = config.default_checkpoint
    env.update(config.extra_env)
    return env


class TritonServer:
    """A tritonserver child process. Use as a context manager or call start()/stop()."""

    def __init__(self, config: TritonServerConfig):
        if not Path(config.model_repository).is_dir():
            raise InvalidArgument(f"model repository {config.model_repository} is not a directory",
                                  reason="MODEL_REPOSITORY_NOT_FOUND")
        self.skipped_models: dict[str, str] = {}  # model -> why it is not served (no model list given)
        if not config.models:
            models, self.skipped_models = servable_models(config.model_repository,
                                                          {**os.environ, **config.extra_env})
            config = dataclasses.replace(config, models=models)
        self.config = resolve_ports(config)
        self._process: subprocess.Popen | None = None
        self._log_handle = None
        self._tmpdir = None
        self.log_file = self._log_path()
        self.startup_seconds: float | None = None

    def _log_path(self) -> Path:
        if self.config.log_file is not None:
            return Path(self.config.log_file)
        import tempfile

        self._tmpdir = tempfile.TemporaryDirectory(prefix="tango-triton-")
        return Path(self._tmpdir.name) / "tritonserver.log"

    @property
    def urls(self) -> TritonUrls:
        host = "127.0.0.1" if self.config.host in ("0.0.0.0", "") else self.config.host
        return TritonUrls(http=f"{host}:{self.config.http_port}", grpc=f"{host}:{self.config.grpc_port}",
                          metrics=f"http://{host}:{self.config.metrics_port}/metrics")

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> "TritonServer":
        if self.is_running():
            return self
        bundled = find_bundled_triton()
        backend_dir = prepare_backend_directory(bundled, Path(self.config.backend_cache_dir))
        argv = server_command(self.config, bundled.binary, backend_dir, bundled.cache_directory)
        env = server_environment(bundled, model_environment(self.config))
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self._log_handle = open(self.log_file, "ab")
        began = time.monotonic()
        # tritonserver gets its own process group (stopped with its python backend stubs, `_signal_group`) and
        # dies with this process however it ends (its parent-death signal): a SIGKILL of the launcher once left
        # an orphan tritonserver holding the ports, and no restart could bind them again
        self._process = subprocess.Popen(argv, env=env, stdout=self._log_handle, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_die_with_parent)
        try:
            self._wait_until_loaded(began + self.config.startup_timeout_s)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        return self

    def _wait_until_loaded(self, deadline: float) -> None:
        """Poll until live and no model is still loading; raise Unavailable with the log tail otherwise."""
        client = triton_grpc_client(self.urls.grpc, self.config.tls)
        try:
            while True:
                if self._process.poll() is not None:
                    raise self._failure(f"tritonserver exited with code {self._process.returncode}")
                states = _model_states(client)
                if states is not None and self._settled(states):
                    self._check_models(states)
                    return
                if time.monotonic() > deadline:
                    raise self._failure(f"tritonserver not ready after {self.config.startup_timeout_s:.0f} s")
                time.sleep(0.1)
        finally:
            client.close()

    def _settled(self, states: dict[str, tuple[str, str]]) -> bool:
        """Every expected model finished loading (READY or UNAVAILABLE); unlisted models count as settled
        (they are reported missing by _check_models)."""
        expected = set(self.config.models) or set(states)
        return bool(states) and all(states[name][0] in ("READY", "UNAVAILABLE") for name in expected & set(states))

    def _check_models(self, states: dict[str, tuple[str, str]]) -> None:
        expected = set(self.config.models) or set(states)
        missing = expected - set(states)
        bad = {name: states[name] for name in expected & set(states) if states[name][0] != "READY"}
        if missing:
            raise self._failure(f"models not in the repository: {sorted(missing)}")
        if bad and self.config.require_all_models_ready:
            detail = "; ".join(f"{name}: {state} {reason}".strip() for name, (state, reason) in sorted(bad.items()))
            raise self._failure(f"models not ready: {detail}")

    def _failure(self, message: str) -> Unavailable:
        return Unavailable(f"{message}\n--- tritonserver log tail ---\n{self.log_tail()}", reason="TRITON_UNAVAILABLE",
                           metadata={"log_file": str(self.log_file)})

    def log_tail(self, chars: int = LOG_TAIL_CHARS) -> str:
        try:
            data = self.log_file.read_bytes()
        except OSError:
            return ""
        return data[-chars:].decode("utf-8", errors="replace")

    def stop(self) -> int | None:
        """SIGTERM the server (its whole process group), SIGKILL after the grace period; returns its exit code."""
        process, self._process = self._process, None
        code = None
        if process is not None:
            code = _terminate(process, self.config.stop_grace_s)
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None
        return code

    def wait(self) -> int:
        if self._process is None:
            raise FailedPrecondition("tritonserver was not started", reason="TRITON_NOT_STARTED")
        return self._process.wait()

    def close(self) -> None:
        self.stop()
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None

    def __enter__(self) -> "TritonServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.close()


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the parent dies (Linux prctl PR_SET_PDEATHSIG)."""
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG


def _model_states(client) -> dict[str, tuple[str, str]] | None:
    """{model: (state, reason)} from the repository index; None while the server is not answering."""
    from tritonclient.utils import InferenceServerException

    try:
        if not client.is_server_live(client_timeout=2.0):
            return None
        index = client.get_model_repository_index(as_json=True, client_timeout=2.0)
    except InferenceServerException:
        return None
    return {m["name"]: (m.get("state", ""), m.get("reason", "")) for m in index.get("models", [])}


def _terminate(process: subprocess.Popen, grace_s: float) -> int:
    if process.poll() is None:
        _signal_group(process, signal.SIGTERM)
        try:
            return process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
    return process.wait()


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    _signal_group_pid(process.pid, sig)


def _signal_group_pid(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)  # the server and its python backend stubs (own session)
    except ProcessLookupError:
        pass


def run_forever(config: TritonServerConfig) -> int:
    """Start the server in the foreground, forward SIGTERM/SIGINT to it, return its exit code."""
    server = TritonServer(config)
    stopping = threading.Event()

    def forward(signum, _frame):
        stopping.set()
        if server.pid is not None:
            _signal_group_pid(server.pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        try:
            server.start()
        except Unavailable:
            if stopping.is_set():  # asked to stop while starting
                return 0
            raise
        print(f"tritonserver ready in {server.startup_seconds:.1f} s: grpc {server.urls.grpc} "
              f"http {server.urls.http} metrics {server.urls.metrics} log {server.log_file}", flush=True)
        print(f"models: {', '.join(server.config.models)}" + "".join(
            f"; not served: {name} ({why})" for name, why in server.skipped_models.items()), flush=True)
        code = server.wait()
        return 0 if stopping.is_set() else code
    finally:
        server.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def config_from_env(env: Mapping[str, str] | None = None, **overrides) -> TritonServerConfig:
    """TANGO_TRITON_{PORT,HTTP_PORT,METRICS_PORT,HOST,MODEL_REPOSITORY,MODELS,LOG_FILE,MODEL_CONFIG_NAME}, TANGO_CHECKPOINT_ROOT,
    TANGO_DEFAULT_AUMOCLIP_CHECKPOINT, TANGO_TLS_{CERT,KEY,CA}_FILE; the gRPC port is TANGO_TRITON_PORT (as for every other service)."""
    env = os.environ if env is None else env
    values: dict = {}
    for key, field, cast in (
        ("TANGO_TRITON_PORT", "grpc_port", int), ("TANGO_TRITON_HTTP_PORT", "http_port", int),
        ("TANGO_TRITON_METRICS_PORT", "metrics_port", int), ("TANGO_TRITON_HOST", "host", str),
        ("TANGO_TRITON_MODEL_REPOSITORY", "model_repository", Path), ("TANGO_TRITON_LOG_FILE", "log_file", Path),
        ("TANGO_TRITON_STARTUP_TIMEOUT_S", "startup_timeout_s", float),
        ("TANGO_TRITON_MODEL_CONFIG_NAME", "model_config_name", str),
        ("TANGO_CHECKPOINT_ROOT", "checkpoint_root", Path),
        ("TANGO_DEFAULT_AUMOCLIP_CHECKPOINT", "default_checkpoint", str),
    ):
        if env.get(key):
            try:
                values[field] = cast(env[key])
            except ValueError as exc:
                raise InvalidArgument(f"{key}={env[key]!r} is not valid", reason="BAD_CONFIG") from exc
    values["tls"] = TlsFiles.from_env(env)
    if env.get("TANGO_TRITON_MODELS"):
        values["models"] = tuple(m for m in env["TANGO_TRITON_MODELS"].split(",") if m)
    values.update(overrides)
    return TritonServerConfig(**values)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tango.triton.launcher", description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="", help="comma-separated model names (default: all)")
    parser.add_argument("--model-repository", type=Path, default=None)
    args = parser.parse_args(argv)
    overrides: dict = {}
    if args.models:
        overrides["models"] = tuple(m for m in args.models.split(",") if m)
    if args.model_repository is not None:
        overrides["model_repository"] = args.model_repository
    return run_forever(config_from_env(**overrides))


if __name__ == "__main__":
    raise SystemExit(main())
