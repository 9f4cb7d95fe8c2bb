"""Mutual TLS between the services: each process holds a certificate (server and client use), its key and the
CA that signed its peers, from files (`TANGO_TLS_CERT_FILE`, `TANGO_TLS_KEY_FILE`, `TANGO_TLS_CA_FILE`;
cert-manager's `tls.crt` / `tls.key` / `ca.crt` in a cluster, `tango mesh up`'s throw-away CA locally).

- A server asks every client for a certificate signed by the CA and re-reads its files when they change:
  `grpc.dynamic_ssl_server_credentials` asks `_Rotation` before each handshake, so a rotated Secret takes
  effect for new connections without a restart.
- A client (a stage channel, the CLI, a health probe, the Triton client) presents the same certificate and
  checks the server's against the CA; its files are read when the channel is opened.
- `make_mesh_pki(folder)` writes a CA and one certificate for loopback (127.0.0.1 / localhost) with the
  `cryptography` package: for the local mesh only, never for a cluster.

The three files come together or not at all (BAD_TLS_CONFIG otherwise): TLS without a CA would accept any
client, and one without a certificate could not be served.
"""
from __future__ import annotations

import datetime
import ipaddress
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import grpc

from tango.runtime.errors import InvalidArgument, Unavailable

ENV_KEYS = ("TANGO_TLS_CERT_FILE", "TANGO_TLS_KEY_FILE", "TANGO_TLS_CA_FILE")


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path
    ca: Path

    @classmethod
    def of(cls, cert: str, key: str, ca: str) -> "TlsFiles | None":
        if not (cert or key or ca):
            return None
        if not (cert and key and ca):
            raise InvalidArgument("TLS needs a certificate, its key and the CA file together", reason="BAD_TLS_CONFIG")
        return cls(Path(cert), Path(key), Path(ca))

    @classmethod
    def from_config(cls, config) -> "TlsFiles | None":
        return cls.of(config.tls_cert_file, config.tls_key_file, config.tls_ca_file)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "TlsFiles | None":
        env = os.environ if env is None else env
        return cls.of(*(env.get(key, "") for key in ENV_KEYS))

    def environment(self) -> dict[str, str]:
        return dict(zip(ENV_KEYS, (str(self.cert), str(self.key), str(self.ca))))

    def read(self) -> tuple[bytes, bytes, bytes]:
        """(certificate chain, private key, CA) as PEM bytes."""
        try:
            return self.cert.read_bytes(), self.key.read_bytes(), self.ca.read_bytes()
        except OSError as exc:
            raise Unavailable(f"cannot read the TLS files ({exc.strerror})", reason="TLS_FILES_UNREADABLE") from exc

    def stamp(self) -> tuple:
        return tuple((p.stat().st_mtime_ns, p.stat().st_size) for p in (self.cert, self.key, self.ca))


class _Rotation:
    """Asked by gRPC before each handshake: a new configuration when the files changed, else None (keep)."""

    def __init__(self, files: TlsFiles):
        self.files = files
        self._lock = threading.Lock()
        self._stamp = files.stamp()

    def configuration(self):
        cert, key, ca = self.files.read()
        return grpc.ssl_server_certificate_configuration([(key, cert)], root_certificates=ca)

    def __call__(self):
        try:
            stamp = self.files.stamp()
        except OSError:
            return None  # mid-rotation (a Secret's symlinks being swapped): keep serving the last good one
        with self._lock:
            if stamp == self._stamp:
                return None
            self._stamp = stamp
        return self.configuration()


def server_credentials(files: TlsFiles) -> grpc.ServerCredentials:
    rotation = _Rotation(files)
    return grpc.dynamic_ssl_server_credentials(rotation.configuration(), rotation,
                                               require_client_authentication=True)


def channel_credentials(files: TlsFiles) -> grpc.ChannelCredentials:
    cert, key, ca = files.read()
    return grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)


def open_channel(target: str, files: TlsFiles | None, options: list[tuple] | None = None) -> grpc.Channel:
    """A channel over mutual TLS when `files` are given, plaintext otherwise."""
    if files is None:
        return grpc.insecure_channel(target, options=options)
    return grpc.secure_channel(target, channel_credentials(files), options=options)


def make_mesh_pki(folder: Path, days: int = 30) -> TlsFiles:
    """A throw-away CA and one loopback certificate signed by it (server and client use), mode 0600 keys."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tango local mesh CA")])

    def builder(subject: x509.Name, public_key) -> x509.CertificateBuilder:
        return (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_name).public_key(public_key)
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=days)))

    ca = (builder(ca_name, ca_key.public_key())
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    leaf = (builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tango-mesh")]), leaf_key.public_key())
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    files = TlsFiles(folder / "tls.crt", folder / "tls.key", folder / "ca.crt")
    pem = serialization.Encoding.PEM
    key_pem = leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    for path, data in ((files.key, key_pem), (files.cert, leaf.public_bytes(pem)), (files.ca, ca.public_bytes(pem))):
        tmp = path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as handle:
            handle.write(data)
        tmp.replace(path)
    return files
