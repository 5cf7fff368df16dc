"""CMS SignedData / CAdES with GOST R 34.10-2012 signatures and Streebog digests.

What is written matches ``openssl cms -sign -cades -md md_gost12_256`` with the GOST
engine: signer by issuerAndSerialNumber; signed content-type, signing-time,
message-digest and signing-certificate-v2 (ESSCertIDv2 hashed with Streebog);
digestAlgorithm id-tc26-gost3411-12-256/512; signatureAlgorithm the key's OID
id-tc26-gost3410-12-256/512 (RFC 4490 style; the signwithdigest OIDs are read too).
CAdES-T: an RFC 3161 token over the signature value in the signature-time-stamp
attribute; its own GOST signature, imprint and TSA path are checked on verification.

pyHanko's CMS code hashes with ``cryptography``, which has no Streebog, so this module
builds and checks the SignedData itself with asn1crypto; paths are validated by the
caller's TrustContext, which is GOST-aware through :mod:`esign.gost.chain`'s plug-ins.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from asn1crypto import algos, cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from esign.errors import (
    EsignError,
    InvalidSignatureError,
    KeyMismatchError,
    MalformedInputError,
)
from esign.gost import params, streebog
from esign.gost.keys import GostPrivateKey
from esign.gost.x509 import public_key_of

CHUNK = 1 << 20
Clock = Callable[[], datetime.datetime]
#: A callable that time-stamps a signature value: returns a DER TimeStampToken
#: (ContentInfo of SignedData with TSTInfo) over its Streebog digest.
TimeStamp = Callable[[bytes], bytes]

_TST_INFO = "1.2.840.113549.1.9.16.1.4"
_SIGNATURE_TIME_STAMP = "1.2.840.113549.1.9.16.2.14"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(Encoding.DER)


def _stream_digest(bits: int, data: bytes | BinaryIO) -> bytes:
    h = streebog.new(bits)
    if isinstance(data, (bytes, bytearray, memoryview)):
        h.update(bytes(data))
    else:
        while chunk := data.read(CHUNK):
            h.update(chunk)
    return h.digest()


def _digest_algorithm(bits: int) -> algos.DigestAlgorithm:
    oid = params.DIGEST_256 if bits == 256 else params.DIGEST_512
    return algos.DigestAlgorithm({"algorithm": oid, "parameters": core.Null()})


def _attribute(kind: str, value: Any) -> cms.CMSAttribute:
    return cms.CMSAttribute({"type": kind, "values": [value]})


def _signed_attributes(
    content_type: str,
    content_digest: bytes,
    certificate: x509.Certificate,
    bits: int,
    signing_time: datetime.datetime,
    extra: Sequence[cms.CMSAttribute] = (),
) -> cms.CMSAttributes:
    """The signed attributes, in DER SET OF order (openssl re-encodes before checking)."""
    cert = asn1_x509.Certificate.load(_der(certificate))
    ess = {
        "certs": [
            {
                "hash_algorithm": _digest_algorithm(bits),
                "cert_hash": streebog.digest(bits, _der(certificate)),
                "issuer_serial": {
                    "issuer": [asn1_x509.GeneralName(name="directory_name", value=cert.issuer)],
                    "serial_number": cert.serial_number,
                },
            }
        ]
    }
    attributes = [
        _attribute("content_type", content_type),
        _attribute("signing_time", cms.Time(name="utc_time", value=signing_time)),
        _attribute("message_digest", content_digest),
        _attribute("signing_certificate_v2", ess),
        *extra,
    ]
    attributes.sort(key=lambda a: a.dump())
    return cms.CMSAttributes(attributes)


def sign(
    data: bytes | BinaryIO,
    *,
    key: GostPrivateKey,
    certificate: x509.Certificate,
    chain: Sequence[x509.Certificate] = (),
    detached: bool = True,
    clock: Clock = _now,
    signed_attributes: Sequence[cms.CMSAttribute] = (),
    timestamp: TimeStamp | None = None,
) -> bytes:
    """A CAdES-BES (CAdES-T with ``timestamp``) GOST signature over ``data``, DER.

    ``signed_attributes`` are added to the standard four and covered by the signature.
    """
    if public_key_of(certificate) != key.public_key():
        raise KeyMismatchError("the GOST key does not belong to the certificate")
    bits = key.paramset.bits
    if not detached and not isinstance(data, (bytes, bytearray, memoryview)):
        data = data.read()
    content_digest = _stream_digest(bits, data)
    attrs = _signed_attributes(
        "data", content_digest, certificate, bits, clock(), signed_attributes
    )
    signature = key.sign_digest(streebog.digest(bits, attrs.dump()))
    cert = asn1_x509.Certificate.load(_der(certificate))
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value={"issuer": cert.issuer, "serial_number": cert.serial_number},
            ),
            "digest_algorithm": _digest_algorithm(bits),
            "signed_attrs": attrs,
            "signature_algorithm": {"algorithm": key.paramset.key_oid, "parameters": core.Null()},
            "signature": signature,
        }
    )
    if timestamp is not None:
        token = cms.ContentInfo.load(timestamp(signature))
        signer_info["unsigned_attrs"] = cms.CMSAttributes(
            [_attribute("signature_time_stamp_token", token)]
        )
    content: dict[str, Any] = {"content_type": "data"}
    if not detached:
        content["content"] = bytes(data)  # type: ignore[arg-type]
    signed = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [_digest_algorithm(bits)],
            "encap_content_info": content,
            "certificates": [asn1_x509.Certificate.load(_der(c)) for c in (certificate, *chain)],
            "signer_infos": [signer_info],
        }
    )
    der: bytes = cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump()
    return der


def time_stamp_with(timestamper: Any) -> TimeStamp:
    """Adapt a pyHanko ``TimeStamper`` (esign's TSA client or authority): it cannot hash
    with Streebog, so it is asked to stamp the SHA-256 of the signature value, which
    RFC 3161 allows and the verifier accepts."""
    from esign._sync import run_sync

    def stamp(signature: bytes) -> bytes:
        digest = hashlib.sha256(signature).digest()
        token = run_sync(timestamper.async_timestamp(digest, "sha256"))
        der: bytes = token.dump()
        return der

    return stamp


def add_timestamp(signature: bytes, token: bytes) -> bytes:
    """Add an RFC 3161 token (DER) over the first signer's value: CAdES-BES -> CAdES-T."""
    info = cms.ContentInfo.load(signature)
    signed = info["content"]
    signer = signed["signer_infos"][0]
    attributes = (
        [] if isinstance(signer["unsigned_attrs"], core.Void) else list(signer["unsigned_attrs"])
    )
    attributes.append(_attribute("signature_time_stamp_token", cms.ContentInfo.load(token)))
    signer["unsigned_attrs"] = cms.CMSAttributes(attributes)
    der: bytes = info.dump(force=True)
    return der


def timestamp_digest(signature: bytes, bits: int = 256) -> bytes:
    """The Streebog digest of the first signer's signature value: what a TSA is asked to
    time-stamp for CAdES-T (e.g. ``openssl ts -query -digest HEX -md_gost12_256``)."""
    value: bytes = cms.ContentInfo.load(signature)["content"]["signer_infos"][0]["signature"].native
    return streebog.digest(bits, value)


def is_gost_signed_data(signed: cms.SignedData) -> bool:
    """Whether any signer of a SignedData uses a GOST digest or signature algorithm."""
    for signer in signed["signer_infos"]:
        if signer["digest_algorithm"]["algorithm"].dotted in params.GOST_OIDS:
            return True
        if signer["signature_algorithm"]["algorithm"].dotted in params.GOST_OIDS:
            return True
    return False


# -- verification --------------------------------------------------------------------------


@dataclass
class SignerCheck:
    """What checking one SignerInfo's integrity found (before any path validation)."""

    certificate: x509.Certificate | None = None
    signing_time: datetime.datetime | None = None
    digest_algorithm: str | None = None
    errors: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)


