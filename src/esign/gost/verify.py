"""Verify GOST CMS / CAdES into esign's :class:`VerificationReport`.

The same verdict rules as :func:`esign.verify`: any error means not valid; a valid
signature time-stamp fixes the time at which the path (expiry, revocation) is judged;
the level is decided by :func:`esign.signing.levels.decide_level`, and the report names
the GOST algorithm and parameter set of the signer's key.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
from collections.abc import Callable, Iterable, Sequence
from typing import BinaryIO

from asn1crypto import cms, core, tsp
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from esign.certs.trust import TrustContext
from esign.certs.trusted_list import TrustedList
from esign.errors import PARSE_ERRORS, EsignError, MalformedInputError
from esign.gost import params, streebog
from esign.gost.cms import _content, _der, check_signer, is_gost_signed_data
from esign.gost.x509 import describe_key
from esign.signing.levels import decide_level
from esign.signing.report import SignatureLevel, SignerIdentity, VerificationReport

_HASHES = {
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
}

_TOKEN_ERRORS: tuple[type[Exception], ...] = (*PARSE_ERRORS, EsignError)


def _imprint(oid: str, data: bytes) -> bytes | None:
    bits = params.DIGEST_OIDS.get(oid)
    if bits is not None:
        return streebog.digest(bits, data)
    name = _HASHES.get(oid)
    return hashlib.new(name, data).digest() if name else None


def _embedded(signed: cms.SignedData) -> list[x509.Certificate]:
    out: list[x509.Certificate] = []
    if isinstance(signed["certificates"], core.Void):
        return out
    for choice in signed["certificates"]:
        if choice.name == "certificate":
            out.append(x509.load_der_x509_certificate(choice.chosen.dump()))
    return out


def _embedded_crls(signed: cms.SignedData) -> list[bytes]:
    if isinstance(signed["crls"], core.Void):
        return []
    return [c.chosen.dump() for c in signed["crls"] if c.name == "crl"]


def _check_timestamp(
    report: VerificationReport,
    token: cms.ContentInfo,
    signature_value: bytes,
    extra: Sequence[x509.Certificate],
    tsa_trust: TrustContext,
) -> datetime.datetime | None:
    """Check a signature time-stamp token; its time when it holds, else None + an error."""
    try:
        signed = token["content"]
        encap = signed["encap_content_info"]
        if encap["content_type"].native != "tst_info":
            raise MalformedInputError("the time-stamp token does not hold a TSTInfo")
        tst_bytes = bytes(encap["content"].contents)
        info = tsp.TSTInfo.load(tst_bytes)
        imprint = info["message_imprint"]
        expected = _imprint(imprint["hash_algorithm"]["algorithm"].dotted, signature_value)
        gen_time: datetime.datetime = info["gen_time"].native
        certificates = _embedded(signed) + list(extra)
        signers = list(signed["signer_infos"])
    except _TOKEN_ERRORS as exc:
        report.error("timestamp_invalid", f"unreadable signature time-stamp: {exc}")
        return None
    if expected is None or not hmac.compare_digest(expected, imprint["hashed_message"].native):
        report.error("timestamp_invalid", "the time-stamp is not over this signature value")
        return None
    if len(signers) != 1:
        report.error("timestamp_invalid", "a time-stamp token has exactly one signer")
        return None
    if not is_gost_signed_data(signed):
        return _check_other_timestamp(report, token, gen_time, extra, tsa_trust)
    check = check_signer(
        signers[0],
        "tst_info",
        lambda bits: streebog.digest(bits, tst_bytes),
        certificates + tsa_trust.anchors + tsa_trust.intermediates,
    )
    if check.errors or check.certificate is None:
        code, message = check.errors[0] if check.errors else ("timestamp_invalid", "no TSA")
        report.error(
            "timestamp_invalid", f"the time-stamp token does not verify: {message} ({code})"
        )
        return None
    path = tsa_trust.validate(
        check.certificate, at=gen_time, usage="any", extra_certificates=certificates
    )
    if not path.trusted:
        reasons = "; ".join(f.message for f in path.failures)
        report.error("timestamp_untrusted", f"the time-stamp authority is not trusted: {reasons}")
        return None
    if not _time_stamping(check.certificate):
        report.error("timestamp_untrusted", "the TSA certificate lacks the timeStamping usage")
        return None
    report.timestamp = gen_time
    report.timestamp_authority = check.certificate.subject.rfc4514_string()
    return gen_time


def _check_other_timestamp(
    report: VerificationReport,
    token: cms.ContentInfo,
    gen_time: datetime.datetime,
    extra: Sequence[x509.Certificate],
    tsa_trust: TrustContext,
) -> datetime.datetime | None:
    """A token from a non-GOST TSA (e.g. esign's own, or any RFC 3161 service stamping
    the SHA-256 of a GOST signature): checked by esign's general CMS verifier."""
    from esign.signing.verify import verify as verify_cms

    checked = verify_cms(token.dump(), trust=tsa_trust, at=gen_time, certificates=extra)
    if not checked.valid:
        codes = {e.code for e in checked.errors}
        path_codes = {"no_path", "untrusted", "revoked", "expired", "wrong_usage"}
        code = "timestamp_untrusted" if codes & path_codes else "timestamp_invalid"
        reasons = "; ".join(e.message for e in checked.errors)
        report.error(code, f"the time-stamp does not hold: {reasons}")
        return None
    report.timestamp = gen_time
    report.timestamp_authority = checked.signer.subject if checked.signer else None
    return gen_time


def _time_stamping(certificate: x509.Certificate) -> bool:
    """RFC 3161 §2.3: a TSA certificate has exactly the timeStamping extended key usage."""
    try:
        usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return list(usage) == [ExtendedKeyUsageOID.TIME_STAMPING]


