"""What every recipient kind shares: the recipient and identity protocols, how a record
names its recipient, key usage, the key operations of keys held elsewhere, and the
key-agreement record (RFC 5753) that ECDH and X25519 both fill.

Modelled on age: a *recipient* turns a CEK into its own CMS RecipientInfo record; an
*identity* (anything that can decrypt) looks at each record, says "not mine" (None) for
the others, and fails hard on a record addressed to it that does not decrypt (one uniform
:class:`DecryptionError`) or is malformed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, keywrap
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap
from cryptography.hazmat.primitives.serialization import Encoding

from esign.asn1 import EccCmsSharedInfo
from esign.errors import (
    DecryptionError,
    KeyUsageError,
    MalformedInputError,
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


def public_key_of(key: Any) -> Any:
    return key.public_key()


# --- key operations: keys in memory and keys held elsewhere --------------------------------


def decrypt_oaep(key: Any, ciphertext: bytes, digest: str, mgf: str, label: bytes | None) -> bytes:
    """RSA-OAEP decryption by a ``cryptography`` key or a :class:`KeyHandle`."""
    if isinstance(key, KeyHandle):
        return key.decrypt(ciphertext, digest=digest, mgf_digest=mgf, label=label)
    oaep = padding.OAEP(mgf=padding.MGF1(HASHES[mgf]()), algorithm=HASHES[digest](), label=label)
    plaintext: bytes = key.decrypt(ciphertext, oaep)
    return plaintext


def exchange(key: Any, peer: Any) -> bytes:
    """ECDH or X25519 with a ``cryptography`` key or a :class:`KeyHandle`."""
    if isinstance(key, KeyHandle):
        return key.exchange(peer)
    if isinstance(peer, ec.EllipticCurvePublicKey):
        shared: bytes = key.exchange(ec.ECDH(), peer)
        return shared
    shared = key.exchange(peer)
    return shared


def decapsulate(key: Any, ciphertext: bytes) -> bytes:
    """ML-KEM decapsulation with a ``cryptography`` key or a :class:`KeyHandle`."""
    shared: bytes = key.decapsulate(ciphertext)
    return shared


# --- key agreement records (RFC 5753 for ECDH, RFC 8418 for X25519) ------------------------


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


#: (z, kdf hash name, wrap name, ukm) -> KEK: each kind's one derivation, both directions.
DeriveKek = Callable[[bytes, str, str, bytes | None], bytes]


def key_agree_record(
    certificate: x509.Certificate,
    scheme: str,
    kdf_hash: str,
    originator: dict[str, Any],
    z: bytes,
    derive: DeriveKek,
    cek: bytes,
) -> cms.RecipientInfo:
    """An ephemeral-static KeyAgreeRecipientInfo: KEK from ``z``, CEK wrapped with AES."""
    wrap_name = "aes256_wrap"
    encrypted_key = keywrap.aes_key_wrap(derive(z, kdf_hash, wrap_name, None), cek)
    return cms.RecipientInfo(
        name="kari",
        value=cms.KeyAgreeRecipientInfo(
            {
                "version": "v3",
                "originator": cms.OriginatorIdentifierOrKey(
                    name="originator_key", value=originator
                ),
                "key_encryption_algorithm": {
                    "algorithm": scheme,
                    "parameters": cms.KeyEncryptionAlgorithm({"algorithm": wrap_name}),
                },
                "recipient_encrypted_keys": [
                    {
                        "rid": cms.KeyAgreementRecipientIdentifier(
                            name="issuer_and_serial_number",
                            value=issuer_and_serial(certificate),
                        ),
                        "encrypted_key": encrypted_key,
                    }
                ],
            }
        ),
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

    def unwrap(self, z: Callable[[], bytes], kdf_hash: str, derive: DeriveKek) -> bytes:
        """The CEK: the shared secret through the kind's KDF, then AES key unwrap."""
        try:
            kek = derive(z(), kdf_hash, self.wrap_name, self.ukm)
            return keywrap.aes_key_unwrap(kek, self.encrypted_key)
        except (ValueError, InvalidUnwrap):
            raise DecryptionError() from None


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


class KeyAgreeRecipient:
    """A key-agreement recipient: each kind says how it makes its ephemeral key and the
    shared secret (:meth:`ephemeral`) and how it derives the KEK (``derive``)."""

    scheme: ClassVar[str]
    certificate: x509.Certificate

    def derive(self, z: bytes, kdf_hash: str, wrap_name: str, ukm: bytes | None) -> bytes:
        raise NotImplementedError

    def ephemeral(self) -> tuple[dict[str, Any], bytes]:
        """(originator public key as an asn1crypto dict, shared secret z)."""
        raise NotImplementedError

    def wrap(self, cek: bytes) -> cms.RecipientInfo:
        require_usage(self.certificate, "key_agreement")
        originator, z = self.ephemeral()
        return key_agree_record(
            self.certificate, self.scheme, "sha256", originator, z, self.derive, cek
        )


class KeyAgreeIdentity:
    """A key-agreement identity: each kind says which schemes are its own and how the
    originator's key becomes a public key (:meth:`peer`)."""

    schemes: ClassVar[dict[str, str]]
    key: Any
    certificate: x509.Certificate | None

    def derive(self, z: bytes, kdf_hash: str, wrap_name: str, ukm: bytes | None) -> bytes:
        raise NotImplementedError

    def peer(self, record: KeyAgreement) -> Callable[[], Any] | None:
        """A maker of the originator's public key; None if the record is not ours."""
        raise NotImplementedError

    def unwrap(self, info: cms.RecipientInfo) -> bytes | None:
        record = read_key_agreement(info, self.certificate, self.schemes)
        peer = None if record is None else self.peer(record)
        if record is None or peer is None:
            return None
        return record.unwrap(
            lambda: exchange(self.key, peer()), self.schemes[record.scheme], self.derive
        )
