"""What the graph builder reads: any object with `.arrays` and `.meta` of a perception artifact.

`tango.perception.artifact_io.PerceptionArtifact` satisfies `PerceptionLike`; `InMemoryPerception` is the
plain holder used for synthetic inputs, benchmarks and tests.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol

import numpy as np


class PerceptionLike(Protocol):
    """A perception artifact as CONTRACTS.md "Perception artifact" describes it."""

    arrays: Mapping[str, np.ndarray]
    meta: Mapping[str, Any]


@dataclass
class InMemoryPerception:
    arrays: dict[str, np.ndarray]
    meta: dict[str, Any] = field(default_factory=dict)
