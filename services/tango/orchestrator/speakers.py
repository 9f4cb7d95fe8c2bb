"""The catalogue of speakers: immutable `speaker` artifacts holding the Speaker message as JSON, each visible to
the tenants that made or found it (`tango.orchestrator.tenancy`), with each tenant's own tags on its footage
(`speaker_tags`: named gestures for script cues, spans never to show)."""
from __future__ import annotations

import math
import re
import time

from google.protobuf import json_format

from tango.artifacts.store import ArtifactStore
from tango.orchestrator.tenancy import SPEAKER, Tenancy
from tango.orchestrator.v1 import orchestrator_service_pb2 as pb
from tango.runtime.errors import InvalidArgument, NotFound
from tango.type.v1 import types_pb2

KIND = "speaker"
PREFIX = "speakers/"
TAG_NAME = re.compile(r"[a-z0-9_-]{1,64}")


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
        speaker = json_format.Parse(text, pb.Speaker())
        speaker.tags.extend(self._tags(name, tenant))
        return speaker

    def tag(self, name: str, tag: pb.GestureTag, tenant: str) -> pb.GestureTag:
        """Stores (or replaces) the tenant's tag on the speaker's footage."""
        speaker = self.get(name, tenant)
        span = tag.span
        if not TAG_NAME.fullmatch(tag.name):
            raise InvalidArgument(f"tag name {tag.name!r} is not [a-z0-9_-]{{1,64}}", reason="BAD_TAG_NAME")
        if not 0 <= span.reference < len(speaker.reference_uris):
            raise InvalidArgument(f"reference {span.reference} outside 0..{len(speaker.reference_uris) - 1}",
                                  reason="CUE_REFERENCE_OUT_OF_RANGE")
        if not (math.isfinite(span.start_s) and math.isfinite(span.end_s) and 0 <= span.start_s < span.end_s):
            raise InvalidArgument(f"tag span {span.start_s}-{span.end_s} s is not a span of footage",
                                  reason="BAD_TAG_SPAN")
        self.tenancy.db.execute(
            "INSERT INTO speaker_tags (tenant, speaker, name, reference, start_s, end_s, avoid, created) "
            "VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (tenant, speaker, name) DO UPDATE SET reference=excluded.reference, "
            "start_s=excluded.start_s, end_s=excluded.end_s, avoid=excluded.avoid, created=excluded.created",
            (tenant, name, tag.name, span.reference, span.start_s, span.end_s, int(tag.avoid), time.time()))
        return tag

    def _tags(self, name: str, tenant: str) -> list[pb.GestureTag]:
        rows = self.tenancy.db.query("SELECT name, reference, start_s, end_s, avoid FROM speaker_tags "
                                     "WHERE tenant=? AND speaker=? ORDER BY name", (tenant, name))
        return [pb.GestureTag(name=r["name"], avoid=bool(r["avoid"]), span=types_pb2.ReferenceRange(
            reference=r["reference"], start_s=r["start_s"], end_s=r["end_s"])) for r in rows]

    def list(self, tenant: str, page_size: int, page_token: str) -> tuple[list[pb.Speaker], str]:
        page, next_token = self.tenancy.names(tenant, SPEAKER, page_size, page_token)
        return [self.get(name, tenant) for name in page], next_token
