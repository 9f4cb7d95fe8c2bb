"""The catalogue of speakers: immutable `speaker` artifacts holding the Speaker message as JSON."""
from __future__ import annotations

import re

from google.protobuf import json_format

from tango.artifacts.store import ArtifactStore
from tango.orchestrator.v1 import orchestrator_service_pb2 as pb
from tango.runtime.errors import NotFound
from tango.runtime.paging import page_of

KIND = "speaker"
PREFIX = "speakers/"


class SpeakerCatalogue:
    def __init__(self, store: ArtifactStore):
        self.store = store

    def save(self, sha256: str, speaker: pb.Speaker) -> pb.Speaker:
        speaker.name = PREFIX + sha256
        text = json_format.MessageToJson(speaker)
        self.store.create(KIND, sha256, lambda tmp: (tmp / "speaker.json").write_text(text))
        return speaker

    def find(self, sha256: str) -> pb.Speaker | None:
        return self.get(PREFIX + sha256) if self.store.exists(KIND, sha256) else None

    def get(self, name: str) -> pb.Speaker:
        sha = name[len(PREFIX):] if name.startswith(PREFIX) else ""
        if not re.fullmatch(r"[0-9a-f]{64}", sha) or not self.store.exists(KIND, sha):
            raise NotFound(f"speaker {name!r} does not exist", reason="SPEAKER_NOT_FOUND", metadata={"name": name})
        text = (self.store.local_dir(self.store.uri(KIND, sha), KIND) / "speaker.json").read_text()
        return json_format.Parse(text, pb.Speaker())

    def list(self, page_size: int, page_token: str) -> tuple[list[pb.Speaker], str]:
        page, next_token = page_of([a.sha256 for a in self.store.list(KIND)], page_size, page_token)
        return [self.get(PREFIX + sha) for sha in page], next_token
