"""Server bootstrap shared by every service: health, reflection, the error interceptor, bearer-token
authentication and mutual TLS where configured, metrics, message-size limits and graceful shutdown on SIGTERM/SIGINT."""
from __future__ import annotations

import logging
import threading
from concurrent import futures
from dataclasses import dataclass
from typing import Callable, Iterable

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from tango.runtime.auth import AuthInterceptor
from tango.runtime.config import ServiceConfig
from tango.runtime.interceptor import ErrorMappingInterceptor
from tango.runtime.tenant_header import TenantScopeInterceptor
from tango.runtime.metrics import ServiceMetrics
from tango.runtime.signals import sleep_until, stop_signals
from tango.runtime.tls import TlsFiles, server_credentials
from tango.runtime.tokens import Authenticator

log = logging.getLogger(__name__)
CONCURRENT_RPCS_PER_WORKER = 64
MAX_METADATA_BYTES = 16 * 1024


@dataclass(frozen=True)
class ServiceBinding:
    """One gRPC service to host: its full name (for health/reflection) and how to add it."""

    full_name: str
    add_to_server: Callable[[grpc.Server], None]


class GrpcService:
    """A started gRPC server hosting one room's services. NOT_SERVING until `mark_ready()`."""

    def __init__(self, config: ServiceConfig, bindings: Iterable[ServiceBinding], metrics: ServiceMetrics,
                 warm_up: Callable[[], None] | None = None):
        self.config = config
        self._warm_up = warm_up
        self.metrics = metrics
        self.bindings = list(bindings)
        self.health = health.HealthServicer(experimental_non_blocking=True)
        self.port: int | None = None
        self.metrics_port: int | None = None
        self._stopped = threading.Event()
        limit = config.max_message_mb * 1024 * 1024
        authenticator = Authenticator.from_config(config)
        self.authenticated = authenticator is not None
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=config.max_workers, thread_name_prefix=config.service),
            interceptors=[ErrorMappingInterceptor(metrics), AuthInterceptor(authenticator) if authenticator
                          else TenantScopeInterceptor()],
            options=[
                ("grpc.max_send_message_length", limit),
                ("grpc.max_receive_message_length", limit),
                ("grpc.so_reuseport", 0),
                # request headers (a JWT is a few KB): up to 16 KB they reach the interceptors, which refuse an
                # oversized token with a reason; beyond, gRPC refuses the call itself (RESOURCE_EXHAUSTED). With one
                # bound, not gRPC's soft 8 KB / hard 16 KB pair, between which it refuses calls at random
                ("grpc.max_metadata_size", MAX_METADATA_BYTES),
                ("grpc.absolute_max_metadata_size", MAX_METADATA_BYTES),
            ],
            # beyond this many RPCs in flight gRPC refuses every new one, the health check included: 64 callers
            # waiting on operations (refused at once by the wait slots, but in flight meanwhile) once hit the
            # former bound of 8 per worker and the probes failed with them
            maximum_concurrent_rpcs=config.max_workers * CONCURRENT_RPCS_PER_WORKER,
        )

    def start(self) -> int:
        for binding in self.bindings:
            binding.add_to_server(self.server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        names = [b.full_name for b in self.bindings]
        reflection.enable_server_reflection(names + [health.SERVICE_NAME, reflection.SERVICE_NAME], self.server)
        self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        address, tls = f"{self.config.host}:{self.config.port}", TlsFiles.from_config(self.config)
        self.port = (self.server.add_secure_port(address, server_credentials(tls)) if tls
                     else self.server.add_insecure_port(address))
        if self.port == 0:
            raise OSError(f"could not bind {self.config.host}:{self.config.port}")
        self.server.start()
        if self.config.metrics_port >= 0:
            self.metrics_port = self.metrics.serve(self.config.host, self.config.metrics_port)
        log.info("listening", extra={"port": self.port, "metrics_port": self.metrics_port, "services": names,
                                     "authentication": self.authenticated, "tls": tls is not None})
        return self.port

    def warm_up(self) -> None:
        """Loads what the service needs before it may report SERVING (models, caches)."""
        if self._warm_up is not None:
            self._warm_up()

    def mark_ready(self) -> None:
        self._set_health(health_pb2.HealthCheckResponse.SERVING)
        log.info("serving")

    def stop(self, grace_s: float | None = None) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        self.health.enter_graceful_shutdown()
        self.server.stop(self.config.grace_s if grace_s is None else grace_s).wait()
        self.metrics.shutdown()
        log.info("stopped")

    def wait(self) -> None:
        self.server.wait_for_termination()

    def _set_health(self, status) -> None:
        self.health.set("", status)
        for binding in self.bindings:
            self.health.set(binding.full_name, status)


def run_until_signalled(service: GrpcService) -> None:
    """Starts the service, warms it up, marks it SERVING and blocks until SIGTERM/SIGINT."""
    stopped = stop_signals()
    service.start()
    service.warm_up()
    service.mark_ready()
    sleep_until(stopped)
    log.info("signal received, draining")
    service.stop()
