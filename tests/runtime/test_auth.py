"""Bearer-token authentication in the shared runtime: API keys from a hashed keys file, JWTs against a JWKS
(file and a real HTTP server), the client side that sends the token, and the codes of every refusal."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from tango.runtime.auth import bearer_channel, client_token
from tango.runtime.config import ServiceConfig
from tango.runtime.metrics import ServiceMetrics
from tango.runtime.server import GrpcService, ServiceBinding
from tango.runtime.tokens import api_key_line, current_caller, new_api_key

PROBE = "tango.test.v1.WhoAmI"


def _who_binding() -> ServiceBinding:
    """Unary and bidirectional methods answering with the caller the interceptor admitted."""

    def who(request: bytes, context) -> bytes:
        caller = current_caller()
        return f"{caller.tenant}/{caller.kind}".encode()

    def who_stream(requests, context):
        for request in requests:
            yield request + b":" + current_caller().tenant.encode()

    identity = lambda b: b  # noqa: E731
    generic = grpc.method_handlers_generic_handler(PROBE, {
        "Who": grpc.unary_unary_rpc_method_handler(who, identity, identity),
        "WhoStream": grpc.stream_stream_rpc_method_handler(who_stream, identity, identity),
    })
    return ServiceBinding(PROBE, lambda server: server.add_generic_rpc_handlers((generic,)))


def _serve(**auth) -> GrpcService:
    service = GrpcService(ServiceConfig(service="who", port=0, metrics_port=-1, grace_s=1, **auth), [_who_binding()],
                          ServiceMetrics("who"))
    service.start()
    service.mark_ready()
    return service


def _who(service: GrpcService, token: str | None) -> str:
    channel = bearer_channel(grpc.insecure_channel(f"127.0.0.1:{service.port}"), token)
    return channel.unary_unary(f"/{PROBE}/Who")(b"", timeout=10).decode()


def _refusal(service: GrpcService, token: str | None) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as caught:
        _who(service, token)
    info = error_details_pb2.ErrorInfo()
    assert rpc_status.from_call(caught.value).details[0].Unpack(info)
    if token:
        assert token not in caught.value.details()  # a token is never echoed
    return caught.value.code(), info.reason


@pytest.fixture()
def keyed(tmp_path):
    key = new_api_key()
    keys = tmp_path / "api_keys"
    keys.write_text(f"# team keys\n{api_key_line('newsroom', key)}\n")
    service = _serve(api_keys_file=str(keys))
    yield service, key, keys
    service.stop()


def test_api_keys_admit_their_tenant_and_refuse_everything_else(keyed):
    service, key, keys = keyed
    assert key not in keys.read_text()  # only the hash is stored
    assert _who(service, key) == "newsroom/api_key"
    assert _refusal(service, None) == (grpc.StatusCode.UNAUTHENTICATED, "TOKEN_MISSING")
    assert _refusal(service, new_api_key()) == (grpc.StatusCode.UNAUTHENTICATED, "TOKEN_INVALID")
    raw = grpc.insecure_channel(f"127.0.0.1:{service.port}").unary_unary(f"/{PROBE}/Who")
    with pytest.raises(grpc.RpcError) as caught:
        raw(b"", metadata=[("authorization", f"Basic {key}")], timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_health_stays_open_and_streams_know_their_caller(keyed):
    service, key, _ = keyed
    health = health_pb2_grpc.HealthStub(grpc.insecure_channel(f"127.0.0.1:{service.port}"))
    assert health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == health_pb2.HealthCheckResponse.SERVING
    channel = bearer_channel(grpc.insecure_channel(f"127.0.0.1:{service.port}"), key)
    replies = list(channel.stream_stream(f"/{PROBE}/WhoStream")(iter([b"a", b"b"]), timeout=10))
    assert replies == [b"a:newsroom", b"b:newsroom"]


def test_a_rotated_keys_file_takes_effect_without_a_restart(keyed):
    service, key, keys = keyed
    successor = new_api_key()
    keys.write_text(api_key_line("newsroom", successor) + "\n")
    assert _who(service, successor) == "newsroom/api_key"
    assert _refusal(service, key) == (grpc.StatusCode.UNAUTHENTICATED, "TOKEN_INVALID")


def test_a_malformed_keys_file_fails_at_start(tmp_path):
    keys = tmp_path / "api_keys"
    keys.write_text("newsroom:not-a-hash\n")
    with pytest.raises(Exception) as caught:
        _serve(api_keys_file=str(keys))
    assert getattr(caught.value, "reason", "") == "BAD_API_KEYS_FILE"


class _Issuer:
    """An identity provider's signing key and its public JWKS."""

    def __init__(self, kid: str = "k1"):
        self.kid = kid
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.jwk = json.loads(ECAlgorithm.to_jwk(self.key.public_key())) | {"kid": kid, "use": "sig"}

    def jwks(self) -> str:
        return json.dumps({"keys": [self.jwk]})

    def token(self, expires_in: float = 300, **claims) -> str:
        body = {"sub": "anchor-desk", "tenant": "newsroom", "iss": "https://id.example", "scope": "tango reenact",
                "exp": int(time.time() + expires_in)} | claims
        return jwt.encode({k: v for k, v in body.items() if v is not None}, self.key, algorithm="ES256",
                          headers={"kid": self.kid})