def _find_certificate(
    signer: cms.SignerInfo, candidates: Iterable[x509.Certificate]
) -> x509.Certificate | None:
    sid = signer["sid"]
    for candidate in candidates:
        cert = asn1_x509.Certificate.load(_der(candidate))
        if sid.name == "issuer_and_serial_number":
            wanted = sid.chosen
            if (
                cert.serial_number == wanted["serial_number"].native
                and cert.issuer == wanted["issuer"]
            ):
                return candidate
        elif cert.key_identifier == sid.chosen.native:
            return candidate
    return None


def _attribute_value(attrs: cms.CMSAttributes, kind: str) -> Any:
    values = [a["values"] for a in attrs if a["type"].native == kind]
    if len(values) != 1 or len(values[0]) != 1:
        return None
    return values[0][0]


def _cert_hash(oid: str, certificate: x509.Certificate) -> bytes | None:
    bits = params.DIGEST_OIDS.get(oid)
    if bits is not None:
        return streebog.digest(bits, _der(certificate))
    name = {"2.16.840.1.101.3.4.2.1": "sha256", "2.16.840.1.101.3.4.2.2": "sha384"}.get(oid)
    return hashlib.new(name, _der(certificate)).digest() if name else None


def _null_or_absent(algorithm: Any) -> bool:
    parameters = algorithm["parameters"]
    return isinstance(parameters, (core.Void, core.Null)) or (
        parameters.native is None and (parameters.dump() in (b"", b"\x05\x00"))
    )


