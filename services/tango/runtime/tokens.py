"""Who is calling: the bearer tokens a service accepts, and the caller (tenant) each one names.

Two kinds of token, either or both configured (`ServiceConfig.api_keys_file`, `.jwks`):
- **API keys**: random strings (`new_api_key()`, `tango_` + 43 url-safe characters) handed to a team once;
  the service keeps only their SHA-256, one `tenant:hex` a line in `api_keys_file` (a mounted Secret). The
  file is re-read when it changes, so a rotated Secret takes effect without a restart. A plain hash (no
  slow KDF) is enough: the keys are 256-bit random, not passwords.
- **JWTs** from an identity provider, verified against its JWKS (`jwks`: an https/http URL, fetched and
  cached by PyJWT's `PyJWKClient`, re-fetched for an unknown key id at most every `jwks_refresh_s`; or a file,
  re-read when it changes).
  Asymmetric keys only (RS*, PS*, ES*, EdDSA: the algorithm comes from the key, never from the token);
  `exp` and `sub` are required; `iss` / `aud` when configured; 30 s of clock leeway. The tenant is the
  `jwt_tenant_claim` claim; `jwt_scope`, when set, must be one of the token's `scope` words.

Failures: UNAUTHENTICATED with reason TOKEN_MISSING / TOKEN_MALFORMED / TOKEN_INVALID / TOKEN_EXPIRED;
PERMISSION_DENIED with TENANT_MISSING / SCOPE_MISSING for a genuine token that may not use the service;
UNAVAILABLE JWKS_UNAVAILABLE when the identity provider cannot be reached. Messages never echo a token.
"""
from __future__ import annotations

import contextvars
import hashlib
import re
import secrets
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import jwt

from tango.runtime.errors import InvalidArgument, PermissionDenied, Unauthenticated, Unavailable

TENANT_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
API_KEY_PREFIX = "tango_"
ASYMMETRIC_ALGORITHMS = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
LEEWAY_S = 30.0


@dataclass(frozen=True)
class Caller:
    tenant: str
    subject: str  # the key's hash prefix, or the JWT's `sub`
    kind: str  # "api_key" | "jwt"


_caller: contextvars.ContextVar[Caller | None] = contextvars.ContextVar("tango_caller", default=None)


def current_caller() -> Caller | None:
    """The authenticated caller of the RPC this thread serves (None where the service runs without auth)."""
    return _caller.get()


@contextmanager
def acting_as(caller: Caller) -> Iterator[None]:
    """`current_caller()` is `caller` inside the block (the RPC's worker thread)."""
    token = _caller.set(caller)
    try:
        yield
    finally:
        _caller.reset(token)


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def api_key_line(tenant: str, key: str) -> str:
    """The line of `api_keys_file` that admits `key` for `tenant` (the key itself is not in it)."""
    return f"{checked_tenant(tenant)}:{_digest(key)}"


def checked_tenant(tenant: str) -> str:
    if not TENANT_PATTERN.fullmatch(tenant):
        raise InvalidArgument("a tenant is 1-63 lower-case letters, digits and '-'", reason="BAD_TENANT")
    return tenant


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class _WatchedFile:
    """A file parsed again whenever its modification time or size changes (a rotated Secret)."""

    def __init__(self, path: Path, parse: Callable[[str], object]):
        self.path, self._parse = path, parse
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._value: object = None
        self.current()  # a bad file fails at start, not at the first call

    def current(self):
        try:
            stat = self.path.stat()
        except OSError as exc:
            raise Unavailable(f"cannot read {self.path.name}", reason="AUTH_CONFIG_UNREADABLE") from exc
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if stamp != self._stamp:
                self._value, self._stamp = self._parse(self.path.read_text()), stamp
            return self._value


class ApiKeys:
    def __init__(self, path: Path):
        self._file = _WatchedFile(path, _parse_api_keys)

    def caller(self, key: str) -> Caller | None:
        """Looked up by the key's hash (a lookup's timing can only tell the hash of a guess, never a key)."""
        digest = _digest(key)
        tenant = self._file.current().get(digest)
        return Caller(tenant=tenant, subject=f"key:{digest[:12]}", kind="api_key") if tenant else None


def _parse_api_keys(text: str) -> dict[str, str]:
    """`tenant:sha256-hex` a line; blank lines and `#` comments skipped."""
    keys = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        tenant, _, digest = line.partition(":")
        if not TENANT_PATTERN.fullmatch(tenant) or not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise InvalidArgument(f"api keys file line {number} is not tenant:sha256-hex", reason="BAD_API_KEYS_FILE")
        keys[digest] = tenant
    return keys