@pytest.fixture()
def issuer_file(tmp_path):
    issuer = _Issuer()
    jwks = tmp_path / "jwks.json"
    jwks.write_text(issuer.jwks())
    service = _serve(jwks=str(jwks), jwt_issuer="https://id.example", jwt_scope="tango")
    yield service, issuer
    service.stop()


def test_jwts_are_verified_against_the_jwks(issuer_file):
    service, issuer = issuer_file
    assert _who(service, issuer.token()) == "newsroom/jwt"
    assert _refusal(service, issuer.token(expires_in=-120)) == (grpc.StatusCode.UNAUTHENTICATED, "TOKEN_EXPIRED")
    assert _refusal(service, issuer.token(iss="https://evil.example")) == (grpc.StatusCode.UNAUTHENTICATED,
                                                                          "TOKEN_INVALID")
    forged = _Issuer(kid="k1").token()  # same key id, another key
    assert _refusal(service, forged) == (grpc.StatusCode.UNAUTHENTICATED, "TOKEN_INVALID")
    assert _refusal(service, issuer.token(tenant=None)) == (grpc.StatusCode.PERMISSION_DENIED, "TENANT_MISSING")
    assert _refusal(service, issuer.token(tenant="Not A Tenant")) == (grpc.StatusCode.PERMISSION_DENIED,
                                                                      "TENANT_MISSING")
    assert _refusal(service, issuer.token(scope="other")) == (grpc.StatusCode.PERMISSION_DENIED, "SCOPE_MISSING")


def test_algorithm_confusion_and_unsigned_tokens_are_refused(issuer_file):
    service, issuer = issuer_file
    claims = {"sub": "x", "tenant": "newsroom", "iss": "https://id.example", "scope": "tango",
              "exp": int(time.time() + 300)}
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": "k1"})
    assert _refusal(service, unsigned) == (grpc.StatusCode.UNAUTHENTICATED, "TOKEN_INVALID")
    public_as_secret = json.dumps(issuer.jwk).encode()  # HS256 "signed" with the public key, by hand
    header = jwt.utils.base64url_encode(json.dumps({"alg": "HS256", "kid": "k1"}).encode())
    payload = jwt.utils.base64url_encode(json.dumps(claims).encode())
    signature = jwt.utils.base64url_encode(hmac.new(public_as_secret, header + b"." + payload, hashlib.sha256).digest())
    confused = (header + b"." + payload + b"." + signature).decode()
    assert _refusal(service, confused) == (grpc.StatusCode.UNAUTHENTICATED, "TOKEN_INVALID")


class _JwksHandler(BaseHTTPRequestHandler):
    body = b"{}"

    def do_GET(self):  # noqa: N802 - http.server's name
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(type(self).body)

    def log_message(self, *args):
        pass


def test_jwks_by_url_rotates_keys_and_says_when_it_is_unreachable():
    old, new = _Issuer("2026-10"), _Issuer("2026-11")
    handler = type("Handler", (_JwksHandler,), {"body": old.jwks().encode()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    service = _serve(jwks=f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json", jwks_refresh_s=0.0)
    try:
        assert _who(service, old.token()) == "newsroom/jwt"
        handler.body = json.dumps({"keys": [old.jwk, new.jwk]}).encode()  # the provider adds its next key
        assert _who(service, new.token()) == "newsroom/jwt"  # an unknown key id fetches the set again
        server.shutdown()
        server.server_close()
        late = _Issuer("2026-12")
        assert _refusal(service, late.token()) == (grpc.StatusCode.UNAVAILABLE, "JWKS_UNAVAILABLE")
        assert _who(service, old.token()) == "newsroom/jwt"  # cached keys keep working meanwhile
    finally:
        service.stop()


def test_an_rsa_jwks_file_and_the_client_token_sources(tmp_path, monkeypatch):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [json.loads(RSAAlgorithm.to_jwk(key.public_key()))]}))  # one key: no kid
    service = _serve(jwks=str(jwks))
    try:
        token = jwt.encode({"sub": "s", "tenant": "sports", "exp": int(time.time() + 60)}, key, algorithm="RS256")
        monkeypatch.setenv("TANGO_TOKEN_FILE", str(tmp_path / "token"))
        (tmp_path / "token").write_text(token + "\n")
        assert _who(service, client_token()) == "sports/jwt"
        monkeypatch.setenv("TANGO_TOKEN", "from-env")
        assert client_token() == "from-env"
    finally:
        service.stop()


def test_the_cli_makes_a_key_and_the_line_that_admits_it(tmp_path, capsys):
    from tango.cli.main import main as tango_main

    assert tango_main(["auth", "key", "--tenant", "weather", "--json"]) == 0
    made = json.loads(capsys.readouterr().out)
    (tmp_path / "api_keys").write_text(made["api_keys_line"] + "\n")
    service = _serve(api_keys_file=str(tmp_path / "api_keys"))
    try:
        assert _who(service, made["key"]) == "weather/api_key"
    finally:
        service.stop()
    assert tango_main(["auth", "key", "--tenant", "Not Valid"]) == 2
