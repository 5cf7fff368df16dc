"""ML-KEM-768/1024 through KEMRecipientInfo (RFC 9629, RFC 9936): HKDF-SHA256, AES wrap."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes, keywrap
from cryptography.hazmat.primitives.asymmetric import mlkem
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap

from esign.asn1 import (
    HKDF_SHA256_OID,
    KEM_ORI_OID,
    ML_KEM_OIDS,
    CMSORIforKEMOtherInfo,
    KEMRecipientInfo,
)
from esign.envelope.recipients.common import (
    WRAP_BITS,
    addressed_to,
    decapsulate,
    issuer_and_serial,
    require_usage,
    to_asn1,
)
from esign.errors import DecryptionError, MalformedInputError, UnsupportedAlgorithmError

_OID_BY_NAME = {name: oid for oid, name in ML_KEM_OIDS.items()}


def kem_name(public: Any) -> str | None:
    """``ml_kem_768`` / ``ml_kem_1024`` for an ML-KEM public key, else None."""
    if isinstance(public, mlkem.MLKEM768PublicKey):
        return "ml_kem_768"
    if isinstance(public, mlkem.MLKEM1024PublicKey):
        return "ml_kem_1024"
    return None


def kem_other_info(wrap_name: str, kek_length: int, ukm: bytes | None) -> bytes:
    """CMSORIforKEMOtherInfo (RFC 9629 §5): the KDF's context."""
    der: bytes = CMSORIforKEMOtherInfo(
        {"wrap": {"algorithm": wrap_name}, "kek_length": kek_length, "ukm": ukm}
    ).dump()
    return der


def derive_kek(shared_secret: bytes, wrap_name: str, kek_length: int, ukm: bytes | None) -> bytes:
    """HKDF-SHA256 without salt over CMSORIforKEMOtherInfo, for wrapping and unwrapping."""
    return HKDF(
        algorithm=hashes.SHA256(),
        length=kek_length,
        salt=None,
        info=kem_other_info(wrap_name, kek_length, ukm),
    ).derive(shared_secret)


def kem_record(info: cms.RecipientInfo) -> KEMRecipientInfo | None:
    """The KEMRecipientInfo inside an ``ori`` record, or None for any other record."""
    if info.name != "ori" or info.chosen["ori_type"].dotted != KEM_ORI_OID:
        return None
    kemri: KEMRecipientInfo = KEMRecipientInfo.load(info.chosen["ori_value"].dump())
    return kemri


@dataclass
class MlKemRecipient:
    """ML-KEM-768/1024 through KEMRecipientInfo (RFC 9629, RFC 9936): HKDF-SHA256, AES-256 wrap."""

    certificate: x509.Certificate

    def wrap(self, cek: bytes) -> cms.RecipientInfo:
        require_usage(self.certificate, "key_encipherment")
        public: Any = self.certificate.public_key()
        kem = kem_name(public)
        if kem is None:
            raise UnsupportedAlgorithmError("ML-KEM recipients need an ML-KEM certificate")
        shared_secret, kemct = public.encapsulate()
        wrap_name, kek_length = "aes256_wrap", 32
        ski = to_asn1(self.certificate).key_identifier
        rid = (
            cms.RecipientIdentifier(name="subject_key_identifier", value=ski)
            if ski is not None
            else cms.RecipientIdentifier(
                name="issuer_and_serial_number", value=issuer_and_serial(self.certificate)
            )
        )
        value = KEMRecipientInfo(
            {
                "version": 0,
                "rid": rid,
                "kem": {"algorithm": _OID_BY_NAME[kem]},
                "kemct": kemct,
                "kdf": {"algorithm": HKDF_SHA256_OID},
                "kek_length": kek_length,
                "wrap": {"algorithm": wrap_name},
                "encrypted_key": keywrap.aes_key_wrap(
                    derive_kek(shared_secret, wrap_name, kek_length, None), cek
                ),
            }
        )
        return cms.RecipientInfo(
            name="ori", value=cms.OtherRecipientInfo({"ori_type": KEM_ORI_OID, "ori_value": value})
        )


@dataclass
class MlKemIdentity:
    """An ML-KEM private key (or a key handle that decapsulates) that opens KEM records."""

    key: Any
    certificate: x509.Certificate | None = None

    def unwrap(self, info: cms.RecipientInfo) -> bytes | None:
        kemri = kem_record(info)
        if kemri is None or not addressed_to(kemri["rid"], self.certificate):
            return None
        kem = ML_KEM_OIDS.get(kemri["kem"]["algorithm"].dotted)
        if kem is None or kemri["kem"]["parameters"].native is not None:
            raise UnsupportedAlgorithmError(f"unsupported KEM {kemri['kem']['algorithm'].dotted}")
        if kem != kem_name(self.key.public_key()):
            if self.certificate is None:
                return None  # trial decryption: another parameter set is not ours
            raise DecryptionError()
        try:
            shared_secret = decapsulate(self.key, kemri["kemct"].native)
        except ValueError:
            raise DecryptionError() from None
        return unwrap_after_decapsulation(kemri, shared_secret)


def unwrap_after_decapsulation(kemri: KEMRecipientInfo, shared_secret: bytes) -> bytes:
    """RFC 9629 §2 steps after decapsulation: KDF with CMSORIforKEMOtherInfo, then unwrap.

    Separate from decapsulation so the RFC 9936 example (ML-KEM-512, which ``cryptography``
    lacks) can be checked step by step from its published shared secret.
    """
    if kemri["version"].native != 0:
        raise MalformedInputError("KEMRecipientInfo version must be 0")
    if kemri["kdf"]["algorithm"].dotted != HKDF_SHA256_OID:
        raise UnsupportedAlgorithmError(f"unsupported KEM KDF {kemri['kdf']['algorithm'].dotted}")
    wrap_name = kemri["wrap"]["algorithm"].native
    kek_length = kemri["kek_length"].native
    if wrap_name not in WRAP_BITS or kek_length != WRAP_BITS[wrap_name] // 8:
        raise UnsupportedAlgorithmError(f"unsupported key wrap {wrap_name}/{kek_length}")
    if kemri["wrap"]["parameters"].native is not None:
        raise MalformedInputError("AES key wrap takes no parameters")
    kek = derive_kek(shared_secret, wrap_name, kek_length, kemri["ukm"].native)
    try:
        return keywrap.aes_key_unwrap(kek, kemri["encrypted_key"].native)
    except (ValueError, InvalidUnwrap):
        raise DecryptionError() from None
