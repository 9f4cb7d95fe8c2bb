"""The speaker's own AuMoCLIP: trained on the reference footage's audio–motion pairs. No gRPC here.

No downloadable checkpoint serves MediaPipe landmarks, so each speaker gets a model trained on its own
footage (self-supervised pairs of the reference video), stored as a `checkpoint` artifact named by the
content hash of its inputs and settings, and served by Triton from that directory. Training state lives in
a work directory until done, so an interrupted training resumes. The same two functions run in the
trainer service's process and in the Kubernetes Job it may launch instead (`tango trainer train`).
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from tango.artifacts.hashing import key_sha256
from tango.artifacts.store import ArtifactStore
from tango.aumoclip.config import AuMoCLIPConfig
from tango.aumoclip.data import pairs_from_perception
from tango.aumoclip.speaker import speaker_config, speaker_recipe, train_speaker_model
from tango.perception.artifact_io import PerceptionArtifact
from tango.runtime.errors import FailedPrecondition, InputMismatch, InvalidArgument
from tango.runtime.progress import ProgressFn, StopFn

KIND = "checkpoint"
SEED = 0


@dataclass(frozen=True)
class TrainingPlan:
    """What one speaker model is trained from, and the checkpoint id it will have."""

    key: str  # sha256 of the perceptions and the recipe: the checkpoint id
    perception_uris: tuple[str, ...]
    minutes: float
    config: AuMoCLIPConfig = field(compare=False)
    artifacts: tuple[PerceptionArtifact, ...] = field(compare=False, repr=False)


def plan_training(store: ArtifactStore, perception_uris: list[str] | tuple[str, ...], minutes: float) -> TrainingPlan:
    if not perception_uris:
        raise InvalidArgument("a speaker model needs at least one perception artifact", reason="NO_PERCEPTIONS")
    if not minutes > 0:
        raise InvalidArgument(f"the training budget must be positive, not {minutes} minutes", reason="BAD_TRAIN_MINUTES")
    artifacts = tuple(PerceptionArtifact.load(store.local_dir(uri, "perception")) for uri in perception_uris)
    representations = {a.meta.get("representation", "mediapipe") for a in artifacts}
    if len(representations) != 1:
        raise InputMismatch(f"references mix motion representations {sorted(representations)}")
    config = speaker_config(representations.pop())
    key = key_sha256({"op": "speaker_aumoclip", "perceptions": [u.rsplit("/", 1)[-1] for u in perception_uris],
                      **speaker_recipe(config), "minutes": minutes, "seed": SEED})
    return TrainingPlan(key, tuple(perception_uris), minutes, config, artifacts)


def train_locally(store: ArtifactStore, plan: TrainingPlan, work_root: Path, on_progress: ProgressFn,
                  should_stop: StopFn, device: str = "cpu") -> None:
    """Trains the plan's model in this process (on `device`: "cpu", "cuda[:N]", "auto") and stores it as the
    `checkpoint` artifact `plan.key`."""
    pairs = []
    for uri, artifact in zip(plan.perception_uris, plan.artifacts):
        audio = artifact.audio()
        if audio is None:
            raise FailedPrecondition(f"reference {uri} has no audio to learn the speaker's gestures from",
                                     reason="REFERENCE_WITHOUT_AUDIO")
        pairs += pairs_from_perception(artifact.arrays, artifact.meta, audio, name=uri.rsplit("/", 1)[-1][:12])
    work = work_root / plan.key
    train_speaker_model(pairs, work, max_minutes=plan.minutes, seed=SEED, should_stop=should_stop, config=plan.config,
                        progress=on_progress, device=device)
    store.create(KIND, plan.key, lambda tmp: _copy_checkpoint(work, tmp))
    shutil.rmtree(work, ignore_errors=True)


def _copy_checkpoint(source: Path, target: Path) -> None:
    for file in source.iterdir():
        if file.is_file():
            shutil.copy2(file, target / file.name)
