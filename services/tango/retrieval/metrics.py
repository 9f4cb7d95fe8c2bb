from __future__ import annotations

from tango.runtime.metrics import ServiceMetrics


class RetrievalMetrics(ServiceMetrics):
    def __init__(self) -> None:
        super().__init__("retrieval")
        self.search_seconds = self.histogram("search_seconds", "Path search wall time", ("mode",))
        self.cache = self.counter("graph_cache_total", "Graph cache lookups", ("result",))
        self.cache_bytes = self.gauge("graph_cache_bytes", "Bytes of graphs held in the LRU cache")
        self.embed_seconds = self.histogram("embed_seconds", "Time spent embedding through Triton", ("what",))
