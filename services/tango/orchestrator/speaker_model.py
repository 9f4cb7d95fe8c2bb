"""The speaker's own AuMoCLIP: trained at ingest on the reference footage's audio–motion pairs.

No downloadable checkpoint serves MediaPipe landmarks, so each speaker gets a model trained on its own
footage (self-supervised pairs of the reference video), cached in the store as a `checkpoint` artifact
named by the content hash of its inputs and settings, and served by Triton from that directory.
Training state lives in a work directory until done, so an interrupted ingest resumes its training.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

from tango.artifacts.hashing import key_sha256
from tango.artifacts.store import ArtifactStore
from tango.aumoclip.data import pairs_from_perception
from tango.aumoclip.speaker import speaker_config, speaker_recipe, train_speaker_model
from tango.perception.artifact_io import PerceptionArtifact
from tango.runtime.errors import FailedPrecondition, InputMismatch

KIND = "checkpoint"
SEED = 0


class SpeakerModelTrainer:
    def __init__(self, store: ArtifactStore, work_dir: Path | None = None):
        self.store = store
        self.work_dir = work_dir or Path(store.cache_dir) / "training"

    def ensure(self, perception_uris: list[str], minutes: float, on_progress: Callable[[int, int], None],
               should_stop: Callable[[], bool]) -> str:
        """The checkpoint id (sha256) of the speaker model for these perception artifacts."""
        artifacts = [PerceptionArtifact.load(self.store.local_dir(uri, "perception")) for uri in perception_uris]
        representations = {a.meta.get("representation", "mediapipe") for a in artifacts}
        if len(representations) != 1:
            raise InputMismatch(f"references mix motion representations {sorted(representations)}")
        config = speaker_config(representations.pop())
        key = key_sha256({"op": "speaker_aumoclip", "perceptions": [u.rsplit("/", 1)[-1] for u in perception_uris],
                          **speaker_recipe(config), "minutes": minutes, "seed": SEED})
        if self.store.exists(KIND, key):
            return key
        pairs = []
        for uri, artifact in zip(perception_uris, artifacts):
            audio = artifact.audio()
            if audio is None:
                raise FailedPrecondition(f"reference {uri} has no audio to learn the speaker's gestures from",
                                         reason="REFERENCE_WITHOUT_AUDIO")
            pairs += pairs_from_perception(artifact.arrays, artifact.meta, audio, name=uri.rsplit("/", 1)[-1][:12])
        work = self.work_dir / key
        train_speaker_model(pairs, work, max_minutes=minutes, seed=SEED, should_stop=should_stop, config=config,
                            progress=lambda _stage, done, total: on_progress(done, total))
        self.store.create(KIND, key, lambda tmp: _copy_checkpoint(work, tmp))
        shutil.rmtree(work, ignore_errors=True)
        return key


def _copy_checkpoint(source: Path, target: Path) -> None:
    for file in source.iterdir():
        if file.is_file():
            shutil.copy2(file, target / file.name)
