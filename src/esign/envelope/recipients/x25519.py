"""X25519 (RFC 8418): ephemeral-static, HKDF-SHA256, AES key wrap."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from esign.asn1 import HKDF_KDF_HASH
from esign.envelope.recipients.common import (
    HASHES,
    WRAP_BITS,
    KeyAgreeIdentity,
    KeyAgreement,
    KeyAgreeRecipient,
    shared_info,
)
from esign.errors import MalformedInputError, UnsupportedAlgorithmError


def derive_kek(z: bytes, kdf_hash: str, wrap_name: str, ukm: bytes | None) -> bytes:
    """HKDF without salt over ECC-CMS-SharedInfo (RFC 8418 §2), for wrapping and unwrapping."""
    return HKDF(
        algorithm=HASHES[kdf_hash](),
        length=WRAP_BITS[wrap_name] // 8,
        salt=None,
        info=shared_info(wrap_name, ukm),
    ).derive(z)


@dataclass
class X25519Recipient(KeyAgreeRecipient):
    """X25519 key agreement (RFC 8418): ephemeral-static, HKDF-SHA256, AES-256 key wrap."""

    certificate: x509.Certificate
    scheme = "dh_single_pass_std_dh_hkdf_sha256_scheme"
    derive = staticmethod(derive_kek)

    def ephemeral(self) -> tuple[dict[str, Any], bytes]:
        public = self.certificate.public_key()
        if not isinstance(public, x25519.X25519PublicKey):
            raise UnsupportedAlgorithmError("X25519 recipients need an X25519 certificate")
        ephemeral = x25519.X25519PrivateKey.generate()
        try:
            z = ephemeral.exchange(public)
        except ValueError as exc:  # a low-order point: the all-zero shared secret
            raise MalformedInputError("the recipient's X25519 key is not usable") from exc
        raw = ephemeral.public_key().public_bytes_raw()
        return {"algorithm": {"algorithm": "x25519"}, "public_key": raw}, z


@dataclass
class X25519Identity(KeyAgreeIdentity):
    """An X25519 private key (or a key handle that does X25519) that opens X25519 records."""

    key: Any
    certificate: x509.Certificate | None = None
    schemes = HKDF_KDF_HASH
    derive = staticmethod(derive_kek)

    def peer(self, record: KeyAgreement) -> Callable[[], Any] | None:
        algorithm = record.originator_algorithm
        if algorithm["algorithm"].native != "x25519" or algorithm["parameters"].native:
            raise MalformedInputError("the originator key is not an X25519 key")
        if record.ukm is not None:
            # RFC 8418 feeds a ukm to HKDF; esign never writes one and does not guess.
            raise UnsupportedAlgorithmError("user keying material with X25519 is not supported")
        return lambda: x25519.X25519PublicKey.from_public_bytes(record.point)
