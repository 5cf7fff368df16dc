"""The parts of a CMS signature that do not change between calls, encoded once.

A SignerInfo (RFC 5652 §5.3) is mostly constant for one signer: the signer identifier,
the digest and signature algorithm identifiers, the content-type, CMS algorithm
protection (RFC 6211) and ESS signing-certificate-v2 (RFC 5035) attributes, and the
certificates the SignedData carries. :func:`signer_parts` encodes them once per
certificate (asn1crypto builds them, so the bytes are the ones pyHanko's signer writes)
and keeps them; each signature then only encodes the message digest and the signing time,
signs, and joins DER byte strings. That keeps the cost of a signature close to the cost
of the signature primitive.
"""

from __future__ import annotations

import datetime
import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from threading import Lock
from typing import Any

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from esign.errors import KeyMismatchError, KeyUsageError, UnsupportedAlgorithmError
from esign.keys.algorithms import ALGORITHMS, PrivateKey, algorithm_name
from esign.keys.handle import KeyHandle, LocalKey
from esign.policy import default_digest_for

#: A key that can sign: a ``cryptography`` private key or any :class:`KeyHandle`.
SigningKey = PrivateKey | KeyHandle

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_ECDSA = {"sha256": "sha256_ecdsa", "sha384": "sha384_ecdsa", "sha512": "sha512_ecdsa"}
#: RFC 9882 object identifiers of the ML-DSA parameter sets.
_MLDSA_OIDS = {
    mldsa.MLDSA44PublicKey: "2.16.840.1.101.3.4.3.17",
    mldsa.MLDSA65PublicKey: "2.16.840.1.101.3.4.3.18",
    mldsa.MLDSA87PublicKey: "2.16.840.1.101.3.4.3.19",
}
MLDSA_KEYS = (mldsa.MLDSA44PrivateKey, mldsa.MLDSA65PrivateKey, mldsa.MLDSA87PrivateKey)
#: In-memory keys that sign (checked with one fast ``isinstance``).
LOCAL_SIGNING_KEYS = (
    ec.EllipticCurvePrivateKey,
    rsa.RSAPrivateKey,
    ed25519.Ed25519PrivateKey,
    *MLDSA_KEYS,
)

# DER of the object identifiers written on every call.
_OID_MESSAGE_DIGEST = bytes.fromhex("06092a864886f70d010904")
_OID_CONTENT_TYPE = bytes.fromhex("06092a864886f70d010903")
_OID_SIGNING_TIME = bytes.fromhex("06092a864886f70d010905")
_OID_SIGNED_DATA = bytes.fromhex("06092a864886f70d010702")
_OID_DATA = bytes.fromhex("06092a864886f70d010701")
_OID_SIGNATURE_TIME_STAMP = bytes.fromhex("060b2a864886f70d010910020e")
_VERSION_1 = b"\x02\x01\x01"


def tlv(tag: int, body: bytes) -> bytes:
    """One DER tag-length-value (definite length, one-byte tag)."""
    n = len(body)
    if n < 0x80:
        return bytes((tag, n)) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(size))) + size + body


def set_of(encodings: Sequence[bytes], tag: int = 0x31) -> bytes:
    """A DER SET OF: its elements sorted by their encodings (X.690 §11.6), as asn1crypto
    writes it."""
    return tlv(tag, b"".join(sorted(encodings)))


def attribute(oid_der: bytes, *values: bytes) -> bytes:
    """A CMS ``Attribute``: type and a SET OF values, all given as DER."""
    return tlv(0x30, oid_der + set_of(values))


_UTC_TIME_PREFIX = attribute(_OID_SIGNING_TIME, tlv(0x17, bytes(13)))[:-13]


def signing_time_attribute(moment: datetime.datetime) -> bytes:
    """The signing-time attribute (its common UTCTime form without re-encoding headers)."""
    if moment.tzinfo is not None:
        utc = moment.astimezone(datetime.timezone.utc)
        if 1950 <= utc.year < 2050:
            return _UTC_TIME_PREFIX + utc.strftime("%y%m%d%H%M%SZ").encode()
    return attribute(_OID_SIGNING_TIME, signing_time(moment))


