"""Ephemeral-static key agreement, once for ECDH (RFC 5753) and X25519 (RFC 8418).

Both kinds write the same KeyAgreeRecipientInfo: a fresh ephemeral key as originator, a
KEK derived from the shared secret over ECC-CMS-SharedInfo, the CEK under AES key wrap.
They differ only in how the ephemeral key and the shared secret are made, which KDF turns
the secret into the KEK, and how the originator's key is read back; a kind module says
those three things (:class:`KeyAgreeRecipient`, :class:`KeyAgreeIdentity`) and this module
does the rest in both directions, so wrap and unwrap cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes, keywrap
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap

from esign.asn1 import EccCmsSharedInfo
from esign.envelope.recipients.common import (
    HASHES,
    WRAP_BITS,
    addressed_to,
    issuer_and_serial,
    require_usage,
)
from esign.errors import DecryptionError, MalformedInputError, UnsupportedAlgorithmError
from esign.keys.handle import KeyHandle

#: The KDF for the KEK on both sides: the key-agreement scheme's hash is fixed by RFC 5753
#: and RFC 8418 at SHA-256 for what esign writes.
WRITE_KDF_HASH = "sha256"
WRITE_WRAP = "aes256_wrap"


class MakeKdf(Protocol):
    """A kind's KDF, made for one derivation: X9.63 for ECDH, HKDF for X25519."""

    def __call__(self, algorithm: hashes.HashAlgorithm, length: int, info: bytes) -> Any: ...


def exchange(key: Any, peer: Any) -> bytes:
    """ECDH or X25519 with a ``cryptography`` key or a :class:`KeyHandle`."""
    if isinstance(key, KeyHandle):
        return key.exchange(peer)
    if isinstance(peer, ec.EllipticCurvePublicKey):
        shared: bytes = key.exchange(ec.ECDH(), peer)
        return shared
    shared = key.exchange(peer)
    return shared


def shared_info(wrap_name: str, ukm: bytes | None) -> bytes:
    """ECC-CMS-SharedInfo: the KDF's context, for ECDH (X9.63) and X25519 (HKDF) alike."""
    info = EccCmsSharedInfo(
        {
            "key_info": {"algorithm": wrap_name},
            "entity_u_info": ukm,
            "supp_pub_info": WRAP_BITS[wrap_name].to_bytes(4, "big"),
        }
    )
    der: bytes = info.dump()
    return der


