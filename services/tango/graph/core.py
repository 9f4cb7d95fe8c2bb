"""The graph room's logic above graph construction: loading perception artifacts from the store,
content-addressed caching, and the catalogue of stored graphs. No gRPC here."""
from __future__ import annotations

import dataclasses
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from tango.artifacts.hashing import key_sha256
from tango.artifacts.store import ArtifactInfo, ArtifactStore
from tango.graph.artifact_io import SCHEMA_VERSION, GraphArtifact, write_graph_artifact
from tango.graph.build import build_graph
from tango.graph.options import GraphOptions
from tango.graph.config import GraphConfig
from tango.graph.metrics import GraphMetrics
from tango.perception.artifact_io import PerceptionArtifact
from tango.runtime.errors import InvalidArgument, NotFound
from tango.runtime.paging import page_of
from tango.runtime.progress import ProgressFn, StopFn

KIND = "graph"
NAME_PREFIX = "graphs/"


@dataclass(frozen=True)
class GraphRecord:
    name: str
    artifact: ArtifactInfo
    meta: dict[str, Any]
    create_time: datetime
    cache_hit: bool = False

    @property
    def stats(self) -> dict[str, Any]:
        return self.meta.get("stats", {})


class GraphCore:
    def __init__(self, config: GraphConfig, store: ArtifactStore, metrics: GraphMetrics):
        self.config = config
        self.store = store
        self.metrics = metrics

    def build(self, perception_uris: list[str], options: GraphOptions, on_progress: ProgressFn, should_stop: StopFn) -> GraphRecord:
        if not perception_uris:
            raise InvalidArgument("give at least one perception artifact", reason="NO_INPUTS")
        started = time.perf_counter()
        infos = [self.store.parse(uri, "perception") for uri in perception_uris]
        key = key_sha256({"op": "graph", "schema": SCHEMA_VERSION, "inputs": [i.sha256 for i in infos],
                          "options": dataclasses.asdict(options)})
        if self.store.exists(KIND, key):
            self.metrics.build_seconds.labels("hit").observe(time.perf_counter() - started)
            return dataclasses.replace(self._record(key), cache_hit=True)
        artifacts = [PerceptionArtifact.load(self.store.local_dir(i.uri, "perception")) for i in infos]
        result = build_graph(artifacts, options, on_progress=on_progress, should_stop=should_stop,
                             perception_uris=perception_uris)
        self.store.create(KIND, key, lambda tmp: write_graph_artifact(tmp, result))
        record = self._record(key)
        self.metrics.build_seconds.labels("miss").observe(time.perf_counter() - started)
        self.metrics.nodes.observe(record.stats.get("kept_nodes", 0))
        self.metrics.edges.observe(record.stats.get("edges", 0))
        return record

    def get(self, name: str) -> GraphRecord:
        return self._record(self._sha_of(name))

    def list(self, page_size: int, page_token: str) -> tuple[list[GraphRecord], str]:
        shas = [a.sha256 for a in self.store.list(KIND)]
        self.metrics.stored.set(len(shas))
        page, next_token = page_of(shas, page_size, page_token)
        return [self._record(sha) for sha in page], next_token

    def delete(self, name: str) -> None:
        self.store.delete(KIND, self._sha_of(name))

    def load(self, uri: str) -> GraphArtifact:
        return GraphArtifact.load(self.store.local_dir(uri, KIND))

    def _record(self, sha: str) -> GraphRecord:
        uri = self.store.uri(KIND, sha)
        directory = self.store.local_dir(uri, KIND)
        meta = self.store.read_json(uri)
        created = datetime.fromtimestamp((directory / "meta.json").stat().st_mtime, tz=timezone.utc)
        return GraphRecord(NAME_PREFIX + sha, self.store.parse(uri, KIND), meta, created)

    def _sha_of(self, name: str) -> str:
        sha = name[len(NAME_PREFIX):] if name.startswith(NAME_PREFIX) else name
        if not (re.fullmatch(r"[0-9a-f]{64}", sha) and self.store.exists(KIND, sha)):
            raise NotFound(f"graph {name!r} does not exist", reason="GRAPH_NOT_FOUND", metadata={"name": name})
        return sha
