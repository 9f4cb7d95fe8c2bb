"""`search_path`: validates the inputs and dispatches to the search mode (dp, beam, onset, random)."""
from __future__ import annotations

import numpy as np

from tango.retrieval.baselines import search_onset, search_random
from tango.retrieval.features import validate_inputs
from tango.retrieval.inputs import RetrievalGraph, TargetFeatures
from tango.retrieval.options import SearchOptions, validate_options
from tango.retrieval.result import SearchResult
from tango.retrieval.search_beam import search_beam
from tango.retrieval.search_dp import search_dp


def search_path(
    graph: RetrievalGraph,
    features: TargetFeatures,
    options: SearchOptions,
    *,
    onset_frames: np.ndarray | None = None,
) -> SearchResult:
    """The path (one node per 4-frame step) through `graph` for the target features, by `options.mode`.

    `onset_frames` (sorted 30 fps frame indices) replaces onset detection in the onset mode.
    Raises InvalidArgument / InputMismatch for bad inputs or options, MemoryBoundExceeded when the
    search would need more than `options.memory_bound_bytes`.
    """
    validate_options(options)
    validate_inputs(graph, features)
    if options.mode == "dp":
        return search_dp(graph, features, options)
    if options.mode == "beam":
        return search_beam(graph, features, options)
    if options.mode == "onset":
        return search_onset(graph, features, options, onset_frames)
    return search_random(graph, features, options)
