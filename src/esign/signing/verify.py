"""Verify CMS SignedData into a :class:`VerificationReport`.

Integrity (message digest, signature value, content type, CMS algorithm protection and the
signing-certificate-v2 binding) is checked by pyHanko's ``validate_sig_integrity``; the
certificate path by the caller's :class:`TrustContext`. Every failure becomes a named
finding; nothing that fails is ever reported valid.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterable
from typing import BinaryIO

from asn1crypto import cms
from cryptography import x509
from pyhanko.sign.general import find_unique_cms_attribute
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.generic_cms import validate_sig_integrity

from esign.certs.trust import TrustContext, from_asn1, to_asn1
from esign.errors import EsignError, MalformedInputError
from esign.policy import AlgorithmPolicy
from esign.signing.container import PARSE_ERRORS, load_signed_data
from esign.signing.report import SignatureLevel, SignerIdentity, VerificationReport

CHUNK = 1 << 20


def _digest(name: str, data: bytes | BinaryIO) -> bytes:
    try:
        hasher = hashlib.new(name.replace("_", "-") if name.startswith("sha3") else name)
    except ValueError as exc:
        raise MalformedInputError(f"unknown digest algorithm {name}") from exc
    if isinstance(data, (bytes, bytearray, memoryview)):
        hasher.update(data)
    else:
        while chunk := data.read(CHUNK):
            hasher.update(chunk)
    return hasher.digest()


def _find_signer_certificate(
    signer_info: cms.SignerInfo, candidates: list[x509.Certificate]
) -> x509.Certificate | None:
    sid = signer_info["sid"]
    for certificate in candidates:
        asn1_cert = to_asn1(certificate)
        if sid.name == "issuer_and_serial_number":
            if (
                asn1_cert.issuer == sid.chosen["issuer"]
                and asn1_cert.serial_number == sid.chosen["serial_number"].native
            ):
                return certificate
        elif asn1_cert.key_identifier == sid.chosen.native:
            return certificate
    return None


def _embedded_certificates(signed: cms.SignedData) -> list[x509.Certificate]:
    found: list[x509.Certificate] = []
    if signed["certificates"].native is None:
        return found
    for choice in signed["certificates"]:
        if choice.name == "certificate":
            try:
                found.append(from_asn1(choice.chosen))
            except ValueError as exc:
                raise MalformedInputError(f"an embedded certificate is malformed: {exc}") from exc
    return found


def verify(
    signature: bytes,
    data: bytes | BinaryIO | None = None,
    *,
    trust: TrustContext,
    at: datetime.datetime | None = None,
    certificates: Iterable[x509.Certificate] = (),
) -> VerificationReport:
    """Verify a CMS signature (DER or PEM) over ``data`` or its encapsulated content.

    ``data`` is required for a detached signature; for an attached one it is optional and,
    when given, must equal the encapsulated content. ``certificates`` helps find the signer
    and build the path when the signature does not carry them. The path is validated at
    ``at`` (default: now). Raises :class:`MalformedInputError` only for input that is not a
    signature at all; every other problem is an error inside the returned report.
    """
    signed = load_signed_data(signature)
    try:
        return _verify(signed, data, trust, at, list(certificates))
    except EsignError:
        raise
    except PARSE_ERRORS as exc:
        raise MalformedInputError(f"malformed CMS SignedData: {exc}") from exc


def _verify(
    signed: cms.SignedData,
    data: bytes | BinaryIO | None,
    trust: TrustContext,
    at: datetime.datetime | None,
    extra: list[x509.Certificate],
) -> VerificationReport:
    report = VerificationReport()
    policy = AlgorithmPolicy(legacy=trust.legacy_algorithms)
    signer_infos = signed["signer_infos"]
    if len(signer_infos) != 1:
        report.error(
            "unsupported",
            f"{len(signer_infos)} signers: this version verifies exactly one signer",
        )
        return report.finish()
    signer_info = signer_infos[0]

    encap = signed["encap_content_info"]
    content_type = encap["content_type"].native
    attached = encap["content"].native if encap["content"].native is not None else None
    if attached is not None and not isinstance(attached, bytes):
        raise MalformedInputError("the encapsulated content is not an OCTET STRING")
    if attached is None and data is None:
        raise MalformedInputError("detached signature: the signed data must be given")

    digest_name = signer_info["digest_algorithm"]["algorithm"].native
    report.digest_algorithm = digest_name
    report.signature_algorithm = signer_info["signature_algorithm"]["algorithm"].native
    refusal = policy.digest_refusal(digest_name)
    if refusal:
        report.error("weak_algorithm", refusal)
        return report.finish()

    if attached is not None:
        actual = _digest(digest_name, attached)
        if data is not None and _digest(digest_name, data) != actual:
            report.error("content_mismatch", "the given data differs from the signed content")
    else:
        assert data is not None
        actual = _digest(digest_name, data)

    embedded = _embedded_certificates(signed)
    certificate = _find_signer_certificate(signer_info, embedded + extra)
    if certificate is None:
        report.error(
            "signer_certificate_missing",
            "the signer's certificate is neither in the signature nor given",
        )
        return report.finish()
    report.signer = SignerIdentity.from_certificate(certificate)
    key_refusal = policy.key_refusal(certificate.public_key())
    if key_refusal:
        report.error("weak_algorithm", key_refusal)

    signed_attrs = signer_info["signed_attrs"]
    if signed_attrs.native is None:
        report.warn(
            "no_signed_attributes",
            "no signed attributes: no signing time, no signing-certificate binding",
        )
    else:
        try:
            report.signing_time = find_unique_cms_attribute(signed_attrs, "signing_time").native
        except Exception:
            report.warn("no_signing_time", "the signer did not state a signing time")
        names = {attr["type"].native for attr in signed_attrs}
        if "signing_certificate_v2" not in names and "signing_certificate" not in names:
            report.warn(
                "no_signing_certificate_attribute",
                "no ESS signing-certificate(-v2) attribute binds the signer certificate",
            )

    try:
        intact, valid = validate_sig_integrity(
            signer_info, to_asn1(certificate), content_type, actual
        )
    except SignatureValidationError as exc:
        report.error("signed_attributes_invalid", exc.failure_message)
        intact, valid = False, False
    except (ValueError, TypeError, NotImplementedError) as exc:
        report.error("signature_unverifiable", f"cannot check the signature: {exc}")
        intact, valid = False, False
    else:
        report.content_intact = intact
        report.signature_intact = valid
        if not intact:
            report.error(
                "content_modified",
                "the content does not match the signed message digest: it was changed",
            )
        if not valid:
            report.error(
                "bad_signature", "the signature value does not verify with the signer's public key"
            )

    path = trust.validate(certificate, at=at, usage="signing", extra_certificates=embedded + extra)
    report.trust_domain = path.domain
    report.chain = path.chain
    for failure in path.failures:
        report.error(failure.code, failure.message)
    if path.revocation_reason is not None:
        report.revocation = f"revoked ({path.revocation_reason}) at {path.revoked_at}"

    if not report.errors:
        report.valid = True
        report.level = SignatureLevel.ADVANCED
    return report.finish()
