"""The retrieval room's logic: graphs and their node embeddings (LRU-cached, stored in the artifact
store), audio features through Triton, and the path search. No gRPC here."""
from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tango.artifacts.hashing import key_sha256
from tango.artifacts.inputs import InputResolver
from tango.artifacts.store import ArtifactInfo, ArtifactStore
from tango.media.audio import check_speech, load_audio
from tango.media.pcm import PcmFormat
from tango.graph.artifact_io import GraphArtifact
from tango.retrieval.config import RetrievalConfig
from tango.retrieval.cues import REPAIRS, CuePlan, Cues, CueWeights, Outcome, judge_cues, plan_cues
from tango.retrieval.embedding import audio_features, embed_graph_nodes
from tango.retrieval.inputs import RetrievalGraph, TargetFeatures
from tango.retrieval.live_features import LiveAudioFeatures
from tango.retrieval.live_session import LiveSearch
from tango.retrieval.metrics import RetrievalMetrics
from tango.retrieval.options import SearchOptions
from tango.retrieval.result import SearchResult
from tango.retrieval.search import search_path
from tango.retrieval.search_online import OnlineSearch
from tango.runtime.errors import InvalidArgument
from tango.speech.core import transcribe
from tango.speech.transcript_files import read_transcript
from tango.triton.client import TritonClient

EMBEDDED_KIND = "embedded_graph"


@dataclass(frozen=True)
class PreparedGraph:
    graph: RetrievalGraph
    embeddings: ArtifactInfo
    cache_hit: bool


