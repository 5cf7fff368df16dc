"""Recipients wrap the content-encryption key; identities unwrap it.

Modelled on age: a *recipient* turns a CEK into its own CMS RecipientInfo record; an
*identity* (anything that can decrypt) looks at each record, says "not mine" (None) for
the others, and fails hard — with one uniform :class:`DecryptionError` — on a record that
is addressed to it but does not decrypt. Each recipient kind is one small class.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Protocol

from asn1crypto import algos, cms
from cryptography import x509
from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives import hashes, keywrap, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.kdf.x963kdf import X963KDF
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap

from esign.asn1 import ECDH_KDF_HASH, EccCmsSharedInfo
from esign.certs.trust import to_asn1
from esign.errors import DecryptionError, MalformedInputError, UnsupportedAlgorithmError
from esign.keys.algorithms import PrivateKey

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_WRAP_BITS = {"aes128_wrap": 128, "aes192_wrap": 192, "aes256_wrap": 256}


class Recipient(Protocol):
    """Someone an envelope is sealed for."""

    def wrap(self, cek: bytes) -> cms.RecipientInfo:
        """Wrap the content-encryption key into this recipient's record."""
        ...


class Identity(Protocol):
    """Something that can open envelopes: a local key, later a token or a vault."""

    @property
    def certificate(self) -> x509.Certificate | None:
        """The identity's certificate, or None to try every record (trial decryption)."""
        ...

    def unwrap(self, info: cms.RecipientInfo) -> bytes | None:
        """The CEK if ``info`` is addressed to this identity, None if it is not."""
        ...


def _issuer_and_serial(certificate: x509.Certificate) -> cms.IssuerAndSerialNumber:
    asn1_cert = to_asn1(certificate)
    return cms.IssuerAndSerialNumber(
        {"issuer": asn1_cert.issuer, "serial_number": asn1_cert.serial_number}
    )


def _addressed_to(rid: cms.RecipientIdentifier, certificate: x509.Certificate | None) -> bool:
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
    if rid.name in ("subject_key_identifier", "r_key_id"):
        ski = (
            rid.chosen.native
            if rid.name == "subject_key_identifier"
            else (rid.chosen["subject_key_identifier"].native)
        )
        return bool(ski == asn1_cert.key_identifier)
    return False


def _shared_info(wrap_name: str, ukm: bytes | None) -> bytes:
    info = EccCmsSharedInfo(
        {
            "key_info": {"algorithm": wrap_name},
            "entity_u_info": ukm,
            "supp_pub_info": _WRAP_BITS[wrap_name].to_bytes(4, "big"),
        }
    )
    der: bytes = info.dump()
    return der


def _kek(z: bytes, kdf_hash: str, wrap_name: str, ukm: bytes | None) -> bytes:
    return X963KDF(
        algorithm=_HASHES[kdf_hash](),
        length=_WRAP_BITS[wrap_name] // 8,
        sharedinfo=_shared_info(wrap_name, ukm),
    ).derive(z)


@dataclass
class EcdhRecipient:
    """ECDH key agreement (RFC 5753): ephemeral-static, X9.63 KDF with SHA-256, AES-256 wrap."""

    certificate: x509.Certificate

    def wrap(self, cek: bytes) -> cms.RecipientInfo:
        public = self.certificate.public_key()
        if not isinstance(public, ec.EllipticCurvePublicKey):
            raise UnsupportedAlgorithmError("ECDH recipients need an EC certificate")
        ephemeral = ec.generate_private_key(public.curve)
        z = ephemeral.exchange(ec.ECDH(), public)
        scheme = "dh_single_pass_std_dh_sha256kdf_scheme"
        wrap_name = "aes256_wrap"
        encrypted_key = keywrap.aes_key_wrap(_kek(z, "sha256", wrap_name, None), cek)
        point = ephemeral.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return cms.RecipientInfo(
            name="kari",
            value=cms.KeyAgreeRecipientInfo(
                {
                    "version": "v3",
                    "originator": cms.OriginatorIdentifierOrKey(
                        name="originator_key",
                        value={
                            "algorithm": {"algorithm": "ec"},
                            "public_key": point,
                        },
                    ),
                    "key_encryption_algorithm": {
                        "algorithm": scheme,
                        "parameters": cms.KeyEncryptionAlgorithm({"algorithm": wrap_name}),
                    },
                    "recipient_encrypted_keys": [
                        {
                            "rid": cms.KeyAgreementRecipientIdentifier(
                                name="issuer_and_serial_number",
                                value=_issuer_and_serial(self.certificate),
                            ),
                            "encrypted_key": encrypted_key,
                        }
                    ],
                }
            ),
        )


@dataclass
class RsaOaepRecipient:
    """RSA-OAEP key transport (RFC 8017, RFC 4055 parameters): SHA-256 and MGF1-SHA-256."""

    certificate: x509.Certificate

    def wrap(self, cek: bytes) -> cms.RecipientInfo:
        public = self.certificate.public_key()
        if not isinstance(public, rsa.RSAPublicKey):
            raise UnsupportedAlgorithmError("RSA-OAEP recipients need an RSA certificate")
        encrypted_key = public.encrypt(
            cek,
            padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None),
        )
        params = algos.RSAESOAEPParams(
            {
                "hash_algorithm": {"algorithm": "sha256"},
                "mask_gen_algorithm": {
                    "algorithm": "mgf1",
                    "parameters": {"algorithm": "sha256"},
                },
            }
        )
        return cms.RecipientInfo(
            name="ktri",
            value=cms.KeyTransRecipientInfo(
                {
                    "version": "v0",
                    "rid": cms.RecipientIdentifier(
                        name="issuer_and_serial_number",
                        value=_issuer_and_serial(self.certificate),
                    ),
                    "key_encryption_algorithm": {"algorithm": "rsaes_oaep", "parameters": params},
                    "encrypted_key": encrypted_key,
                }
            ),
        )


