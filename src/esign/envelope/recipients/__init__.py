"""Recipients wrap the content-encryption key; identities unwrap it (age's split).

One module per kind, each holding its ``Recipient`` and its ``Identity``: RSA-OAEP
(:mod:`.rsa_oaep`), legacy RSA PKCS#1 v1.5 (:mod:`.rsa_pkcs1v15`), ECDH P-256/P-384
(:mod:`.ecdh`), X25519 (:mod:`.x25519`), ML-KEM (:mod:`.ml_kem`) and passwords
(:mod:`.password`). A new kind is one more module; nothing else changes.
"""

from __future__ import annotations

from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from esign.envelope.recipients.common import AnyOf, Identity, Recipient
from esign.envelope.recipients.ecdh import EcdhIdentity, EcdhRecipient
from esign.envelope.recipients.ml_kem import MlKemIdentity, MlKemRecipient, kem_name
from esign.envelope.recipients.password import PasswordIdentity, PasswordRecipient
from esign.envelope.recipients.rsa_oaep import RsaOaepIdentity, RsaOaepRecipient
from esign.envelope.recipients.rsa_pkcs1v15 import RsaPkcs1v15Identity, RsaPkcs1v15Recipient
from esign.envelope.recipients.x25519 import X25519Identity, X25519Recipient
from esign.errors import UnsupportedAlgorithmError

__all__ = [
    "EcdhIdentity",
    "EcdhRecipient",
    "Identity",
    "MlKemIdentity",
    "MlKemRecipient",
    "PasswordIdentity",
    "PasswordRecipient",
    "Recipient",
    "RsaOaepIdentity",
    "RsaOaepRecipient",
    "RsaPkcs1v15Identity",
    "RsaPkcs1v15Recipient",
    "X25519Identity",
    "X25519Recipient",
    "identity_for",
    "recipient_for",
]


def recipient_for(certificate: x509.Certificate) -> Recipient:
    """The recipient kind that fits a certificate's public key."""
    public = certificate.public_key()
    if isinstance(public, ec.EllipticCurvePublicKey):
        return EcdhRecipient(certificate)
    if isinstance(public, rsa.RSAPublicKey):
        return RsaOaepRecipient(certificate)
    if isinstance(public, X25519PublicKey):
        return X25519Recipient(certificate)
    if kem_name(public) is not None:
        return MlKemRecipient(certificate)
    raise UnsupportedAlgorithmError(
        f"cannot seal for a {type(public).__name__} certificate "
        "(RSA, EC P-256/P-384, X25519 and ML-KEM-768/1024 are supported)"
    )


def identity_for(
    key: Any, certificate: x509.Certificate | None = None, *, legacy_pkcs1v15: bool = False
) -> Identity:
    """The identity kind that fits a private key or key handle (local, vault, PKCS#11).

    With the certificate, only records naming it are tried; without, every record of the
    key's kind (trial decryption). ``legacy_pkcs1v15`` adds RSA PKCS#1 v1.5 records, for
    old archives and peers such as gpgsm; off by default (a padding oracle).
    """
    public = key.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        oaep = RsaOaepIdentity(key, certificate)
        if not legacy_pkcs1v15:
            return oaep
        return AnyOf([oaep, RsaPkcs1v15Identity(key, certificate)])
    if isinstance(public, ec.EllipticCurvePublicKey):
        return EcdhIdentity(key, certificate)
    if isinstance(public, X25519PublicKey):
        return X25519Identity(key, certificate)
    if kem_name(public) is not None:
        return MlKemIdentity(key, certificate)
    raise UnsupportedAlgorithmError(f"a {type(public).__name__} key cannot open envelopes")