class GraphCache:
    """LRU of loaded graphs keyed by (graph sha, checkpoint), bounded by their array bytes."""

    def __init__(self, max_bytes: int, metrics: RetrievalMetrics):
        self.max_bytes = max_bytes
        self.metrics = metrics
        self._items: OrderedDict[tuple[str, str], tuple[PreparedGraph, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> PreparedGraph | None:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            self.metrics.cache.labels("hit" if item else "miss").inc()
            return item[0] if item else None

    def put(self, key: tuple[str, str], prepared: PreparedGraph) -> None:
        size = sum(v.nbytes for v in vars(prepared.graph).values() if isinstance(v, np.ndarray))
        with self._lock:
            self._items[key] = (prepared, size)
            while sum(s for _, s in self._items.values()) > self.max_bytes and len(self._items) > 1:
                self._items.popitem(last=False)
            self.metrics.cache_bytes.set(sum(s for _, s in self._items.values()))


class RetrievalCore:
    def __init__(self, config: RetrievalConfig, store: ArtifactStore, inputs: InputResolver, triton: TritonClient,
                 metrics: RetrievalMetrics):
        self.config = config
        self.store = store
        self.inputs = inputs
        self.triton = triton
        self.metrics = metrics
        self.cache = GraphCache(config.graph_cache_bytes, metrics)

    def prepare(self, graph_uri: str, checkpoint: str) -> PreparedGraph:
        """The graph with node embeddings for `checkpoint`, embedding and storing them when missing."""
        if not checkpoint:
            raise InvalidArgument("a checkpoint id is required to embed the graph", reason="MISSING_CHECKPOINT")
        info = self.store.parse(graph_uri, "graph")
        cached = self.cache.get((info.sha256, checkpoint))
        if cached is not None:
            return PreparedGraph(cached.graph, cached.embeddings, cache_hit=True)
        graph_artifact = GraphArtifact.load(self.store.local_dir(graph_uri, "graph"))
        graph_arrays = graph_artifact.arrays
        key = key_sha256({"graph": info.sha256, "checkpoint": checkpoint, "hop": self.config.window_hop_frames})
        stored = self.store.exists(EMBEDDED_KIND, key)
        if not stored:
            started = time.perf_counter()
            low, high = embed_graph_nodes(self.triton, checkpoint, graph_arrays["motion"], graph_arrays["node_video"],
                                          graph_arrays["node_start_frame"], self.config.window_hop_frames)
            self.metrics.embed_seconds.labels("graph").observe(time.perf_counter() - started)
            self.store.create(EMBEDDED_KIND, key, lambda tmp: _save_embeddings(tmp, graph_uri, checkpoint, low, high))
        embedded = _load_npz(self.store.local_dir(self.store.uri(EMBEDDED_KIND, key)) / "embeddings.npz")
        graph = RetrievalGraph.from_arrays({**graph_arrays, **embedded}, fps=graph_artifact.meta["fps"])
        prepared = PreparedGraph(graph, self.store.parse(self.store.uri(EMBEDDED_KIND, key)), cache_hit=stored)
        self.cache.put((info.sha256, checkpoint), prepared)
        return prepared

    def target_features(self, audio_uri: str, checkpoint: str) -> TargetFeatures:
        return self._features(self._speech(audio_uri), checkpoint)

    def _speech(self, audio_uri: str) -> np.ndarray:
        """The target speech as 16 kHz mono, refused when silent or too long."""
        waveform = load_audio(self.inputs.resolve(audio_uri))
        check_speech(waveform, 16_000)
        seconds = len(waveform) / 16_000
        if seconds > self.config.max_audio_seconds:
            raise InvalidArgument(f"audio of {seconds:.0f} s is above the limit of {self.config.max_audio_seconds:.0f} s",
                                  reason="AUDIO_TOO_LONG")
        return waveform

    def _features(self, waveform: np.ndarray, checkpoint: str) -> TargetFeatures:
        started = time.perf_counter()
        features = audio_features(self.triton, checkpoint, waveform, self.config.window_hop_frames)
        self.metrics.embed_seconds.labels("audio").observe(time.perf_counter() - started)
        return features

    def open_live(self, graph_uri: str, checkpoint: str, options: SearchOptions, pcm: PcmFormat,
                  lookahead_steps: int) -> LiveSearch:
        """A live search of one stream over the graph (the online DP: `search_online`)."""
        if options.mode != "dp":
            raise InvalidArgument(f"live retrieval runs the DP, not {options.mode}", reason="LIVE_MODE_UNSUPPORTED")
        lookahead = lookahead_steps or self.config.live_lookahead_steps
        if not 0 <= lookahead <= 256:
            raise InvalidArgument(f"look-ahead of {lookahead} steps is outside [0, 256]", reason="BAD_LOOKAHEAD")
        prepared = self.prepare(graph_uri, checkpoint)
        features = LiveAudioFeatures(lambda wave: self.triton.embed_audio(wave, checkpoint=checkpoint),
                                     hop_frames=self.config.live_hop_frames)
        search = OnlineSearch(prepared.graph, _with_memory_bound(options, self.config.memory_bound_bytes), lookahead)
        return LiveSearch(pcm, features, search)

    def search(self, graph_uri: str, checkpoint: str, features: TargetFeatures | None, audio_uri: str,
               options: SearchOptions, cues: Cues = Cues(),
               transcript_uri: str = "") -> tuple[SearchResult, PreparedGraph, list[Outcome]]:
        """The path for the target speech (its features, or its audio) honouring the script cues, and how it did."""
        prepared = self.prepare(graph_uri, checkpoint)
        speech = self._speech(audio_uri) if features is None or cues.needs_words else None
        if features is None:
            features = self._features(speech, checkpoint)
        options = _with_memory_bound(options, self.config.memory_bound_bytes)
        if cues.empty:
            result = search_path(prepared.graph, features, options)
            self.metrics.search_seconds.labels(options.mode).observe(result.search_seconds)
            return result, prepared, []
        words = self._words(speech, transcript_uri) if cues.needs_words else ()
        weights = CueWeights(self.config.cue_emphasis_weight, self.config.cue_rest_weight)
        plan = plan_cues(cues, words, prepared.graph, features.steps, features.fps, weights)
        result = _cued_search(prepared.graph, features, options, plan)
        outcomes = judge_cues(plan, result.path)
        for _ in range(REPAIRS):  # a missed emphasis or rest: searched again, stricter
            stricter = plan.tightened(result.path, outcomes)
            if stricter is None:
                break
            try:
                retried = _cued_search(prepared.graph, features, options, stricter)
            except InvalidArgument:
                break
            judged = judge_cues(stricter, retried.path)
            if sum(o.honoured for o in judged) <= sum(o.honoured for o in outcomes):
                break
            plan, result, outcomes = stricter, retried, judged
        self.metrics.search_seconds.labels(options.mode).observe(result.search_seconds)
        return result, prepared, outcomes

    def _words(self, speech: np.ndarray | None, transcript_uri: str) -> tuple:
        """The words of the target speech with times: its transcript force-aligned, else recognised."""
        if speech is None:
            raise InvalidArgument("cues anchored on words need the speech's audio_uri", reason="MISSING_AUDIO")
        given = read_transcript(self.inputs.resolve(transcript_uri)) if transcript_uri else None
        heard = transcribe(speech, given)
        if not heard.usable:
            raise InvalidArgument(f"cues anchored on words, but no words were heard in the speech ({heard.reason}); "
                                  "anchor them on times or give a transcript", reason="CUE_WORDS_UNHEARD")
        return heard.words


def _cued_search(graph: RetrievalGraph, features: TargetFeatures, options: SearchOptions, plan: CuePlan) -> SearchResult:
    try:
        return search_path(graph, features, plan.apply(options))
    except InvalidArgument as error:
        if error.reason != "NO_FEASIBLE_PATH":
            raise
        raise InvalidArgument("no path honours the cues: the avoided footage, pinned gestures, emphasis and rest cut off "
                              "every way through the speaker's graph (avoid less, or move a gesture)",
                              reason="CUES_INFEASIBLE") from error


def _with_memory_bound(options: SearchOptions, bound: int) -> SearchOptions:
    return dataclasses.replace(options, memory_bound_bytes=min(options.memory_bound_bytes, bound))


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def _save_embeddings(directory: Path, graph_uri: str, checkpoint: str, low: np.ndarray, high: np.ndarray) -> None:
    np.savez(directory / "embeddings.npz", motion_low=low, motion_high=high)
    (directory / "meta.json").write_text(json.dumps({"kind": EMBEDDED_KIND, "schema_version": 1, "graph": graph_uri,
                                                     "checkpoint": checkpoint, "dim": int(high.shape[1])}))
