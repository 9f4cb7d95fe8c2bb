"""Service configuration objects read from environment variables.

A field `foo` of the config of service `graph` is read from `TANGO_GRAPH_FOO`, falling back to the
mesh-wide `TANGO_FOO`, then to the dataclass default. Each service extends `ServiceConfig`.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Mapping, TypeVar

from tango.runtime.errors import InvalidArgument

C = TypeVar("C", bound="ServiceConfig")


def default_data_uri() -> str:
    return (Path.cwd() / ".tango" / "data").as_uri()


@dataclasses.dataclass(frozen=True)
class ServiceConfig:
    service: str = "service"
    host: str = "127.0.0.1"
    port: int = 0  # 0 = pick a free port
    metrics_port: int = 0  # 0 = pick a free port; -1 = no metrics endpoint
    data_uri: str = dataclasses.field(default_factory=default_data_uri)
    allowed_roots: str = ""  # colon-separated directories inputs may be read from (besides data_uri)
    max_workers: int = 8
    max_message_mb: int = 64
    blas_threads: int = 0  # BLAS threads of the service's process (`tango serve`); 0 = the library's default
    grace_s: float = 10.0
    log_level: str = "INFO"
    # bearer tokens (`tango.runtime.tokens`): none configured = no authentication at this service's door
    api_keys_file: str = ""  # `tenant:sha256-hex` a line (a mounted Secret)
    jwks: str = ""  # JWKS of the identity provider: an https/http URL or a file
    jwks_refresh_s: float = 30.0  # an unknown key id fetches a JWKS URL again at most this often
    jwt_issuer: str = ""
    jwt_audience: str = ""
    jwt_tenant_claim: str = "tenant"
    jwt_scope: str = ""  # when set, a JWT must carry this word in its `scope` claim
    # mutual TLS (`tango.runtime.tls`): all three or none; this process's certificate serves and calls
    tls_cert_file: str = ""
    tls_key_file: str = ""
    tls_ca_file: str = ""

    @classmethod
    def from_env(cls: type[C], service: str, env: Mapping[str, str] | None = None, **overrides: Any) -> C:
        env = os.environ if env is None else env
        values: dict[str, Any] = {"service": service}
        for field in dataclasses.fields(cls):
            if field.name == "service":
                continue
            for key in (f"TANGO_{service.upper()}_{field.name.upper()}", f"TANGO_{field.name.upper()}"):
                if key in env:
                    values[field.name] = _parse(field, env[key], key)
                    break
        values.update(overrides)
        return cls(**values)

    @property
    def allowed_root_list(self) -> list[str]:
        return [r for r in self.allowed_roots.split(":") if r]


def _parse(field: dataclasses.Field, raw: str, key: str) -> Any:
    kind = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", str(field.type))
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "bool":
            if raw.lower() not in {"1", "0", "true", "false", "yes", "no"}:
                raise ValueError(raw)
            return raw.lower() in {"1", "true", "yes"}
    except ValueError as exc:
        raise InvalidArgument(f"{key}={raw!r} is not a valid {kind}", reason="BAD_CONFIG") from exc
    return raw