def signing_time(moment: datetime.datetime) -> bytes:
    """The signing-time value: UTCTime for 1950-2049, GeneralizedTime otherwise (RFC 5652
    §11.3)."""
    if moment.tzinfo is None:
        raise ValueError("the clock must return a timezone-aware datetime")
    utc = moment.astimezone(datetime.timezone.utc)
    if 1950 <= utc.year < 2050:
        return tlv(0x17, utc.strftime("%y%m%d%H%M%SZ").encode())
    return tlv(0x18, utc.strftime("%Y%m%d%H%M%SZ").encode())


@dataclass(frozen=True, slots=True)
class SignerParts:
    """The encoded constant parts of one signer's SignerInfo and SignedData."""

    digest: str
    digest_algorithm: bytes  # DER AlgorithmIdentifier
    signature_algorithm: bytes  # DER AlgorithmIdentifier
    sid: bytes  # DER IssuerAndSerialNumber
    content_type_attribute: bytes
    protection_attribute: bytes  # CMS algorithm protection (RFC 6211)
    signing_certificate_attribute: bytes  # ESS signing-certificate-v2 (RFC 5035)
    certificates: bytes  # DER [0] IMPLICIT CertificateSet
    digest_algorithms: bytes  # DER SET OF the one digest algorithm
    scheme: str  # "ecdsa", "rsa-pss", "pure"
    pss_salt: int  # RSA-PSS salt length for in-memory keys (0 otherwise)
    local: bool  # parts for an in-memory ``cryptography`` key (else a key handle)
    digest_size: int
    message_digest_prefix: bytes  # the message-digest attribute up to the digest value

    def hasher(self) -> Any:
        """A fresh hashlib object for the signer's digest."""
        return hashlib.new(self.digest)

    def signed_attributes(
        self,
        message_digest: bytes,
        moment: datetime.datetime,
        extra: Sequence[bytes] = (),
        *,
        content_type: bytes | None = b"",
    ) -> bytes:
        """The DER SET OF signed attributes (tag 0x31, as signed; RFC 5652 §5.4).

        ``content_type`` is the DER content-type OID (empty: id-data; ``None``: no
        content-type attribute, as in a counter-signature).
        """
        if len(message_digest) == self.digest_size:
            digest_attribute = self.message_digest_prefix + message_digest
        else:
            digest_attribute = attribute(_OID_MESSAGE_DIGEST, tlv(0x04, message_digest))
        parts = [
            digest_attribute,
            signing_time_attribute(moment),
            self.protection_attribute,
            self.signing_certificate_attribute,
            *extra,
        ]
        if content_type == b"":
            parts.append(self.content_type_attribute)
        elif content_type is not None:
            parts.append(attribute(_OID_CONTENT_TYPE, content_type))
        return set_of(parts)

    def sign(self, key: SigningKey, message: bytes) -> bytes:
        """The signature value over ``message`` in the form CMS carries."""
        if self.local:  # an in-memory key whose public half is the certificate's
            local: Any = key
            signature: bytes
            if self.scheme == "ecdsa":
                signature = local.sign(message, ec.ECDSA(_HASHES[self.digest]()))
            elif self.scheme == "pure":
                signature = local.sign(message)
            else:
                hash_ = _HASHES[self.digest]()
                signature = local.sign(
                    message, padding.PSS(padding.MGF1(hash_), self.pss_salt), hash_
                )
            return signature
        if isinstance(key, KeyHandle):
            scheme = "rsa-pss" if self.scheme == "rsa-pss" else None
            return key.sign(message, digest=self.digest, scheme=scheme)
        raise UnsupportedAlgorithmError(f"a {type(key).__name__} cannot sign here")

    def signer_info(
        self, signed_attributes: bytes, signature: bytes, unsigned: bytes = b""
    ) -> bytes:
        """The DER SignerInfo (v1, issuer and serial number)."""
        return tlv(
            0x30,
            _VERSION_1
            + self.sid
            + self.digest_algorithm
            + b"\xa0"
            + signed_attributes[1:]  # same body, [0] IMPLICIT instead of SET
            + self.signature_algorithm
            + tlv(0x04, signature)
            + unsigned,
        )

    def content_info(
        self, signer_info: bytes, content: bytes | None, encapsulated: bytes | None = None
    ) -> bytes:
        """The DER ContentInfo holding the SignedData: of id-data ``content`` (``None``:
        detached) in a v1 SignedData, or of an ``encapsulated`` DER
        EncapsulatedContentInfo of another type in a v3 one (RFC 5652 §5.1)."""
        if encapsulated is not None:
            version, encap = b"\x02\x01\x03", encapsulated
        elif content is None:
            version, encap = _VERSION_1, tlv(0x30, _OID_DATA)
        else:
            version, encap = _VERSION_1, tlv(0x30, _OID_DATA + tlv(0xA0, tlv(0x04, content)))
        signed_data = (
            version + self.digest_algorithms + encap + self.certificates + tlv(0x31, signer_info)
        )
        return tlv(0x30, _OID_SIGNED_DATA + tlv(0xA0, tlv(0x30, signed_data)))


