"""What every recipient kind shares: the recipient and identity protocols, how a record
names its recipient, key usage, and the key operations of keys held elsewhere (key
agreement, which ECDH and X25519 share, is :mod:`.agreement`).

Modelled on age: a *recipient* turns a CEK into its own CMS RecipientInfo record; an
*identity* (anything that can decrypt) looks at each record, says "not mine" (None) for
the others, and fails hard on a record addressed to it that does not decrypt (one uniform
:class:`DecryptionError`) or is malformed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding

from esign.errors import (
    KeyUsageError,
    UnsupportedAlgorithmError,
)
from esign.keys.handle import KeyHandle

HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
WRAP_BITS = {"aes128_wrap": 128, "aes192_wrap": 192, "aes256_wrap": 256}


def to_asn1(certificate: x509.Certificate) -> asn1_x509.Certificate:
    """The certificate as an asn1crypto object (here, not from ``esign.certs.trust``, whose
    import brings the path validator: ``esign seal`` would pay for it at start-up)."""
    return asn1_x509.Certificate.load(certificate.public_bytes(Encoding.DER))


class Recipient(Protocol):
    """Someone an envelope is sealed for."""

    def wrap(self, cek: bytes) -> cms.RecipientInfo:
        """Wrap the content-encryption key into this recipient's record."""
        ...


class Identity(Protocol):
    """Something that can open envelopes: a key in memory, in a vault, on a token."""

    @property
    def certificate(self) -> x509.Certificate | None:
        """The identity's certificate, or None to try every record (trial decryption)."""
        ...

    def unwrap(self, info: cms.RecipientInfo) -> bytes | None:
        """The CEK if ``info`` is addressed to this identity, None if it is not."""
        ...


@dataclass
class AnyOf:
    """Several identities as one: the first that a record is addressed to opens it
    (an RSA key that opens OAEP records, and PKCS#1 v1.5 ones only when asked)."""

    identities: Sequence[Identity]

    @property
    def certificate(self) -> x509.Certificate | None:
        return self.identities[0].certificate if self.identities else None

    def unwrap(self, info: cms.RecipientInfo) -> bytes | None:
        refused: UnsupportedAlgorithmError | None = None
        for identity in self.identities:
            try:
                cek = identity.unwrap(info)
            except UnsupportedAlgorithmError as exc:
                refused = exc
                continue
            if cek is not None:
                return cek
        if refused is not None:
            raise refused
        return None


def require_usage(certificate: x509.Certificate, usage: str) -> None:
    """Refuse to wrap for a certificate whose key usage forbids it (RFC 5280 §4.2.1.3).

    ``usage`` is ``key_encipherment`` (key transport, KEM) or ``key_agreement`` (ECDH).
    A certificate without the extension may be used for anything.
    """
    try:
        key_usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    if not getattr(key_usage, usage):
        raise KeyUsageError(
            f"the key usage of {certificate.subject.rfc4514_string()} does not allow "
            f"{usage.replace('_', ' ')}: it cannot be a recipient"
        )


def issuer_and_serial(certificate: x509.Certificate) -> cms.IssuerAndSerialNumber:
    asn1_cert = to_asn1(certificate)
    return cms.IssuerAndSerialNumber(
        {"issuer": asn1_cert.issuer, "serial_number": asn1_cert.serial_number}
    )


def rid_key_id(rid: Any) -> bytes | None:
    """The subject key identifier a recipient identifier names, if it names one."""
    if rid.name == "subject_key_identifier":
        return bytes(rid.chosen.native)
    if rid.name == "r_key_id":
        return bytes(rid.chosen["subject_key_identifier"].native)
    return None


def addressed_to(rid: Any, certificate: x509.Certificate | None) -> bool:
    """Whether a recipient identifier (issuerAndSerial or SKI) names ``certificate``.

    Without a certificate every record is a candidate (trial decryption).
    """
    if certificate is None:
        return True
    asn1_cert = to_asn1(certificate)
    if rid.name == "issuer_and_serial_number":
        chosen = rid.chosen
        return bool(
            chosen["issuer"] == asn1_cert.issuer
            and chosen["serial_number"].native == asn1_cert.serial_number
        )
    key_id = rid_key_id(rid)
    return key_id is not None and key_id == asn1_cert.key_identifier


# --- key operations: keys in memory and keys held elsewhere --------------------------------


def decrypt_oaep(key: Any, ciphertext: bytes, digest: str, mgf: str, label: bytes | None) -> bytes:
    """RSA-OAEP decryption by a ``cryptography`` key or a :class:`KeyHandle`."""
    if isinstance(key, KeyHandle):
        return key.decrypt(ciphertext, digest=digest, mgf_digest=mgf, label=label)
    oaep = padding.OAEP(mgf=padding.MGF1(HASHES[mgf]()), algorithm=HASHES[digest](), label=label)
    plaintext: bytes = key.decrypt(ciphertext, oaep)
    return plaintext


def decapsulate(key: Any, ciphertext: bytes) -> bytes:
    """ML-KEM decapsulation with a ``cryptography`` key or a :class:`KeyHandle`."""
    shared: bytes = key.decapsulate(ciphertext)
    return shared
