"""Recipients wrap the content-encryption key; identities unwrap it.

Modelled on age: a *recipient* turns a CEK into its own CMS RecipientInfo record; an
*identity* (anything that can decrypt) looks at each record, says "not mine" (None) for
the others, and fails hard — with one uniform :class:`DecryptionError` — on a record that
is addressed to it but does not decrypt. Each recipient kind is one small class.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias, cast

from asn1crypto import algos, cms, core
from cryptography import x509
from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives import hashes, keywrap, serialization
from cryptography.hazmat.primitives.asymmetric import ec, mlkem, padding, rsa, x25519
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.kdf.x963kdf import X963KDF
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap

from esign.asn1 import (
    ECDH_KDF_HASH,
    HKDF_KDF_HASH,
    HKDF_SHA256_OID,
    KEM_ORI_OID,
    ML_KEM_OIDS,
    CMSORIforKEMOtherInfo,
    EccCmsSharedInfo,
    IntendedRecipient,
    KEMRecipientInfo,
)
from esign.certs.trust import to_asn1
from esign.errors import (
    DecryptionError,
    KeyUsageError,
    MalformedInputError,
    UnsupportedAlgorithmError,
)
from esign.keys.algorithms import PrivateKey
from esign.keys.handle import KeyHandle

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_WRAP_BITS = {"aes128_wrap": 128, "aes192_wrap": 192, "aes256_wrap": 256}
_ML_KEM_BY_NAME = {name: oid for oid, name in ML_KEM_OIDS.items()}

MlKemPrivateKey: TypeAlias = mlkem.MLKEM768PrivateKey | mlkem.MLKEM1024PrivateKey
MlKemPublicKey: TypeAlias = mlkem.MLKEM768PublicKey | mlkem.MLKEM1024PublicKey
#: Every private key an identity may hold in memory (ML-KEM keys only decapsulate).
RecipientKey: TypeAlias = PrivateKey | MlKemPrivateKey


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
        require_usage(self.certificate, "key_agreement")
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
        require_usage(self.certificate, "key_encipherment")
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


def _hkdf_sha256(ikm: bytes, length: int, info: bytes) -> bytes:
    """HKDF-SHA256 with no salt (RFC 8418 §2.2 for X25519; RFC 9936 for ML-KEM)."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(ikm)


def _key_agree_info(
    certificate: x509.Certificate,
    scheme: str,
    wrap_name: str,
    originator: dict[str, Any],
    encrypted_key: bytes,
) -> cms.RecipientInfo:
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
                            value=_issuer_and_serial(certificate),
                        ),
                        "encrypted_key": encrypted_key,
                    }
                ],
            }
        ),
    )


