"""Every frame of a speaker's reference videos, decoded once at one output height: live rendering's frames.

A live path visits reference frames in any order at a real-time pace, and a reference video has few
keyframes (the 22 s speaker: 3 in 665 frames), so decoding on demand would seek and decode up to a few
hundred frames for one. The frame bank decodes each video once, resized to the live height, into a raw
uint8 array (`frames_{v}.npy`, (F_v, H, W, 3), indexed by decoded frame like `read_frames`) stored as a
content-addressed `frame_bank` artifact and read memory-mapped: a frame is then a page-cache read.
Cost: F x H x W x 3 bytes per video on disk (the 22 s speaker at 360 rows: 349 MB).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tango.artifacts.hashing import FileHashCache, key_sha256
from tango.artifacts.store import ArtifactStore
from tango.media.video import iter_frames, probe_video
from tango.render.frames import capped_size
from tango.runtime.errors import Cancelled, CorruptMedia
from tango.runtime.progress import StopFn

KIND = "frame_bank"
FORMAT = 1


@dataclass(frozen=True)
class FrameBank:
    videos: tuple[np.ndarray, ...]  # per video (F_v, H, W, 3) uint8, memory-mapped

    @property
    def size(self) -> tuple[int, int]:
        """(H, W) of every frame."""
        return tuple(self.videos[0].shape[1:3])

    def frame(self, video: int, index: int) -> np.ndarray:
        """(H, W, 3) uint8 decoded frame `index` of reference video `video`."""
        return np.asarray(self.videos[video][index])

    def frames(self, video: int, indices: list[int]) -> dict[int, np.ndarray]:
        """The renderer's frame source signature: {index: (H, W, 3) uint8}."""
        return {int(i): self.frame(video, int(i)) for i in indices}

    @classmethod
    def open(cls, store: ArtifactStore, hashes: FileHashCache, videos: list[Path], height: int,
             should_stop: StopFn = lambda: False) -> "FrameBank":
        """The bank of these videos at `height` rows (aspect kept), built on first use (Cancelled, leaving nothing
        behind, when `should_stop` turns true meanwhile)."""
        key = key_sha256({"videos": [hashes.sha256(v) for v in videos], "height": height, "format": FORMAT})
        if not store.exists(KIND, key):
            store.create(KIND, key, lambda tmp: _build(tmp, videos, height, should_stop))
        directory = store.local_dir(store.uri(KIND, key), KIND)
        return cls(tuple(np.load(directory / f"frames_{v}.npy", mmap_mode="r") for v in range(len(videos))))


def _build(directory: Path, videos: list[Path], height: int, should_stop: StopFn) -> None:
    size = None
    for number, path in enumerate(videos):
        info = probe_video(path)
        size = size or capped_size(info.height, info.width, height)
        bank = np.lib.format.open_memmap(directory / f"frames_{number}.npy", mode="w+", dtype=np.uint8,
                                         shape=(info.frame_count, *size, 3))
        seen = np.zeros(info.frame_count, bool)
        for decoded in iter_frames(path, max_frames=info.frame_count):
            if decoded.index % 16 == 0 and should_stop():
                raise Cancelled("the live stream ended while its frames were decoded", reason="LIVE_CANCELLED")
            bank[decoded.index] = cv2.resize(decoded.rgb, size[::-1], interpolation=cv2.INTER_AREA)
            seen[decoded.index] = True
        bank.flush()
        if not seen.all():
            raise CorruptMedia(f"{path.name}: {int((~seen).sum())} of {info.frame_count} frames could not be decoded")
    (directory / "meta.json").write_text(json.dumps({"kind": KIND, "format": FORMAT, "height": height,
                                                     "videos": [str(v) for v in videos]}))