def verify(
    signature: bytes,
    data: bytes | BinaryIO | None = None,
    *,
    trust: TrustContext,
    at: datetime.datetime | None = None,
    certificates: Iterable[x509.Certificate] = (),
    trusted_lists: Iterable[TrustedList] = (),
    jurisdiction: str = "eidas",
    tsa_trust: TrustContext | None = None,
) -> VerificationReport:
    """Verify a GOST CMS signature (DER) over ``data`` or its encapsulated content.

    Raises :class:`MalformedInputError` only when the input is not a SignedData at all;
    everything else is a finding in the report.
    """
    try:
        info = cms.ContentInfo.load(signature, strict=True)
        if info["content_type"].native != "signed_data":
            raise MalformedInputError("not a CMS SignedData")
        signed = info["content"]
        content_type = signed["encap_content_info"]["content_type"].native
        signers = list(signed["signer_infos"])
        embedded = _embedded(signed)
        crls = _embedded_crls(signed)
        digest, mismatch = _content(signed, data)
    except EsignError:
        raise
    except PARSE_ERRORS as exc:
        raise MalformedInputError(f"malformed CMS SignedData: {exc}") from exc
    if not signers:
        raise MalformedInputError("the SignedData has no signer")
    if signed["version"].native not in ("v1", "v3", "v4", "v5"):
        raise MalformedInputError("a SignedData version is 1, 3, 4 or 5 (RFC 5652 §5.1)")
    listed = {a["algorithm"].dotted for a in signed["digest_algorithms"]}
    extra = [*embedded, *certificates]
    reports = []
    for signer in signers:
        if signer["digest_algorithm"]["algorithm"].dotted not in listed:
            report = VerificationReport()
            report.error(
                "bad_signature", "the signer's digest algorithm is not in digestAlgorithms"
            )
            reports.append(report.finish())
            continue
        try:
            report = _verify_signer(
                signer,
                content_type,
                digest,
                extra,
                crls,
                trust,
                at,
                list(trusted_lists),
                jurisdiction,
                tsa_trust or trust,
            )
        except PARSE_ERRORS as exc:
            report = VerificationReport()
            report.error("signature_unverifiable", f"malformed signer: {exc}")
        if mismatch:
            report.error("content_mismatch", "the given data differs from the signed content")
        reports.append(report.finish())
    first = reports[0]
    first.cosigners = reports[1:]
    for index, other in enumerate(first.cosigners, 2):
        if not other.valid:
            first.error("cosigner_invalid", f"signer {index} of this document is not valid")
    return first.finish()


def _verify_signer(
    signer: cms.SignerInfo,
    content_type: str,
    digest: Callable[[int], bytes],
    extra: list[x509.Certificate],
    crls: list[bytes],
    trust: TrustContext,
    at: datetime.datetime | None,
    trusted_lists: list[TrustedList],
    jurisdiction: str,
    tsa_trust: TrustContext,
) -> VerificationReport:
    report = VerificationReport()
    check = check_signer(
        signer,
        content_type,
        digest,
        extra + trust.anchors + trust.intermediates,
    )
    report.digest_algorithm = check.digest_algorithm
    report.signing_time = check.signing_time
    for code, message in check.warnings:
        report.warn(code, message)
    if check.certificate is not None:
        report.signer = SignerIdentity.from_certificate(check.certificate)
        report.signature_algorithm = describe_key(check.certificate)
    for code, message in check.errors:
        report.error(code, message)
    if check.errors or check.certificate is None:
        return report
    moment = at
    unsigned = signer["unsigned_attrs"]
    tokens = []
    if not isinstance(unsigned, core.Void):
        for attribute in unsigned:
            if attribute["type"].native == "signature_time_stamp_token":
                tokens.extend(attribute["values"])
            elif attribute["type"].native == "counter_signature":
                report.warn(
                    "countersignature_unchecked",
                    "a counter-signature on a GOST signature is not verified by esign",
                )
    if len(tokens) > 1:
        report.warn("several_timestamps", "more than one signature time-stamp: the first is used")
    if tokens:
        stamped = _check_timestamp(report, tokens[0], signer["signature"].native, extra, tsa_trust)
        if stamped is not None and moment is None:
            moment = stamped
    moment = moment or datetime.datetime.now(datetime.timezone.utc)
    report.validation_time = moment
    # The path is judged by the caller's TrustContext (GOST-aware through esign.gost.chain's
    # plug-ins): same revocation rules, domains and failure codes as any other signature.
    path = trust.validate(
        check.certificate, at=moment, usage="signing", extra_certificates=extra, crls=crls
    )
    for failure in path.failures:
        report.error(failure.code, failure.message)
    if path.revocation_reason is not None:
        report.revocation = f"revoked ({path.revocation_reason}) at {path.revoked_at}"
    if not path.trusted:
        return report
    report.chain = path.chain
    report.trust_domain = path.domain
    report.revocation = "not revoked" if [*trust.crls, *crls] else "not checked (no CRL given)"
    if not report.errors:
        report.valid = True
        decision = decide_level(path.chain, trusted_lists=trusted_lists, jurisdiction=jurisdiction)
        report.level = decision.level
        report.jurisdiction = decision.jurisdiction
        report.evidence = [*decision.found, f"signature algorithm {report.signature_algorithm}"]
        report.missing_evidence = decision.missing
        if trusted_lists and decision.level is not SignatureLevel.QUALIFIED:
            report.warn("not_qualified", decision.summary)
    return report


def _cert_der(certificate: x509.Certificate) -> bytes:
    return _der(certificate)
