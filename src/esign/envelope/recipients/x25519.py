"""X25519 (RFC 8418): ephemeral-static, HKDF-SHA256, AES key wrap."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from esign.asn1 import HKDF_KDF_HASH
from esign.envelope.recipients.agreement import KeyAgreeIdentity, KeyAgreement, KeyAgreeRecipient
from esign.errors import MalformedInputError, UnsupportedAlgorithmError


def hkdf(algorithm: hashes.HashAlgorithm, length: int, info: bytes) -> HKDF:
    """HKDF without salt, ECC-CMS-SharedInfo as info (RFC 8418 §2)."""
    return HKDF(algorithm=algorithm, length=length, salt=None, info=info)


class X25519Recipient(KeyAgreeRecipient):
    """X25519 key agreement (RFC 8418): ephemeral-static, HKDF-SHA256, AES-256 key wrap."""

    scheme = "dh_single_pass_std_dh_hkdf_sha256_scheme"
    kdf = staticmethod(hkdf)

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


class X25519Identity(KeyAgreeIdentity):
    """An X25519 private key (or a key handle that does X25519) that opens X25519 records."""

    schemes = HKDF_KDF_HASH
    kdf = staticmethod(hkdf)

    def peer(self, record: KeyAgreement) -> Callable[[], Any] | None:
        algorithm = record.originator_algorithm
        if algorithm["algorithm"].native != "x25519" or algorithm["parameters"].native:
            raise MalformedInputError("the originator key is not an X25519 key")
        if record.ukm is not None:
            # RFC 8418 feeds a ukm to HKDF; esign never writes one and does not guess.
            raise UnsupportedAlgorithmError("user keying material with X25519 is not supported")
        return lambda: x25519.X25519PublicKey.from_public_bytes(record.point)
