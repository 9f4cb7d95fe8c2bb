"""Which tenant owns what, in the job store every orchestrator replica shares.

A tenant is named by the caller's token (`tango.runtime.tokens.Caller.tenant`; "" where the orchestrator runs
without authentication). Besides its jobs (the `tenant` column of `jobs`), a tenant owns:
- `speaker`: the speakers its jobs made or found (speaker names, `speakers/<sha256>`);
- `media`: the files it uploaded and the videos and sidecars its reenactments rendered (local paths).

The artifacts themselves are the tenant's too: a job runs in its tenant's artifact scope, whose content keys
mix in the tenant (`tango.artifacts.hashing.tenant_scope`, carried to the stages by `x-tango-tenant`), so the
same footage ingested by two tenants makes two speakers with artifacts of their own, and neither finds the
other's in the cache. What one tenant may name, list or download is what it owns; anything else answers
NOT_FOUND, exactly as a name that never existed.
"""
from __future__ import annotations

import time

from tango.orchestrator.job_db import Database
from tango.runtime.paging import page_of
from tango.runtime.tokens import Caller

SPEAKER, MEDIA = "speaker", "media"


def tenant_of(caller: Caller | None) -> str:
    return caller.tenant if caller is not None else ""


class Tenancy:
    def __init__(self, database: Database):
        self.db = database

    def grant(self, tenant: str, kind: str, *names: str) -> None:
        now = time.time()
        for name in filter(None, names):
            self.db.execute("INSERT INTO owned (tenant, kind, name, created) VALUES (?,?,?,?) "
                            "ON CONFLICT (tenant, kind, name) DO NOTHING", (tenant, kind, name, now))

    def owns(self, tenant: str, kind: str, name: str) -> bool:
        return bool(self.db.query("SELECT 1 AS found FROM owned WHERE tenant=? AND kind=? AND name=?",
                                  (tenant, kind, name)))

    def names(self, tenant: str, kind: str, page_size: int, page_token: str) -> tuple[list[str], str]:
        """A page of what the tenant owns of this kind, sorted by name (AIP-158 tokens: the next page's first)."""
        rows = self.db.query("SELECT name FROM owned WHERE tenant=? AND kind=? ORDER BY name", (tenant, kind))
        return page_of([r["name"] for r in rows], page_size, page_token)
