"""The catalogue of speakers: immutable `speaker` artifacts holding the Speaker message as JSON, each visible to
the tenants that made or found it (`tango.orchestrator.tenancy`)."""
from __future__ import annotations

import re

from google.protobuf import json_format

from tango.artifacts.store import ArtifactStore
from tango.orchestrator.tenancy import SPEAKER, Tenancy
from tango.orchestrator.v1 import orchestrator_service_pb2 as pb
from tango.runtime.errors import NotFound

KIND = "speaker"
PREFIX = "speakers/"


class SpeakerCatalogue:
    def __init__(self, store: ArtifactStore, tenancy: Tenancy):
        self.store = store
        self.tenancy = tenancy

    def save(self, sha256: str, speaker: pb.Speaker, tenant: str) -> pb.Speaker:
        speaker.name = PREFIX + sha256
        text = json_format.MessageToJson(speaker)
        self.store.create(KIND, sha256, lambda tmp: (tmp / "speaker.json").write_text(text))
        self.tenancy.grant(tenant, SPEAKER, speaker.name)
        return speaker

    def adopt(self, sha256: str, tenant: str) -> pb.Speaker | None:
        """The speaker of this content hash when one exists (made by any tenant), now also `tenant`'s."""
        if not self.store.exists(KIND, sha256):
            return None
        self.tenancy.grant(tenant, SPEAKER, PREFIX + sha256)
        return self.get(PREFIX + sha256, tenant)

    def get(self, name: str, tenant: str) -> pb.Speaker:
        sha = name[len(PREFIX):] if name.startswith(PREFIX) else ""
        if (not re.fullmatch(r"[0-9a-f]{64}", sha) or not self.tenancy.owns(tenant, SPEAKER, name)
                or not self.store.exists(KIND, sha)):
            raise NotFound(f"speaker {name!r} does not exist", reason="SPEAKER_NOT_FOUND", metadata={"name": name})
        text = (self.store.local_dir(self.store.uri(KIND, sha), KIND) / "speaker.json").read_text()
        return json_format.Parse(text, pb.Speaker())

    def list(self, tenant: str, page_size: int, page_token: str) -> tuple[list[pb.Speaker], str]:
        page, next_token = self.tenancy.names(tenant, SPEAKER, page_size, page_token)
        return [self.get(name, tenant) for name in page], next_token