def recipient_for(certificate: x509.Certificate) -> Recipient:
    """The recipient kind that fits a certificate's public key."""
    public = certificate.public_key()
    if isinstance(public, ec.EllipticCurvePublicKey):
        return EcdhRecipient(certificate)
    if isinstance(public, rsa.RSAPublicKey):
        return RsaOaepRecipient(certificate)
    raise UnsupportedAlgorithmError(
        f"cannot seal for a {type(public).__name__} certificate (EC and RSA are supported)"
    )


@dataclass
class LocalIdentity:
    """A private key in memory, with its certificate when known.

    Without the certificate the identity cannot tell which record is addressed to it, so it
    tries each record its key type can open (key wrap and OAEP both detect a wrong key);
    the envelope layer then treats a failing record as "not mine" and moves on.
    """

    key: PrivateKey
    certificate: x509.Certificate | None = None

    def unwrap(self, info: cms.RecipientInfo) -> bytes | None:
        if info.name == "kari":
            return self._unwrap_kari(info.chosen)
        if info.name == "ktri":
            return self._unwrap_ktri(info.chosen)
        return None

    def _unwrap_kari(self, kari: cms.KeyAgreeRecipientInfo) -> bytes | None:
        matches = [
            rek
            for rek in kari["recipient_encrypted_keys"]
            if _addressed_to(rek["rid"], self.certificate)
        ]
        if not matches:
            return None
        if not isinstance(self.key, ec.EllipticCurvePrivateKey):
            raise DecryptionError()
        if kari["version"].native != "v3":
            raise MalformedInputError("KeyAgreeRecipientInfo version must be 3")
        scheme = kari["key_encryption_algorithm"]["algorithm"].native
        if scheme not in ECDH_KDF_HASH:
            raise UnsupportedAlgorithmError(f"unsupported key agreement scheme {scheme}")
        wrap = kari["key_encryption_algorithm"]["parameters"]
        is_wrap = isinstance(wrap, cms.KeyEncryptionAlgorithm)
        wrap_name = wrap["algorithm"].native if is_wrap else None
        if wrap_name not in _WRAP_BITS or wrap["parameters"].native is not None:
            raise UnsupportedAlgorithmError(f"unsupported key wrap {wrap_name}")
        originator = kari["originator"]
        if originator.name != "originator_key":
            raise UnsupportedAlgorithmError(
                "only ephemeral-static ECDH (originatorKey) is supported"
            )
        algorithm = originator.chosen["algorithm"]
        if algorithm["algorithm"].native != "ec" or algorithm["parameters"].native not in (
            None,
            self.key.curve.name,
        ):
            raise MalformedInputError(
                "the originator key is not an EC key on the recipient's curve"
            )
        bit_string = originator.chosen["public_key"]
        if bit_string.contents[:1] != b"\x00":
            raise MalformedInputError("the originator public key has unused bits")
        ukm = kari["ukm"].native
        try:
            peer = ec.EllipticCurvePublicKey.from_encoded_point(
                self.key.curve, bytes(bit_string.contents[1:])
            )
            z = self.key.exchange(ec.ECDH(), peer)
            kek = _kek(z, ECDH_KDF_HASH[scheme], wrap_name, ukm)
            return keywrap.aes_key_unwrap(kek, matches[0]["encrypted_key"].native)
        except (ValueError, InvalidUnwrap, InvalidKey):
            raise DecryptionError() from None

    def _unwrap_ktri(self, ktri: cms.KeyTransRecipientInfo) -> bytes | None:
        if not _addressed_to(ktri["rid"], self.certificate):
            return None
        if not isinstance(self.key, rsa.RSAPrivateKey):
            raise DecryptionError()
        algorithm = ktri["key_encryption_algorithm"]
        if algorithm["algorithm"].native != "rsaes_oaep":
            raise UnsupportedAlgorithmError(
                "RSA key transport other than OAEP (e.g. PKCS#1 v1.5) is refused"
            )
        params = algorithm["parameters"]
        hash_name = params["hash_algorithm"]["algorithm"].native
        mgf_hash = params["mask_gen_algorithm"]["parameters"]["algorithm"].native
        if hash_name not in _HASHES or mgf_hash not in _HASHES:
            raise UnsupportedAlgorithmError(f"unsupported OAEP hash {hash_name}/{mgf_hash}")
        label = params["p_source_algorithm"]["parameters"].native or None
        try:
            return self.key.decrypt(
                ktri["encrypted_key"].native,
                padding.OAEP(
                    mgf=padding.MGF1(_HASHES[mgf_hash]()),
                    algorithm=_HASHES[hash_name](),
                    label=label,
                ),
            )
        except ValueError:
            raise DecryptionError() from None


def random_cek(bits: int = 256) -> bytes:
    """A fresh content-encryption key."""
    return os.urandom(bits // 8)
