from __future__ import annotations

from tango.runtime.metrics import ServiceMetrics


class GraphMetrics(ServiceMetrics):
    def __init__(self) -> None:
        super().__init__("graph")
        self.build_seconds = self.histogram("build_seconds", "Wall time of a graph build", ("cache",))
        self.nodes = self.histogram("nodes", "Kept nodes of built graphs", buckets=(100, 500, 1000, 5000, 10000, 30000, 60000))
        self.edges = self.histogram("edges", "Edges of built graphs", buckets=(1e3, 1e4, 1e5, 1e6, 1e7))
        self.stored = self.gauge("stored_graphs", "Graphs in the store")