def unsigned_time_stamp(token: bytes) -> bytes:
    """The [1] unsigned attributes holding one signature time-stamp token (RFC 3161 App. A)."""
    return set_of([attribute(_OID_SIGNATURE_TIME_STAMP, token)], tag=0xA1)


def key_can_sign(certificate: x509.Certificate) -> None:
    """Refuse a certificate whose key usage allows no signature (RFC 5280 §4.2.1.3)."""
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    if not (usage.digital_signature or usage.content_commitment):
        raise KeyUsageError(
            "the signer certificate's key usage allows no signature "
            "(needs digitalSignature or nonRepudiation)"
        )


def check_key(key: SigningKey, certificate: x509.Certificate) -> SigningKey:
    """The key to sign with (a :class:`LocalKey` is unwrapped), after checking it belongs
    to ``certificate``."""
    if isinstance(key, LocalKey):
        key = key.private_key
    elif not is_local(key) and not isinstance(key, KeyHandle):
        raise UnsupportedAlgorithmError(f"unsupported key type {type(key).__name__}")
    try:
        matches = key.public_key() == certificate.public_key()
    except (ValueError, TypeError) as exc:  # a certificate key cryptography cannot load
        raise UnsupportedAlgorithmError(f"the signer certificate's key: {exc}") from exc
    if not matches:
        raise KeyMismatchError("the private key does not belong to the signer certificate")
    return key


_LOCAL_TYPES: dict[type, bool] = {}


def is_local(key: object) -> bool:
    """Whether ``key`` is an in-memory ``cryptography`` signing key (answered once per
    type: ``isinstance`` against cryptography's abstract classes is slow)."""
    kind = type(key)
    local = _LOCAL_TYPES.get(kind)
    if local is None:
        local = _LOCAL_TYPES[kind] = isinstance(key, LOCAL_SIGNING_KEYS)
    return local


_CACHE: OrderedDict[tuple[Any, ...], SignerParts] = OrderedDict()
_CACHE_SIZE = 256
_LOCK = Lock()


def signer_parts(
    key: SigningKey, certificate: x509.Certificate, chain: Sequence[x509.Certificate] = ()
) -> SignerParts:
    """The cached parts for signing with ``key`` (already checked against
    ``certificate``)."""
    local = is_local(key)
    cache_key = (certificate, tuple(chain), local)
    parts = _CACHE.get(cache_key)
    if parts is None:
        parts = _build(certificate, chain, local)
        with _LOCK:
            _CACHE[cache_key] = parts
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
    return parts