@dataclass
class X25519Recipient:
    """X25519 key agreement (RFC 8418): ephemeral-static, HKDF-SHA256, AES-256 key wrap."""

    certificate: x509.Certificate

    def wrap(self, cek: bytes) -> cms.RecipientInfo:
        require_usage(self.certificate, "key_agreement")
        public = self.certificate.public_key()
        if not isinstance(public, x25519.X25519PublicKey):
            raise UnsupportedAlgorithmError("X25519 recipients need an X25519 certificate")
        ephemeral = x25519.X25519PrivateKey.generate()
        try:
            z = ephemeral.exchange(public)
        except ValueError as exc:  # a low-order point: the all-zero shared secret
            raise MalformedInputError("the recipient's X25519 key is not usable") from exc
        wrap_name = "aes256_wrap"
        kek = _hkdf_sha256(z, _WRAP_BITS[wrap_name] // 8, _shared_info(wrap_name, None))
        return _key_agree_info(
            self.certificate,
            "dh_single_pass_std_dh_hkdf_sha256_scheme",
            wrap_name,
            {
                "algorithm": {"algorithm": "x25519"},
                "public_key": ephemeral.public_key().public_bytes_raw(),
            },
            keywrap.aes_key_wrap(kek, cek),
        )


def _kem_other_info(wrap_name: str, kek_length: int, ukm: bytes | None) -> bytes:
    der: bytes = CMSORIforKEMOtherInfo(
        {"wrap": {"algorithm": wrap_name}, "kek_length": kek_length, "ukm": ukm}
    ).dump()
    return der


def _kem_rid(certificate: x509.Certificate) -> cms.RecipientIdentifier:
    ski = to_asn1(certificate).key_identifier
    if ski is not None:
        return cms.RecipientIdentifier(name="subject_key_identifier", value=ski)
    return cms.RecipientIdentifier(
        name="issuer_and_serial_number", value=_issuer_and_serial(certificate)
    )


@dataclass
class MlKemRecipient:
    """ML-KEM-768/1024 through KEMRecipientInfo (RFC 9629, RFC 9936): HKDF-SHA256, AES-256 wrap."""

    certificate: x509.Certificate

    def wrap(self, cek: bytes) -> cms.RecipientInfo:
        require_usage(self.certificate, "key_encipherment")
        public = self.certificate.public_key()
        if isinstance(public, mlkem.MLKEM768PublicKey):
            kem = "ml_kem_768"
        elif isinstance(public, mlkem.MLKEM1024PublicKey):
            kem = "ml_kem_1024"
        else:
            raise UnsupportedAlgorithmError("ML-KEM recipients need an ML-KEM certificate")
        shared_secret, kemct = public.encapsulate()
        wrap_name, kek_length = "aes256_wrap", 32
        kek = _hkdf_sha256(shared_secret, kek_length, _kem_other_info(wrap_name, kek_length, None))
        value = KEMRecipientInfo(
            {
                "version": 0,
                "rid": _kem_rid(self.certificate),
                "kem": {"algorithm": _ML_KEM_BY_NAME[kem]},
                "kemct": kemct,
                "kdf": {"algorithm": HKDF_SHA256_OID},
                "kek_length": kek_length,
                "wrap": {"algorithm": wrap_name},
                "encrypted_key": keywrap.aes_key_wrap(kek, cek),
            }
        )
        return cms.RecipientInfo(
            name="ori", value=cms.OtherRecipientInfo({"ori_type": KEM_ORI_OID, "ori_value": value})
        )


# --- password recipients (RFC 3211) ---------------------------------------------------------

PBKDF2_ITERATIONS = 600_000  # OWASP 2023 figure for PBKDF2-HMAC-SHA256
MAX_PBKDF2_ITERATIONS = 10_000_000  # opening refuses more: a cheap denial of service
_PRF_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_CBC_KEY_BYTES = {"aes128_cbc": 16, "aes192_cbc": 24, "aes256_cbc": 32}


def _cbc(key: bytes, iv: bytes, data: bytes, encrypt: bool) -> bytes:
    cipher = Cipher(algorithms.AES(key), modes.CBC(iv))
    worker = cipher.encryptor() if encrypt else cipher.decryptor()
    return worker.update(data) + worker.finalize()


def pwri_wrap(kek: bytes, iv: bytes, cek: bytes) -> bytes:
    """RFC 3211 §2.3.1 key wrap: length, check bytes, CEK, padding; CBC-encrypted twice."""
    block = 16
    body = bytes([len(cek)]) + bytes(b ^ 0xFF for b in cek[:3]) + cek
    size = max(2 * block, -(-len(body) // block) * block)
    body += os.urandom(size - len(body))
    first = _cbc(kek, iv, body, encrypt=True)
    return _cbc(kek, first[-block:], first, encrypt=True)


def pwri_unwrap(kek: bytes, iv: bytes, wrapped: bytes) -> bytes:
    """Invert :func:`pwri_wrap`; any inconsistency is the uniform DecryptionError."""
    block = 16
    if len(wrapped) % block or len(wrapped) < 2 * block:
        raise DecryptionError()
    last = _cbc(kek, wrapped[-2 * block : -block], wrapped[-block:], encrypt=False)
    inner = _cbc(kek, last, wrapped[:-block], encrypt=False) + last
    body = _cbc(kek, iv, inner, encrypt=False)
    length = body[0]
    check = bytes(a ^ b for a, b in zip(body[1:4], body[4:7], strict=True))
    if length < 3 or length > len(body) - 4 or check != b"\xff\xff\xff":
        raise DecryptionError()
    return body[4 : 4 + length]


def _pbkdf2(password: bytes, salt: bytes, iterations: int, prf: str, length: int) -> bytes:
    return PBKDF2HMAC(
        algorithm=_PRF_HASHES[prf](), length=length, salt=salt, iterations=iterations
    ).derive(password)


@dataclass
class PasswordRecipient:
    """A person without a certificate: PBKDF2-HMAC-SHA256 and the RFC 3211 PWRI-KEK wrap.

    The key-encryption cipher is AES-256-CBC, as RFC 3211 requires a CBC-mode cipher;
    this is also what ``openssl cms -pwri_password`` writes and reads.
    """

    password: bytes
    iterations: int = PBKDF2_ITERATIONS

    def wrap(self, cek: bytes) -> cms.RecipientInfo:
        salt, iv = os.urandom(16), os.urandom(16)
        kek = _pbkdf2(self.password, salt, self.iterations, "sha256", 32)
        return cms.RecipientInfo(
            name="pwri",
            value=cms.PasswordRecipientInfo(
                {
                    "version": "v0",
                    "key_derivation_algorithm": {
                        "algorithm": "pbkdf2",
                        "parameters": {
                            "salt": algos.Pbkdf2Salt(name="specified", value=salt),
                            "iteration_count": self.iterations,
                            "prf": {
                                "algorithm": "sha256",
                                "parameters": core.Null(),
                            },  # RFC 8018 A.2
                        },
                    },
                    "key_encryption_algorithm": {
                        "algorithm": "pwri_kek",
                        "parameters": {"algorithm": "aes256_cbc", "parameters": iv},
                    },
                    "encrypted_key": pwri_wrap(kek, iv, cek),
                }
            ),
        )


@dataclass
class RsaPkcs1v15Recipient:
    """RSA PKCS#1 v1.5 key transport: only for peers that read nothing else. Never chosen
    by default; esign opens it only with ``LocalIdentity(legacy_pkcs1v15=True)``."""

    certificate: x509.Certificate

    def wrap(self, cek: bytes) -> cms.RecipientInfo:
        require_usage(self.certificate, "key_encipherment")
        public = self.certificate.public_key()
        if not isinstance(public, rsa.RSAPublicKey):
            raise UnsupportedAlgorithmError("RSA recipients need an RSA certificate")
        return cms.RecipientInfo(
            name="ktri",
            value=cms.KeyTransRecipientInfo(
                {
                    "version": "v0",
                    "rid": cms.RecipientIdentifier(
                        name="issuer_and_serial_number",
                        value=_issuer_and_serial(self.certificate),
                    ),
                    "key_encryption_algorithm": {"algorithm": "rsaes_pkcs1v15"},
                    "encrypted_key": public.encrypt(cek, padding.PKCS1v15()),
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
    if isinstance(public, x25519.X25519PublicKey):
        return X25519Recipient(certificate)
    if isinstance(public, (mlkem.MLKEM768PublicKey, mlkem.MLKEM1024PublicKey)):
        return MlKemRecipient(certificate)
    raise UnsupportedAlgorithmError(
        f"cannot seal for a {type(public).__name__} certificate "
        "(RSA, EC P-256/P-384, X25519 and ML-KEM-768/1024 are supported)"
    )


def as_recipient(recipient: x509.Certificate | Recipient) -> Recipient:
    """A certificate becomes the recipient kind that fits it; a Recipient passes through."""
    if isinstance(recipient, x509.Certificate):
        return recipient_for(recipient)
    return recipient


def intended_entries(info: cms.RecipientInfo) -> list[IntendedRecipient]:
    """How the recipient binding names the recipient(s) of one record.

    Certificate recipients by issuer and serial (or subject key identifier), password
    records by the SHA-256 of the record itself (there is no name to give).
    """
    rids: list[Any] = []
    if info.name == "ktri":
        rids.append(info.chosen["rid"])
    elif info.name == "kari":
        rids.extend(rek["rid"] for rek in info.chosen["recipient_encrypted_keys"])
    elif info.name == "ori" and info.chosen["ori_type"].dotted == KEM_ORI_OID:
        rids.append(KEMRecipientInfo.load(info.chosen["ori_value"].dump())["rid"])
    elif info.name == "pwri":
        digest = hashlib.sha256(info.chosen.dump()).digest()
        return [IntendedRecipient(name="password_record", value=digest)]
    entries: list[IntendedRecipient] = []
    for rid in rids:
        if rid.name == "issuer_and_serial_number":
            entries.append(
                IntendedRecipient(
                    name="issuer_and_serial_number",
                    value=cms.IssuerAndSerialNumber.load(rid.chosen.dump()),
                )
            )
        else:
            ski = (
                rid.chosen.native
                if rid.name == "subject_key_identifier"
                else (rid.chosen["subject_key_identifier"].native)
            )
            entries.append(IntendedRecipient(name="subject_key_identifier", value=ski))
    return entries


# --- identities ---------------------------------------------------------------------------


class KeyOperations(Protocol):
    """What an identity needs from a key it cannot see: a token or vault handle.

    ``cryptography``'s private keys already have these shapes (``decrypt`` for RSA,
    ``exchange`` for EC/X25519, ``decapsulate`` for ML-KEM); a PKCS#11 or vault handle
    offers whichever of them its key type supports.
    """

    def public_key(self) -> Any: ...


class _HandleOperations:
    """Adapts a :class:`KeyHandle` (vault, PKCS#11) to the ``cryptography`` call shapes the
    identity uses, so one unwrap path serves keys in memory and keys it cannot see."""

    def __init__(self, handle: KeyHandle) -> None:
        self._handle = handle

    def public_key(self) -> Any:
        return self._handle.public_key()

    def exchange(self, *args: Any) -> bytes:
        # ``exchange(ec.ECDH(), peer)`` for EC, ``exchange(peer)`` for X25519.
        return self._handle.exchange(args[-1])

    def decapsulate(self, ciphertext: bytes) -> bytes:
        return self._handle.decapsulate(ciphertext)

    def decrypt(self, ciphertext: bytes, pad: padding.AsymmetricPadding) -> bytes:
        # RSA-OAEP goes through LocalIdentity._decrypt_oaep with hash names; only the
        # legacy PKCS#1 v1.5 path arrives here, and key handles do not offer it.
        raise UnsupportedAlgorithmError("key handles decrypt RSA-OAEP only")

    def decrypt_oaep(
        self, ciphertext: bytes, digest: str, mgf_digest: str, label: bytes | None
    ) -> bytes:
        return self._handle.decrypt(ciphertext, digest=digest, mgf_digest=mgf_digest, label=label)


@dataclass
class LocalIdentity:
    """A private key (or a key handle with the same methods), with its certificate if known.

    Without the certificate the identity cannot tell which record is addressed to it, so it
    tries each record its key type can open (key wrap and OAEP both detect a wrong key);
    the envelope layer then treats a failing record as "not mine" and moves on.
    ``key`` may be a token or vault handle: RSA needs ``decrypt(ciphertext, padding)``,
    EC needs ``exchange(ec.ECDH(), peer)``, X25519 ``exchange(peer)``, ML-KEM
    ``decapsulate(ciphertext)``, each with the public key available via ``public_key()``.
    """

    key: RecipientKey | Any
    certificate: x509.Certificate | None = None
    #: Opt in to RSA PKCS#1 v1.5 key transport, for old archives and peers that write
    #: nothing else (``cryptography``'s PKCS7 builder). Off by default: a padding oracle.
    legacy_pkcs1v15: bool = False

    @property
    def _ops(self) -> Any:
        """The key as ``cryptography``-shaped operations (a local key, a duck-typed key, or
        an :class:`esign.keys.KeyHandle` from a vault or a PKCS#11 token, adapted)."""
        if isinstance(self.key, KeyHandle):
            return _HandleOperations(self.key)
        return self.key

    def _public(self) -> Any:
        return self.key.public_key()

    def unwrap(self, info: cms.RecipientInfo) -> bytes | None:
        if info.name == "kari":
            return self._unwrap_kari(info.chosen)
        if info.name == "ktri":
            return self._unwrap_ktri(info.chosen)
        if info.name == "ori" and info.chosen["ori_type"].dotted == KEM_ORI_OID:
            return self._unwrap_kem(KEMRecipientInfo.load(info.chosen["ori_value"].dump()))
        return None

    def _unwrap_kari(self, kari: cms.KeyAgreeRecipientInfo) -> bytes | None:
        matches = [
            rek
            for rek in kari["recipient_encrypted_keys"]
            if _addressed_to(rek["rid"], self.certificate)
        ]
        if not matches:
            return None
        public: Any = self._public()
        if not isinstance(public, (ec.EllipticCurvePublicKey, x25519.X25519PublicKey)):
            raise DecryptionError()
        if kari["version"].native != "v3":
            raise MalformedInputError("KeyAgreeRecipientInfo version must be 3")
        scheme = kari["key_encryption_algorithm"]["algorithm"].native
        x25519_key = isinstance(public, x25519.X25519PublicKey)
        schemes = HKDF_KDF_HASH if x25519_key else ECDH_KDF_HASH
        if scheme not in schemes:
            raise UnsupportedAlgorithmError(f"unsupported key agreement scheme {scheme}")
        wrap = kari["key_encryption_algorithm"]["parameters"]
        is_wrap = isinstance(wrap, cms.KeyEncryptionAlgorithm)
        wrap_name = wrap["algorithm"].native if is_wrap else None
        if wrap_name not in _WRAP_BITS or wrap["parameters"].native is not None:
            raise UnsupportedAlgorithmError(f"unsupported key wrap {wrap_name}")
        originator = kari["originator"]
        if originator.name != "originator_key":
            raise UnsupportedAlgorithmError(
                "only ephemeral-static key agreement (originatorKey) is supported"
            )
        algorithm = originator.chosen["algorithm"]
        bit_string = originator.chosen["public_key"]
        if bit_string.contents[:1] != b"\x00":
            raise MalformedInputError("the originator public key has unused bits")
        point = bytes(bit_string.contents[1:])
        ukm = kari["ukm"].native
        curve = None if x25519_key else cast(ec.EllipticCurvePublicKey, public).curve
        if x25519_key:
            if algorithm["algorithm"].native != "x25519" or algorithm["parameters"].native:
                raise MalformedInputError("the originator key is not an X25519 key")
            if ukm is not None:
                # RFC 8418 feeds a ukm to HKDF; esign never writes one and does not guess.
                raise UnsupportedAlgorithmError("user keying material with X25519 is not supported")
        elif algorithm["algorithm"].native != "ec" or algorithm["parameters"].native not in (
            None,
            curve.name if curve else None,
        ):
            raise MalformedInputError(
                "the originator key is not an EC key on the recipient's curve"
            )
        try:
            if x25519_key:
                z = self._ops.exchange(x25519.X25519PublicKey.from_public_bytes(point))
                kek = _hkdf_hash(z, HKDF_KDF_HASH[scheme], wrap_name, ukm)
            else:
                assert curve is not None
                peer = ec.EllipticCurvePublicKey.from_encoded_point(curve, point)
                z = self._ops.exchange(ec.ECDH(), peer)
                kek = _kek(z, ECDH_KDF_HASH[scheme], wrap_name, ukm)
            return keywrap.aes_key_unwrap(kek, matches[0]["encrypted_key"].native)
        except (ValueError, InvalidUnwrap, InvalidKey):
            raise DecryptionError() from None

    def _unwrap_ktri(self, ktri: cms.KeyTransRecipientInfo) -> bytes | None:
        if not _addressed_to(ktri["rid"], self.certificate):
            return None
        if not isinstance(self._public(), rsa.RSAPublicKey):
            raise DecryptionError()
        algorithm = ktri["key_encryption_algorithm"]
        if algorithm["algorithm"].native == "rsaes_pkcs1v15" and self.legacy_pkcs1v15:
            try:
                legacy: bytes = self._ops.decrypt(ktri["encrypted_key"].native, padding.PKCS1v15())
                return legacy
            except ValueError:
                raise DecryptionError() from None
        if algorithm["algorithm"].native != "rsaes_oaep":
            raise UnsupportedAlgorithmError(
                "legacy algorithm refused: RSA key transport other than OAEP "
                "(PKCS#1 v1.5 needs the legacy_pkcs1v15 opt-in)"
            )
        params = algorithm["parameters"]
        hash_name = params["hash_algorithm"]["algorithm"].native
        mgf_hash = params["mask_gen_algorithm"]["parameters"]["algorithm"].native
        if hash_name not in _HASHES or mgf_hash not in _HASHES:
            raise UnsupportedAlgorithmError(f"unsupported OAEP hash {hash_name}/{mgf_hash}")
        label = params["p_source_algorithm"]["parameters"].native or None
        try:
            ops = self._ops
            if isinstance(ops, _HandleOperations):
                cek: bytes = ops.decrypt_oaep(
                    ktri["encrypted_key"].native, hash_name, mgf_hash, label
                )
            else:
                cek = ops.decrypt(
                    ktri["encrypted_key"].native,
                    padding.OAEP(
                        mgf=padding.MGF1(_HASHES[mgf_hash]()),
                        algorithm=_HASHES[hash_name](),
                        label=label,
                    ),
                )
            return cek
        except ValueError:
            raise DecryptionError() from None

    def _unwrap_kem(self, kemri: KEMRecipientInfo) -> bytes | None:
        if not _addressed_to(kemri["rid"], self.certificate):
            return None
        public = self._public()
        kem = ML_KEM_OIDS.get(kemri["kem"]["algorithm"].dotted)
        if isinstance(public, mlkem.MLKEM768PublicKey):
            mine = "ml_kem_768"
        elif isinstance(public, mlkem.MLKEM1024PublicKey):
            mine = "ml_kem_1024"
        else:
            mine = None
        if kem is None or kemri["kem"]["parameters"].native is not None:
            raise UnsupportedAlgorithmError(f"unsupported KEM {kemri['kem']['algorithm'].dotted}")
        if mine != kem:
            raise DecryptionError()
        try:
            shared_secret: bytes = self._ops.decapsulate(kemri["kemct"].native)
        except ValueError:
            raise DecryptionError() from None
        return kem_unwrap_after_decapsulation(kemri, shared_secret)


def kem_unwrap_after_decapsulation(kemri: KEMRecipientInfo, shared_secret: bytes) -> bytes:
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
    if wrap_name not in _WRAP_BITS or kek_length != _WRAP_BITS[wrap_name] // 8:
        raise UnsupportedAlgorithmError(f"unsupported key wrap {wrap_name}/{kek_length}")
    if kemri["wrap"]["parameters"].native is not None:
        raise MalformedInputError("AES key wrap takes no parameters")
    ukm = kemri["ukm"].native
    kek = _hkdf_sha256(shared_secret, kek_length, _kem_other_info(wrap_name, kek_length, ukm))
    try:
        return keywrap.aes_key_unwrap(kek, kemri["encrypted_key"].native)
    except (ValueError, InvalidUnwrap):
        raise DecryptionError() from None


def _hkdf_hash(z: bytes, hash_name: str, wrap_name: str, ukm: bytes | None) -> bytes:
    return HKDF(
        algorithm=_HASHES[hash_name](),
        length=_WRAP_BITS[wrap_name] // 8,
        salt=None,
        info=_shared_info(wrap_name, ukm),
    ).derive(z)


@dataclass
class PasswordIdentity:
    """Opens password records (RFC 3211) with a password; certificate records are not its."""

    password: bytes
    certificate: x509.Certificate | None = None

    def unwrap(self, info: cms.RecipientInfo) -> bytes | None:
        if info.name != "pwri":
            return None
        pwri = info.chosen
        if pwri["version"].native != "v0":
            raise MalformedInputError("PasswordRecipientInfo version must be 0")
        kdf = pwri["key_derivation_algorithm"]
        if kdf.native is None or kdf["algorithm"].native != "pbkdf2":
            raise UnsupportedAlgorithmError("password records need PBKDF2 key derivation")
        params = kdf["parameters"]
        salt = params["salt"]
        if salt.name != "specified":
            raise UnsupportedAlgorithmError("PBKDF2 salt must be specified")
        iterations = params["iteration_count"].native
        if not 1 <= iterations <= MAX_PBKDF2_ITERATIONS:
            raise UnsupportedAlgorithmError(f"PBKDF2 iteration count {iterations} refused")
        prf_name = params["prf"]["algorithm"].native
        if prf_name not in _PRF_HASHES:
            raise UnsupportedAlgorithmError(f"unsupported PBKDF2 PRF {prf_name}")
        kea = pwri["key_encryption_algorithm"]
        if kea["algorithm"].native != "pwri_kek":
            raise UnsupportedAlgorithmError(
                f"unsupported password key encryption {kea['algorithm'].native}"
            )
        inner = kea["parameters"]
        cipher = inner["algorithm"].native
        if cipher not in _CBC_KEY_BYTES:
            raise UnsupportedAlgorithmError(f"unsupported PWRI-KEK cipher {cipher}")
        iv = inner["parameters"].native
        if not isinstance(iv, bytes) or len(iv) != 16:
            raise MalformedInputError("the PWRI-KEK IV must be 16 bytes")
        key_length = params["key_length"].native
        if key_length is not None and key_length != _CBC_KEY_BYTES[cipher]:
            raise MalformedInputError("the PBKDF2 key length does not fit the KEK cipher")
        kek = _pbkdf2(
            self.password, salt.chosen.native, iterations, prf_name, _CBC_KEY_BYTES[cipher]
        )
        return pwri_unwrap(kek, iv, pwri["encrypted_key"].native)


def random_cek(bits: int = 256) -> bytes:
    """A fresh content-encryption key."""
    return os.urandom(bits // 8)