def derive_kek(kdf: MakeKdf, z: bytes, kdf_hash: str, wrap_name: str, ukm: bytes | None) -> bytes:
    """The KEK from the shared secret ``z``: the one derivation for wrapping and unwrapping."""
    return bytes(
        kdf(HASHES[kdf_hash](), WRAP_BITS[wrap_name] // 8, shared_info(wrap_name, ukm)).derive(z)
    )


@dataclass
class KeyAgreement:
    """A key-agreement record addressed to an identity, checked and taken apart."""

    scheme: str
    wrap_name: str
    originator_algorithm: Any
    point: bytes
    ukm: bytes | None
    encrypted_key: bytes


def read_key_agreement(
    info: cms.RecipientInfo, certificate: x509.Certificate | None, schemes: dict[str, str]
) -> KeyAgreement | None:
    """The kari record's parts if it is addressed to ``certificate`` and uses one of
    ``schemes``; None for records of other kinds or other recipients."""
    if info.name != "kari":
        return None
    kari = info.chosen
    scheme = kari["key_encryption_algorithm"]["algorithm"].native
    if scheme not in schemes:
        return None  # another kind's record (ECDH vs X25519) or an unknown scheme
    matches = [
        rek for rek in kari["recipient_encrypted_keys"] if addressed_to(rek["rid"], certificate)
    ]
    if not matches:
        return None
    if kari["version"].native != "v3":
        raise MalformedInputError("KeyAgreeRecipientInfo version must be 3")
    wrap = kari["key_encryption_algorithm"]["parameters"]
    wrap_name = wrap["algorithm"].native if isinstance(wrap, cms.KeyEncryptionAlgorithm) else None
    if wrap_name not in WRAP_BITS or wrap["parameters"].native is not None:
        raise UnsupportedAlgorithmError(f"unsupported key wrap {wrap_name}")
    originator = kari["originator"]
    if originator.name != "originator_key":
        raise UnsupportedAlgorithmError(
            "only ephemeral-static key agreement (originatorKey) is supported"
        )
    bit_string = originator.chosen["public_key"]
    if bit_string.contents[:1] != b"\x00":
        raise MalformedInputError("the originator public key has unused bits")
    return KeyAgreement(
        scheme=scheme,
        wrap_name=wrap_name,
        originator_algorithm=originator.chosen["algorithm"],
        point=bytes(bit_string.contents[1:]),
        ukm=kari["ukm"].native,
        encrypted_key=matches[0]["encrypted_key"].native,
    )


@dataclass
class KeyAgreeRecipient:
    """A key-agreement recipient. A kind names its ``scheme`` and ``kdf`` and makes the
    ephemeral key and shared secret (:meth:`ephemeral`)."""

    certificate: x509.Certificate
    scheme: ClassVar[str]
    kdf: ClassVar[MakeKdf]

    def ephemeral(self) -> tuple[dict[str, Any], bytes]:
        """(originator public key as an asn1crypto dict, shared secret z)."""
        raise NotImplementedError

    def wrap(self, cek: bytes) -> cms.RecipientInfo:
        """An ephemeral-static KeyAgreeRecipientInfo: KEK from z, CEK under AES key wrap."""
        require_usage(self.certificate, "key_agreement")
        originator, z = self.ephemeral()
        kek = derive_kek(type(self).kdf, z, WRITE_KDF_HASH, WRITE_WRAP, None)
        return cms.RecipientInfo(
            name="kari",
            value=cms.KeyAgreeRecipientInfo(
                {
                    "version": "v3",
                    "originator": cms.OriginatorIdentifierOrKey(
                        name="originator_key", value=originator
                    ),
                    "key_encryption_algorithm": {
                        "algorithm": self.scheme,
                        "parameters": cms.KeyEncryptionAlgorithm({"algorithm": WRITE_WRAP}),
                    },
                    "recipient_encrypted_keys": [
                        {
                            "rid": cms.KeyAgreementRecipientIdentifier(
                                name="issuer_and_serial_number",
                                value=issuer_and_serial(self.certificate),
                            ),
                            "encrypted_key": keywrap.aes_key_wrap(kek, cek),
                        }
                    ],
                }
            ),
        )


@dataclass
class KeyAgreeIdentity:
    """A key-agreement identity: a private key or a :class:`KeyHandle` that agrees keys.
    A kind names its ``schemes`` (scheme -> KDF hash) and ``kdf`` and reads the
    originator's key (:meth:`peer`)."""

    key: Any
    certificate: x509.Certificate | None = None
    schemes: ClassVar[dict[str, str]]
    kdf: ClassVar[MakeKdf]

    def peer(self, record: KeyAgreement) -> Callable[[], Any] | None:
        """A maker of the originator's public key; None if the record is not ours."""
        raise NotImplementedError

    def unwrap(self, info: cms.RecipientInfo) -> bytes | None:
        record = read_key_agreement(info, self.certificate, self.schemes)
        peer = None if record is None else self.peer(record)
        if record is None or peer is None:
            return None
        try:
            z = exchange(self.key, peer())
            kek = derive_kek(
                type(self).kdf, z, self.schemes[record.scheme], record.wrap_name, record.ukm
            )
            return keywrap.aes_key_unwrap(kek, record.encrypted_key)
        except (ValueError, InvalidUnwrap):
            raise DecryptionError() from None
