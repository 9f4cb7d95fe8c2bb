"""Whose work a stage does. The orchestrator runs each job (and each live stream) in its tenant's artifact
scope (`artifacts.hashing.tenant_scope`) and names that tenant in the `x-tango-tenant` header of every stage
call (`tenant_channel`); a stage serves the call in the same scope (`TenantScopeInterceptor`), so the artifacts
it makes and finds are that tenant's.

Stages trust the header: only the orchestrator reaches them (mutual TLS; the chart's NetworkPolicies). A
service that authenticates its callers (the orchestrator) never reads it: its tenants come from their tokens.
"""
from __future__ import annotations

from typing import Callable

import grpc

from tango.artifacts.hashing import artifact_tenant, tenant_scope
from tango.runtime.headers import with_headers
from tango.runtime.interceptor import with_behaviour
from tango.runtime.tokens import checked_tenant

HEADER = "x-tango-tenant"


def tenant_channel(channel: grpc.Channel) -> grpc.Channel:
    """`channel` naming the calling thread's tenant (if any) in every call."""
    return with_headers(channel, _current)


def _current() -> list[tuple[str, str]]:
    tenant = artifact_tenant()
    return [(HEADER, tenant)] if tenant else []


class TenantScopeInterceptor(grpc.ServerInterceptor):
    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        tenant = next((value for name, value in handler_call_details.invocation_metadata or () if name == HEADER), "")
        if handler is None or not tenant:
            return handler
        return with_behaviour(handler, lambda behaviour, _requests_stream, replies_stream: (
            _streaming if replies_stream else _unary)(tenant, behaviour))


def _unary(tenant: str, behaviour: Callable) -> Callable:
    def scoped(request, context):
        with tenant_scope(checked_tenant(tenant)):
            return behaviour(request, context)

    return scoped


def _streaming(tenant: str, behaviour: Callable) -> Callable:
    def scoped(request, context):
        with tenant_scope(checked_tenant(tenant)):
            yield from behaviour(request, context)

    return scoped
