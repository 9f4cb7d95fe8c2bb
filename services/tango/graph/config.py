from __future__ import annotations

import dataclasses

from tango.runtime.config import ServiceConfig


@dataclasses.dataclass(frozen=True)
class GraphConfig(ServiceConfig):
    max_nodes: int = 60_000  # refuse inputs above ~2 h of footage (RESOURCE_EXHAUSTED)