def _structure_problem(signer: cms.SignerInfo) -> str | None:
    """The unsigned parts of a SignerInfo that must still be exactly as RFC 5652 and
    RFC 9215 say (a change there is tampering even though no signature covers it)."""
    version = signer["version"].native
    expected = "v1" if signer["sid"].name == "issuer_and_serial_number" else "v3"
    if version != expected:
        return f"SignerInfo version {version} does not fit its signer identifier"
    if not _null_or_absent(signer["digest_algorithm"]):
        return "the Streebog digest algorithm takes no parameters"
    if not _null_or_absent(signer["signature_algorithm"]):
        return "the GOST signature algorithm takes no parameters"
    return None


def check_signer(
    signer: cms.SignerInfo,
    content_type: str,
    content_digest: Callable[[int], bytes],
    candidates: Sequence[x509.Certificate],
) -> SignerCheck:
    """Check one GOST SignerInfo: message digest, content type, signature value and the
    signing-certificate-v2 binding. Findings, not exceptions."""
    result = SignerCheck()
    digest_oid = signer["digest_algorithm"]["algorithm"].dotted
    bits = params.DIGEST_OIDS.get(digest_oid)
    result.digest_algorithm = f"streebog{bits}" if bits else digest_oid
    if bits is None:
        result.errors.append(("unsupported_algorithm", f"not a Streebog digest: {digest_oid}"))
        return result
    problem = _structure_problem(signer)
    if problem:
        result.errors.append(("signature_unverifiable", problem))
        return result
    certificate = _find_certificate(signer, candidates)
    if certificate is None:
        result.errors.append(
            (
                "signer_certificate_missing",
                "the signer's certificate is neither in the signature nor given",
            )
        )
        return result
    result.certificate = certificate
    try:
        public = public_key_of(certificate)
    except EsignError as exc:
        result.errors.append(("unsupported_algorithm", f"the signer's key is not GOST: {exc}"))
        return result
    sig_oid = signer["signature_algorithm"]["algorithm"].dotted
    sig_bits = params.KEY_OIDS.get(sig_oid) or params.SIGNATURE_OIDS.get(sig_oid)
    if sig_bits is None or sig_bits != public.paramset.bits or bits != sig_bits:
        result.errors.append(
            ("unsupported_algorithm", f"signature algorithm {sig_oid} does not fit the key/digest")
        )
        return result
    attrs = signer["signed_attrs"]
    if isinstance(attrs, core.Void):
        result.errors.append(
            ("signed_attributes_invalid", "a GOST CAdES signature needs signed attributes")
        )
        return result
    # The signature covers the attributes as received, re-tagged as a SET OF.
    signed_bytes = b"\x31" + attrs.dump()[1:]
    try:
        public.verify_digest(signer["signature"].native, streebog.digest(bits, signed_bytes))
    except InvalidSignatureError as exc:
        result.errors.append(("bad_signature", str(exc)))
        return result
    digest = _attribute_value(attrs, "message_digest")
    if digest is None or not hmac.compare_digest(digest.native, content_digest(bits)):
        result.errors.append(("content_modified", "the content does not match the signed digest"))
    kind = _attribute_value(attrs, "content_type")
    if kind is None or kind.native != content_type:
        result.errors.append(
            ("signed_attributes_invalid", "content-type attribute missing or wrong")
        )
    when = _attribute_value(attrs, "signing_time")
    if when is not None:
        result.signing_time = when.native
    else:
        result.warnings.append(("no_signing_time", "the signer did not state a signing time"))
    ess = _attribute_value(attrs, "signing_certificate_v2")
    if ess is None:
        result.warnings.append(
            (
                "no_signing_certificate_attribute",
                "no ESS signing-certificate-v2 attribute binds the signer certificate",
            )
        )
    else:
        first = ess["certs"][0]
        expected = _cert_hash(first["hash_algorithm"]["algorithm"].dotted, certificate)
        if expected is None or not hmac.compare_digest(expected, first["cert_hash"].native):
            result.errors.append(
                (
                    "signed_attributes_invalid",
                    "signing-certificate-v2 does not name this certificate",
                )
            )
    return result


def _content(
    signed: cms.SignedData, data: bytes | BinaryIO | None
) -> tuple[Callable[[int], bytes], bool]:
    """A digest-by-size function over the signed content, and whether given data differs
    from the attached content."""
    encap = signed["encap_content_info"]
    attached = encap["content"]
    attached_bytes: bytes | None = None
    if not isinstance(attached, core.Void) and attached is not None:
        attached_bytes = bytes(
            attached.contents if isinstance(attached, core.ParsableOctetString) else attached.native
        )
    if attached_bytes is None and data is None:
        raise MalformedInputError("detached signature: the signed data must be given")
    if attached_bytes is not None and data is not None and not isinstance(data, (bytes, bytearray)):
        data = data.read()
    cache: dict[int, bytes] = {}

    def digest(bits: int) -> bytes:
        if bits not in cache:
            source = attached_bytes if attached_bytes is not None else data
            assert source is not None
            cache[bits] = _stream_digest(bits, source)
        return cache[bits]

    mismatch = attached_bytes is not None and data is not None and bytes(data) != attached_bytes  # type: ignore[arg-type]
    return digest, mismatch