def _signature_algorithm(public: Any, digest: str) -> tuple[algos.SignedDigestAlgorithm, str, int]:
    """The algorithm identifier, the scheme and the PSS salt for a certificate key."""
    if isinstance(public, ec.EllipticCurvePublicKey):
        return algos.SignedDigestAlgorithm({"algorithm": _ECDSA[digest]}), "ecdsa", 0
    if isinstance(public, rsa.RSAPublicKey):
        hash_ = _HASHES[digest]()
        # A salt as long as the hash (RFC 4055, ETSI TS 119 312; what gpgsm expects), for
        # in-memory keys and key handles (vault, token) alike.
        salt = hash_.digest_size
        params = algos.RSASSAPSSParams(
            {
                "hash_algorithm": algos.DigestAlgorithm({"algorithm": digest}),
                "mask_gen_algorithm": algos.MaskGenAlgorithm(
                    {
                        "algorithm": "mgf1",
                        "parameters": algos.DigestAlgorithm({"algorithm": digest}),
                    }
                ),
                "salt_length": salt,
            }
        )
        mechanism = algos.SignedDigestAlgorithm({"algorithm": "rsassa_pss", "parameters": params})
        return mechanism, "rsa-pss", salt
    if isinstance(public, ed25519.Ed25519PublicKey):
        return algos.SignedDigestAlgorithm({"algorithm": "ed25519"}), "pure", 0
    for cls, oid in _MLDSA_OIDS.items():
        if isinstance(public, cls):
            return algos.SignedDigestAlgorithm({"algorithm": oid}), "pure", 0
    raise UnsupportedAlgorithmError(f"a {algorithm_name(public)} key cannot sign")


def digest_for_public(public: Any) -> str:
    """The digest paired with a signing key (SHA-512 for ML-DSA, RFC 9882 §3.3)."""
    if isinstance(public, tuple(_MLDSA_OIDS)):
        return "sha512"
    return default_digest_for(public)


def _build(
    certificate: x509.Certificate, chain: Sequence[x509.Certificate], local: bool
) -> SignerParts:
    public: Any = certificate.public_key()
    if not isinstance(public, tuple(_MLDSA_OIDS)):
        name = algorithm_name(public)
        if name not in ALGORITHMS or not ALGORITHMS[name].can_sign:
            raise UnsupportedAlgorithmError(f"a {name} key cannot sign")
    key_can_sign(certificate)
    digest = digest_for_public(public)
    der = certificate.public_bytes(Encoding.DER)
    cert = asn1_x509.Certificate.load(der)
    digest_algorithm = algos.DigestAlgorithm({"algorithm": digest})
    mechanism, scheme, salt = _signature_algorithm(public, digest)
    ess = tsp.SigningCertificateV2(
        {
            "certs": [
                tsp.ESSCertIDv2(
                    {
                        "hash_algorithm": {"algorithm": "sha256"},
                        "cert_hash": hashlib.sha256(der).digest(),
                        "issuer_serial": {
                            "issuer": [asn1_x509.GeneralName({"directory_name": cert.issuer})],
                            "serial_number": cert["tbs_certificate"]["serial_number"],
                        },
                    }
                )
            ]
        }
    )
    protection = cms.CMSAlgorithmProtection(
        {"digest_algorithm": digest_algorithm, "signature_algorithm": mechanism}
    )
    sid = cms.IssuerAndSerialNumber({"issuer": cert.issuer, "serial_number": cert.serial_number})
    # Like pyHanko's signer: the signing certificate and every chain certificate, once.
    encoded = {der, *(extra.public_bytes(Encoding.DER) for extra in chain)}
    return SignerParts(
        digest=digest,
        digest_algorithm=digest_algorithm.dump(),
        signature_algorithm=mechanism.dump(),
        sid=sid.dump(),
        content_type_attribute=_simple_attribute("content_type", cms.ContentType("data")),
        protection_attribute=_simple_attribute("cms_algorithm_protection", protection),
        signing_certificate_attribute=_simple_attribute("signing_certificate_v2", ess),
        certificates=set_of(list(encoded), tag=0xA0),
        digest_algorithms=tlv(0x31, digest_algorithm.dump()),
        scheme=scheme,
        pss_salt=salt,
        local=local,
        digest_size=hashlib.new(digest).digest_size,
        message_digest_prefix=attribute(
            _OID_MESSAGE_DIGEST, tlv(0x04, bytes(hashlib.new(digest).digest_size))
        )[: -hashlib.new(digest).digest_size],
    )


def _simple_attribute(name: str, value: core.Asn1Value) -> bytes:
    dumped: bytes = cms.CMSAttribute({"type": name, "values": [value]}).dump()
    return dumped


def clear_cache() -> None:
    """Forget every cached signer (tests; a long-running service never needs it)."""
    with _LOCK:
        _CACHE.clear()
