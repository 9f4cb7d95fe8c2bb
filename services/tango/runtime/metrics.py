"""Per-service Prometheus metrics: one registry per service object, served on its own port."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

LATENCY_BUCKETS = (0.005, 0.02, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900)


class ServiceMetrics:
    """RPC metrics shared by every service: `tango_<svc>_requests_total`, `_request_seconds`, `_inflight_requests`."""

    def __init__(self, service: str, registry: CollectorRegistry | None = None):
        self.service = service
        self.registry = registry or CollectorRegistry()
        prefix = f"tango_{service}"
        self.requests = Counter(f"{prefix}_requests_total", "RPCs handled", ["method", "code"], registry=self.registry)
        self.latency = Histogram(
            f"{prefix}_request_seconds", "RPC wall time", ["method", "code"], buckets=LATENCY_BUCKETS, registry=self.registry
        )
        self.inflight = Gauge(f"{prefix}_inflight_requests", "RPCs being handled now (HPA metric)", registry=self.registry)
        self._http = None

    def histogram(self, name: str, doc: str, labels: tuple[str, ...] = (), buckets=LATENCY_BUCKETS) -> Histogram:
        return Histogram(f"tango_{self.service}_{name}", doc, list(labels), buckets=buckets, registry=self.registry)

    def counter(self, name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
        return Counter(f"tango_{self.service}_{name}", doc, list(labels), registry=self.registry)

    def gauge(self, name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
        return Gauge(f"tango_{self.service}_{name}", doc, list(labels), registry=self.registry)

    def serve(self, host: str, port: int) -> int:
        """Starts the /metrics HTTP endpoint; returns the bound port."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        self._http = server
        return server.server_address[1]

    def shutdown(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