class JwtVerifier:
    def __init__(self, jwks: str, issuer: str = "", audience: str = "", tenant_claim: str = "tenant", scope: str = "",
                 refresh_s: float = 30.0):
        self.issuer, self.audience, self.tenant_claim, self.scope = issuer or None, audience or None, tenant_claim, scope
        if jwks.startswith(("https://", "http://")):
            client = jwt.PyJWKClient(jwks, cache_keys=True, lifespan=300, timeout=5, cooldown_duration=refresh_s)
            self._signing_key = client.get_signing_key_from_jwt
        else:
            key_set = _WatchedFile(Path(jwks), _parse_jwks)
            self._signing_key = lambda token: _key_for(key_set.current(), token)

    def caller(self, token: str) -> Caller:
        try:
            key = self._signing_key(token)
            if key.algorithm_name not in ASYMMETRIC_ALGORITHMS:
                raise Unauthenticated("the token's key is not an asymmetric signing key", reason="TOKEN_INVALID")
            claims = jwt.decode(token, key.key, algorithms=[key.algorithm_name], issuer=self.issuer,
                                audience=self.audience, leeway=LEEWAY_S, options={"require": ["exp", "sub"]})
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the token has expired", reason="TOKEN_EXPIRED") from None
        except jwt.PyJWKClientConnectionError:
            raise Unavailable("the identity provider's key set cannot be fetched", reason="JWKS_UNAVAILABLE") from None
        except jwt.PyJWTError:
            raise Unauthenticated("the token is not valid here", reason="TOKEN_INVALID") from None
        if self.scope and self.scope not in str(claims.get("scope", "")).split():
            raise PermissionDenied(f"the token lacks the scope {self.scope!r}", reason="SCOPE_MISSING")
        tenant = claims.get(self.tenant_claim)
        if not isinstance(tenant, str) or not TENANT_PATTERN.fullmatch(tenant):
            raise PermissionDenied(f"the token names no valid tenant (claim {self.tenant_claim!r})", reason="TENANT_MISSING")
        return Caller(tenant=tenant, subject=str(claims["sub"])[:128], kind="jwt")


def _parse_jwks(text: str) -> jwt.PyJWKSet:
    try:
        return jwt.PyJWKSet.from_json(text)
    except (jwt.PyJWTError, ValueError) as exc:
        raise InvalidArgument("the JWKS file holds no usable key", reason="BAD_JWKS") from exc


def _key_for(key_set: jwt.PyJWKSet, token: str) -> jwt.PyJWK:
    """The key the token's `kid` names (a set of one key needs no `kid`)."""
    kid = jwt.get_unverified_header(token).get("kid")
    if kid is None and len(key_set.keys) == 1:
        return key_set.keys[0]
    for key in key_set.keys:
        if key.key_id == kid:
            return key
    raise jwt.InvalidTokenError("unknown key id")


class Authenticator:
    """A bearer token -> its Caller, or the domain error saying why not."""

    def __init__(self, api_keys: ApiKeys | None = None, jwts: JwtVerifier | None = None):
        self.api_keys, self.jwts = api_keys, jwts

    @classmethod
    def from_config(cls, config) -> "Authenticator | None":
        """From `ServiceConfig`'s auth fields; None when neither API keys nor a JWKS is configured."""
        if not (config.api_keys_file or config.jwks):
            return None
        api_keys = ApiKeys(Path(config.api_keys_file)) if config.api_keys_file else None
        jwts = JwtVerifier(config.jwks, config.jwt_issuer, config.jwt_audience, config.jwt_tenant_claim,
                           config.jwt_scope, config.jwks_refresh_s) if config.jwks else None
        return cls(api_keys, jwts)

    def authenticate(self, metadata: Iterable[tuple[str, str | bytes]]) -> Caller:
        headers = [value for key, value in metadata or () if key == "authorization"]
        if not headers:
            raise Unauthenticated("this service needs a bearer token (metadata `authorization: Bearer ...`)",
                                  reason="TOKEN_MISSING")
        scheme, _, token = str(headers[0]).partition(" ")
        token = token.strip()
        if len(headers) > 1 or scheme.lower() != "bearer" or not token or len(token) > 8192:
            raise Unauthenticated("the authorization header is not one `Bearer <token>`", reason="TOKEN_MALFORMED")
        if token.count(".") == 2 and self.jwts is not None:
            return self.jwts.caller(token)
        caller = self.api_keys.caller(token) if self.api_keys is not None else None
        if caller is None:
            raise Unauthenticated("the token is not valid here", reason="TOKEN_INVALID")
        return caller

