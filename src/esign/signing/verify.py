"""Verify CMS SignedData into a :class:`VerificationReport`.

An ordinary signature that holds is decided by :mod:`esign.signing.fast_verify` from slices
of its DER; this module is the reference for everything. Integrity (message digest,
signature value, content type, CMS algorithm protection and the signing-certificate-v2
binding) is checked by :mod:`esign.signing.integrity`, or pyHanko's
``validate_sig_integrity`` for what it leaves (imported only then: it pulls in pyHanko's
PDF validation); the certificate path by the caller's :class:`TrustContext`; the level by
:mod:`esign.signing.levels`. Every failure becomes a named finding; nothing that fails is
ever reported valid.

Time: a valid RFC 3161 signature time-stamp proves the signature existed at its time, so
the path (expiry, revocation) is judged at that time. Without one, the signer's
``signing-time`` is only a claim and the path is judged at ``at`` (default: now): a
certificate revoked since makes the signature invalid.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from asn1crypto import cms, core, tsp
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID
from pyhanko.sign.general import (
    CMSStructuralError,
    MultivaluedAttributeError,
    NonexistentAttributeError,
    find_unique_cms_attribute,
)
from pyhanko.sign.validation.errors import CMSAlgorithmProtectionError, SignatureValidationError
from pyhanko_certvalidator.sig_validate import DefaultSignatureValidator, SignatureValidationContext

from esign.certs.revinfo import revocation_from_signed_data
from esign.certs.status import Status
from esign.certs.trust import PathResult, TrustContext, from_asn1, to_asn1
from esign.certs.trusted_list import JURISDICTIONS, TrustedList
from esign.errors import (
    EsignError,
    InputTooLargeError,
    MalformedInputError,
    UnsupportedAlgorithmError,
)
from esign.limits import MAX_ATTRIBUTES, MAX_CMS_BYTES
from esign.limits import MAX_COUNTERSIGNATURE_DEPTH as MAX_DEPTH
from esign.limits import MAX_COUNTERSIGNATURES as MAX_COUNTERSIGNATURES
from esign.policy import AlgorithmPolicy
from esign.signing import fast_verify, integrity
from esign.signing.container import PARSE_ERRORS, load_signed_data, unarmor
from esign.signing.indication import SubIndication
from esign.signing.levels import decide_level
from esign.signing.report import SignatureLevel, SignerIdentity, VerificationReport

CHUNK = 1 << 20
#: A certificate cryptography refuses to read deeper (a repeated extension) is malformed too.
_MALFORMED: tuple[type[Exception], ...] = (
    *PARSE_ERRORS,
    UnsupportedAlgorithm,
    x509.DuplicateExtension,
)

#: Errors from pyHanko/cryptography when a signature value cannot even be checked.
_CHECK_ERRORS = (ValueError, TypeError, NotImplementedError, KeyError)
#: What pyHanko's attribute lookups raise for an absent, repeated or unparsable attribute.
_ATTRIBUTE_ERRORS = (
    NonexistentAttributeError,
    MultivaluedAttributeError,
    ValueError,
    TypeError,
    KeyError,
)


def _hasher(name: str) -> hashlib._Hash:
    try:
        return hashlib.new(name.replace("_", "-") if name.startswith("sha3") else name)
    except ValueError as exc:
        raise MalformedInputError(f"unknown digest algorithm {name}") from exc


def _digests(names: set[str], data: bytes | BinaryIO) -> dict[str, bytes]:
    """Hash ``data`` once with every algorithm in ``names`` (one pass over a stream)."""
    hashers = {name: _hasher(name) for name in names}
    if isinstance(data, (bytes, bytearray, memoryview)):
        for h in hashers.values():
            h.update(data)
    else:
        while chunk := data.read(CHUNK):
            for h in hashers.values():
                h.update(chunk)
    return {name: h.digest() for name, h in hashers.items()}


def _find_signer_certificate(
    signer_info: cms.SignerInfo, candidates: list[x509.Certificate]
) -> x509.Certificate | None:
    sid = signer_info["sid"]
    if sid.name == "issuer_and_serial_number":
        serial = sid.chosen["serial_number"].native
        issuer = sid.chosen["issuer"]
        matches = [c for c in candidates if c.serial_number == serial]  # an int compare first
        raw = issuer.dump()
        for certificate in matches:  # the same DER name: no comparison rules needed
            if certificate.issuer.public_bytes() == raw:
                return certificate
        for certificate in matches:  # else RFC 5280 name comparison (case, spaces)
            if to_asn1(certificate).issuer == issuer:
                return certificate
        return None
    for certificate in candidates:
        if to_asn1(certificate).key_identifier == sid.chosen.native:
            return certificate
    return None


def _embedded_certificates(signed: cms.SignedData) -> list[x509.Certificate]:
    found: list[x509.Certificate] = []
    if isinstance(signed["certificates"], core.Void):
        return found
    for choice in signed["certificates"]:
        if choice.name == "certificate":
            try:
                found.append(from_asn1(choice.chosen))
            except (ValueError, x509.InvalidVersion):
                # Unusable here (e.g. DSA inheriting its parameters, which cryptography
                # cannot load): skipped; if it was needed, the signer or path is missing.
                continue
    return found


class _PathCache:
    """Validated paths per trust context, so many signatures from one signer are cheap.

    Paths judged at a fixed moment (``at`` or a time-stamp) are kept as they are. A path
    trusted "now" is reused while "now" stays before the earliest limit of its evidence:
    the certificates' notAfter, the nextUpdate of the revocation data, and any later
    revocation a CRL already announces; anything else is validated afresh.
    """

    def __init__(self) -> None:
        self._by_trust: weakref.WeakKeyDictionary[TrustContext, dict[tuple[bytes, ...], PathResult]]
        self._by_trust = weakref.WeakKeyDictionary()
        self._now: weakref.WeakKeyDictionary[
            TrustContext, dict[tuple[bytes, ...], tuple[PathResult, datetime.datetime]]
        ] = weakref.WeakKeyDictionary()

    def _now_validate(
        self,
        trust: TrustContext,
        certificate: x509.Certificate,
        usage: str,
        extras: list[x509.Certificate],
        fingerprints: tuple[bytes, ...],
    ) -> PathResult:
        if not isinstance(trust, TrustContext):
            return trust.validate(certificate, at=None, usage=usage, extra_certificates=extras)
        key = (fingerprints[0], usage.encode(), *fingerprints[1:])
        cache = self._now.setdefault(trust, {})
        now = datetime.datetime.now(datetime.timezone.utc)
        hit = cache.get(key)
        if hit is not None and hit[0].validated_at is not None:
            result, until = hit
            if result.validated_at <= now < until:  # type: ignore[operator]
                return result
        result = trust.validate(certificate, at=None, usage=usage, extra_certificates=extras)
        if result.trusted and result.validated_at is not None:
            limits = [c.not_valid_after_utc for c in result.chain]
            limits += [s.revoked_at for s in result.revocation if s.revoked_at is not None]
            evidence = trust.evidence_expires()
            if evidence is not None:
                limits.append(evidence)
            until = min(limits)
            if until > now:
                if len(cache) > 4096:
                    cache.clear()
                cache[key] = (result, until)
        return result

    def validate(
        self,
        trust: TrustContext,
        certificate: x509.Certificate,
        moment: datetime.datetime | None,
        usage: str,
        extras: list[x509.Certificate],
        fingerprints: tuple[bytes, ...] | None = None,
    ) -> PathResult:
        """The path of ``certificate`` at ``moment`` (None: now). ``fingerprints``: the
        SHA-256 fingerprints of ``certificate`` and then of ``extras`` sorted, when the
        caller already has them."""
        if fingerprints is None:
            fingerprints = (
                certificate.fingerprint(_SHA256),
                *sorted(c.fingerprint(_SHA256) for c in extras),
            )
        if moment is None:
            return self._now_validate(trust, certificate, usage, extras, fingerprints)
        key = (fingerprints[0], moment.isoformat().encode(), usage.encode(), *fingerprints[1:])
        cache = self._by_trust.setdefault(trust, {})
        if key not in cache:
            if len(cache) > 4096:
                cache.clear()
            cache[key] = trust.validate(
                certificate, at=moment, usage=usage, extra_certificates=extras
            )
        return cache[key]


_SHA256 = hashes.SHA256()
_PATHS = _PathCache()
_EARLIEST = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


@dataclass
class _Options:
    trust: TrustContext
    tsa_trust: TrustContext
    at: datetime.datetime | None
    extra: list[x509.Certificate]
    trusted_lists: Sequence[TrustedList]
    jurisdiction: str
    policy: AlgorithmPolicy
    digests: dict[str, bytes] | None = None


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
    digests: Mapping[str, bytes] | None = None,
) -> VerificationReport:
    """Verify a CMS signature (DER or PEM) over ``data`` or its encapsulated content.

    ``digests`` (digest name -> digest of the content) replaces ``data`` for callers that
    hashed the content themselves while streaming it (the envelope layer does).

    ``data`` is required for a detached signature; for an attached one it is optional and,
    when given, must equal the encapsulated content. ``certificates`` helps find the signer
    and build the path when the signature does not carry them. The path is validated at
    ``at``; without ``at``, at the time of a valid signature time-stamp, else now.

    Every signer is verified: the report describes the first and lists the others as
    ``cosigners``; it is valid only if all are. Counter-signatures are verified too.
    ``trusted_lists`` and ``jurisdiction`` (``"eidas"`` or ``"ru"``) decide QUALIFIED;
    ``tsa_trust`` is the trust domain for time-stamp authorities (default: ``trust``).
    Raises :class:`MalformedInputError` only for input that is not a signature at all;
    every other problem is an error inside the returned report.
    """
    if jurisdiction not in JURISDICTIONS:
        raise ValueError(
            f"unknown jurisdiction {jurisdiction!r}; known: {', '.join(JURISDICTIONS)}"
        )
    if digests is not None and data is not None:  # before parsing: no input can excuse it
        raise ValueError("give the content digests or the content, not both")
    if len(signature) > MAX_CMS_BYTES and data is None and digests is None:
        # an attached signature larger than the in-memory budget: read it as a stream
        from esign.signing.streaming import verify_stream

        return verify_stream(
            io.BytesIO(signature),
            trust=trust,
            at=at,
            certificates=certificates,
            trusted_lists=trusted_lists,
            jurisdiction=jurisdiction,
            tsa_trust=tsa_trust,
        )
    certificates = list(certificates)
    trusted_lists = list(trusted_lists)
    if (
        digests is None
        and data is not None
        and not isinstance(data, (bytes, bytearray, memoryview))
    ):
        # a document as a stream: hashed once here if the signature is an ordinary
        # detached one (then both paths below take the digest), else read below
        computed = fast_verify.stream_digests(signature, data, trust)
        if computed is not None:
            data, digests = None, computed
    if data is None or isinstance(data, (bytes, bytearray, memoryview)):
        # an ordinary signature that holds: decided from slices of its DER (fast_verify);
        # anything else is decided below, from scratch
        quick = fast_verify.verify(
            signature, data, trust=trust, at=at, certificates=certificates,
            trusted_lists=trusted_lists, jurisdiction=jurisdiction, digests=digests,
        )  # fmt: skip
        if quick is not None:
            return quick
    load_signed_data(signature)  # every field checked once, at the door ...
    # ... then verified on an unwalked copy: asn1crypto re-encodes structures whose
    # algorithm identifiers were read, which is slow and would hide non-DER encodings.
    signed: cms.SignedData = cms.ContentInfo.load(unarmor(signature))["content"]
    from esign.gost.cms import is_gost_signed_data

    if is_gost_signed_data(signed):  # GOST R 34.10-2012 + Streebog: esign.gost.verify
        if digests is not None:
            raise UnsupportedAlgorithmError(
                "GOST signatures are verified from the content, not digests"
            )
        from esign.gost.verify import verify as verify_gost

        return verify_gost(
            unarmor(signature),
            data,
            trust=trust,
            at=at,
            certificates=certificates,
            trusted_lists=trusted_lists,
            jurisdiction=jurisdiction,
            tsa_trust=tsa_trust,
        )
    options = _Options(
        trust=trust,
        tsa_trust=tsa_trust or trust,
        at=at,
        extra=list(certificates),
        trusted_lists=list(trusted_lists),
        jurisdiction=jurisdiction,
        policy=getattr(trust, "algorithm_policy", None)
        or AlgorithmPolicy(legacy=trust.legacy_algorithms),
        digests=dict(digests) if digests is not None else None,
    )
    try:
        return _verify(signed, data, options)
    except EsignError:
        raise
    except _MALFORMED as exc:
        raise MalformedInputError(f"malformed CMS SignedData: {exc}") from exc


_WITH_REVINFO: weakref.WeakKeyDictionary[TrustContext, dict[frozenset[bytes], TrustContext]]
_WITH_REVINFO = weakref.WeakKeyDictionary()


def _with_embedded_revinfo(trust: TrustContext, signed: cms.SignedData) -> TrustContext:
    """``trust`` plus the CRLs and OCSP responses a B-LT signature carries (cached per
    set). Embedded data is evidence the revocation engine weighs like any other (a CRL
    counts only if its issuer is proven), so it can add revocation evidence, never trust.
    """
    if not isinstance(trust, TrustContext):
        return trust  # several trust domains: each keeps its own evidence
    embedded = revocation_from_signed_data(signed)
    crls = frozenset(c.dump() for c in embedded.crls) - frozenset(trust.crls)
    ocsps = frozenset(o.dump() for o in embedded.ocsps)
    if not crls and not ocsps:
        return trust
    key = crls | ocsps
    cache = _WITH_REVINFO.setdefault(trust, {})
    if key not in cache:
        if len(cache) > 256:
            cache.clear()
        cache[key] = trust.derive(
            crls=[*trust.crls, *sorted(crls)], ocsps=[*trust.ocsps, *sorted(ocsps)]
        )
    return cache[key]


def _some_signature_holds(
    signed: cms.SignedData,
    candidates: list[x509.Certificate],
    content_type: str,
    digests: Mapping[str, bytes],
) -> bool:
    """Whether any signer's signature verifies over its content (nothing else judged)."""
    for signer_info in signed["signer_infos"]:
        certificate = _find_signer_certificate(signer_info, candidates)
        digest = digests.get(signer_info["digest_algorithm"]["algorithm"].native)
        if certificate is None or digest is None:
            continue
        try:
            quick = integrity.check(
                signer_info, certificate, cms.ContentType(content_type).dotted, digest
            )
        except _CHECK_ERRORS:
            quick = None
        if quick is not None:
            if quick.problem is None and quick.intact and quick.valid:
                return True
            continue
        from pyhanko.sign.validation.generic_cms import validate_sig_integrity

        try:
            intact, valid = validate_sig_integrity(
                signer_info, to_asn1(certificate), content_type, digest
            )
        except (SignatureValidationError, *_CHECK_ERRORS):
            continue
        if intact and valid:
            return True
    return False


def _check_announced(signed: cms.SignedData, names: set[str]) -> None:
    """digestAlgorithms is not signed, so it must say exactly what RFC 5652 §5.1 asks: every
    signer's digest algorithm, each with absent or NULL parameters. A verifier that let it
    vary would call a changed file the signer's (a signature is refused for any byte that
    differs from what its signers made)."""
    announced = set()
    for algorithm in signed["digest_algorithms"]:
        if algorithm["parameters"].native is not None:
            raise MalformedInputError(
                "a digestAlgorithms entry carries parameters (RFC 5754: absent or NULL): "
                "the signature was altered or badly made"
            )
        announced.add(algorithm["algorithm"].native)
    missing = names - announced
    if missing:
        raise MalformedInputError(
            f"the signers' digest algorithm {', '.join(sorted(missing))} is not announced in "
            "digestAlgorithms (RFC 5652 §5.1): the signature was altered or badly made"
        )


def _verify(
    signed: cms.SignedData, data: bytes | BinaryIO | None, options: _Options
) -> VerificationReport:
    encap = signed["encap_content_info"]
    content_type = encap["content_type"].native
    attached = encap["content"].native if encap["content"].native is not None else None
    if attached is not None and not isinstance(attached, bytes):
        if not isinstance(encap["content"], core.ParsableOctetString):
            raise MalformedInputError("the encapsulated content is not an OCTET STRING")
        attached = encap["content"].contents
    names = {si["digest_algorithm"]["algorithm"].native for si in signed["signer_infos"]}
    _check_announced(signed, names)
    # Hashed unless refused at any time (MD5): a time-stamp may yet prove an older moment.
    usable = {n for n in names if options.policy.digest_refusal(n, _EARLIEST) is None}
    mismatch = False
    if options.digests is not None:
        if attached is not None:  # the signature's content: an input fault
            raise MalformedInputError("the signature carries its content: give no content digests")
        digests = options.digests
    elif attached is None and data is None:
        raise MalformedInputError("detached signature: the signed data must be given")
    elif attached is not None:
        digests = _digests(usable, attached)
        if data is not None and usable:
            mismatch = _digests(usable, data) != digests
    else:
        assert data is not None
        digests = _digests(usable, data)

    embedded = _embedded_certificates(signed)
    # Embedded CRLs and OCSP responses are parsed and indexed only for a signature that
    # holds: a forged signature carrying a huge CRL costs one signature check, not the CRL.
    if _some_signature_holds(signed, embedded + options.extra, content_type, digests):
        tsa_separate = options.tsa_trust is not options.trust
        options.trust = _with_embedded_revinfo(options.trust, signed)
        options.tsa_trust = (
            _with_embedded_revinfo(options.tsa_trust, signed) if tsa_separate else options.trust
        )
    reports = []
    for signer_info in signed["signer_infos"]:
        report = _verify_signer(signer_info, content_type, digests, embedded, options)
        if mismatch:
            report.error("content_mismatch", "the given data differs from the signed content")
        reports.append(report.finish())
    first = reports[0]
    first.cosigners = reports[1:]
    for index, other in enumerate(first.cosigners, 2):
        if not other.valid:
            first.error(
                "cosigner_invalid",
                f"signer {index} of this document is not valid ({other.indication}"
                + (f" / {other.subindication})" if other.subindication else ")"),
                other.subindication,
            )
    return first.finish()


def _crypto_sub(options: _Options, poe: datetime.datetime | None) -> SubIndication:
    """An algorithm refused at the judged moment: with no proof of an earlier existence,
    the signature might have been made while it was still acceptable (NO_POE)."""
    if poe is None and not options.policy.legacy:
        return SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE
    return SubIndication.CRYPTO_CONSTRAINTS_FAILURE


def _judge_algorithms(
    report: VerificationReport,
    signer_info: cms.SignerInfo,
    key: object,
    options: _Options,
    moment: datetime.datetime,
    poe: datetime.datetime | None,
) -> bool:
    """The one algorithm policy on a SignerInfo: its digest, the hash inside its
    signature algorithm (and RSA-PSS parameters) and its key, at ``moment``."""
    digest_name = signer_info["digest_algorithm"]["algorithm"].native
    refusals = [
        options.policy.digest_refusal(digest_name, moment),
        options.policy.signature_refusal(signer_info["signature_algorithm"], moment),
        options.policy.key_refusal(key, moment),
    ]
    for refusal in dict.fromkeys(r for r in refusals if r):
        report.error("weak_algorithm", refusal, _crypto_sub(options, poe))
    return not any(refusals)


def _verify_signer(
    signer_info: cms.SignerInfo,
    content_type: str,
    digests: dict[str, bytes],
    embedded: list[x509.Certificate],
    options: _Options,
) -> VerificationReport:
    report = VerificationReport()
    digest_name = signer_info["digest_algorithm"]["algorithm"].native
    report.digest_algorithm = digest_name
    report.signature_algorithm = signer_info["signature_algorithm"]["algorithm"].native

    candidates = embedded + options.extra
    # The signer may also be one the verifier already holds (an anchor, as for the
    # self-signed RFC 9881 example certificates, or a known intermediate).
    certificate = _find_signer_certificate(
        signer_info, candidates + options.trust.anchors + options.trust.intermediates
    )
    if certificate is None:
        report.error(
            "signer_certificate_missing",
            "the signer's certificate is neither in the signature nor given",
        )
        return report
    report.signer = SignerIdentity.from_certificate(certificate)
    try:
        key = certificate.public_key()
    except (UnsupportedAlgorithm, ValueError) as exc:
        report.error("unsupported_algorithm", f"the signer's public key is unusable: {exc}")
        return report

    signed_attrs = signer_info["signed_attrs"]
    if isinstance(signed_attrs, core.Void):
        report.warn(
            "no_signed_attributes",
            "no signed attributes: no signing time, no signing-certificate binding",
        )
    else:
        try:
            report.signing_time = find_unique_cms_attribute(signed_attrs, "signing_time").native
        except _ATTRIBUTE_ERRORS:
            report.warn("no_signing_time", "the signer did not state a signing time")
        names = {attr["type"].native for attr in signed_attrs}
        if "signing_certificate_v2" not in names and "signing_certificate" not in names:
            report.warn(
                "no_signing_certificate_attribute",
                "no ESS signing-certificate(-v2) attribute binds the signer certificate",
            )

    signature_value: bytes = signer_info["signature"].native
    unsigned = signer_info["unsigned_attrs"]
    tokens = []
    counters = []
    if not isinstance(unsigned, core.Void):
        for attribute in unsigned:
            kind = attribute["type"].native
            if kind == "signature_time_stamp_token":
                tokens.extend(attribute["values"])
            elif kind == "counter_signature":
                counters.extend(attribute["values"])
    _check_countersignature_budget(counters)
    if len(tokens) > 1:
        report.warn("several_timestamps", "more than one signature time-stamp: the first is used")
    # A valid time-stamp proves the signature existed at its time (proof of existence):
    # algorithms and the path are then judged at that time.
    poe = (
        _check_timestamp(report, tokens[0], signature_value, candidates, options)
        if tokens
        else None
    )
    moment = options.at if options.at is not None else poe
    judged_at = moment or datetime.datetime.now(datetime.timezone.utc)
    # Algorithms are judged when the signature is proven to have existed (ETSI EN 319
    # 102-1 §5.6.2.5): a 2010 time-stamp keeps a SHA-1 signature acceptable at a later `at`.
    crypto_at = min(judged_at, poe) if poe is not None else judged_at

    if not _judge_algorithms(report, signer_info, key, options, crypto_at, poe):
        return report
    if digest_name not in digests:
        report.error("bad_signature", "the signer's digest algorithm is not in digestAlgorithms")
        return report
    _check_integrity(report, signer_info, certificate, content_type, digests[digest_name])

    path = _validate_path(
        report, options.trust, certificate, moment, "signing", embedded + options.extra
    )
    _classify_path(report, path, certificate, poe)

    for counter in counters:
        sub = _verify_countersignature(counter, signature_value, candidates, moment, options, 1)
        report.countersignatures.append(sub)
        if not sub.valid:
            report.warn("countersignature_invalid", "a counter-signature does not verify")

    if not report.errors:
        report.valid = True
        # A trusted-list service counts at the signing time: the proven one, else the
        # verification time.
        decision = decide_level(
            path.chain,
            trusted_lists=options.trusted_lists,
            jurisdiction=options.jurisdiction,
            at=poe or judged_at,
        )
        report.level = decision.level
        report.jurisdiction = decision.jurisdiction
        report.evidence = decision.found
        report.missing_evidence = decision.missing
        if options.trusted_lists and decision.level is not SignatureLevel.QUALIFIED:
            report.warn("not_qualified", decision.summary)
    return report


def _classify_path(
    report: VerificationReport,
    path: PathResult,
    certificate: x509.Certificate,
    poe: datetime.datetime | None,
) -> None:
    """Sharpen the sub-indications of path failures with what the signature proves:
    the signer's own claimed signing time after a revocation or expiry is a TOTAL-FAILED,
    a revoked CA an INDETERMINATE of its own."""
    claimed = report.signing_time
    revoked = [s for s in path.revocation if s.status is Status.REVOKED]
    findings = []
    for finding in report.errors:
        sub = finding.subindication
        if finding.code == "revoked":
            status = revoked[0] if revoked else None
            if status is not None and status.is_ca:
                sub = SubIndication.REVOKED_CA_NO_POE
            elif (
                status is not None
                and status.revoked_at is not None
                and (
                    (claimed is not None and claimed > status.revoked_at)
                    or (poe is not None and poe > status.revoked_at and claimed is None)
                )
            ):
                sub = SubIndication.REVOKED
        elif finding.code == "expired":
            after = claimed is not None and claimed > certificate.not_valid_after_utc
            sub = SubIndication.EXPIRED if after else SubIndication.OUT_OF_BOUNDS_NO_POE
        elif finding.code == "not_yet_valid":
            sub = SubIndication.NOT_YET_VALID
        findings.append(type(finding)(finding.code, finding.message, sub))
    report.errors = findings


def _validate_path(
    report: VerificationReport,
    trust: TrustContext,
    certificate: x509.Certificate,
    moment: datetime.datetime | None,
    usage: str,
    extras: list[x509.Certificate],
) -> PathResult:
    """Validate the path (revocation included: the trust context's engine decides it) at
    ``moment`` (None: now); the verdict goes into ``report`` as it is."""
    path = _PATHS.validate(trust, certificate, moment, usage, extras)
    _report_path(report, path, moment)
    return path


def _report_path(
    report: VerificationReport, path: PathResult, moment: datetime.datetime | None
) -> None:
    """Put the verdict of ``path``, validated at ``moment``, into ``report``."""
    report.validation_time = path.validated_at or moment
    report.trust_domain = path.domain
    report.chain = path.chain
    for failure in path.failures:
        # a certificate's own signature failing is a chain failure, not the signature's
        sub = (
            SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE
            if failure.code == "bad_signature"
            else None
        )
        report.error(failure.code, failure.message, sub)
    if not path.revocation_checked:
        report.revocation = "not checked (the verifier opted out)"
        report.warn(
            "revocation_not_checked",
            "revocation was not checked: the verifier opted out explicitly",
        )
    elif path.revocation_reason is not None:
        report.revocation = f"revoked ({path.revocation_reason}) at {path.revoked_at}"
    elif path.revocation:
        report.revocation = "; ".join(
            f"{s.subject}: {s.status.value}"
            + (f" ({s.source})" if s.source else "")
            + (f", revoked later at {s.revoked_at.isoformat()}" if s.revoked_at else "")
            for s in path.revocation
        )
        later = [s for s in path.revocation if s.status is Status.GOOD and s.revoked_at]
        for status in later:
            assert status.revoked_at is not None
            report.warn(
                "revoked_after_signing",
                f"{status.subject} was revoked at {status.revoked_at.isoformat()} "
                f"({status.reason}), after the time judged: the signature stands",
            )


def _check_integrity(
    report: VerificationReport,
    signer_info: cms.SignerInfo,
    certificate: x509.Certificate,
    content_type: str,
    actual: bytes,
) -> None:
    try:
        quick = integrity.check(
            signer_info, certificate, cms.ContentType(content_type).dotted, actual
        )
    except _CHECK_ERRORS:
        quick = None  # the reference check below names the fault
    if quick is not None and quick.problem is not None:
        report.error("signed_attributes_invalid", quick.problem)
        return
    try:
        if quick is not None:
            intact, valid = quick.intact, quick.valid
        else:  # a case the direct check leaves to pyHanko's reference
            from pyhanko.sign.validation.generic_cms import validate_sig_integrity

            intact, valid = validate_sig_integrity(
                signer_info, to_asn1(certificate), content_type, actual
            )
    except SignatureValidationError as exc:
        report.error("signed_attributes_invalid", exc.failure_message)
        return
    except _CHECK_ERRORS as exc:
        report.error("signature_unverifiable", f"cannot check the signature: {exc}")
        return
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


def _check_timestamp(
    report: VerificationReport,
    token: cms.ContentInfo,
    signature_value: bytes,
    candidates: list[x509.Certificate],
    options: _Options,
) -> datetime.datetime | None:
    """Check an RFC 3161 signature time-stamp; its time when it is valid, else None."""
    if token["content_type"].native != "signed_data":
        report.error("timestamp_invalid", "the time-stamp token is not a SignedData")
        return None
    tst_signed: cms.SignedData = token["content"]
    encap = tst_signed["encap_content_info"]
    if encap["content_type"].native != "tst_info" or len(tst_signed["signer_infos"]) != 1:
        report.error("timestamp_invalid", "the time-stamp token does not hold one TSTInfo signer")
        return None
    raw = encap["content"].contents
    info = tsp.TSTInfo.load(raw, strict=True)
    gen_time: datetime.datetime = info["gen_time"].native
    imprint = info["message_imprint"]
    algorithm = imprint["hash_algorithm"]["algorithm"].native
    if options.policy.digest_refusal(algorithm, options.at):
        report.error("timestamp_invalid", f"time-stamp imprint uses refused digest {algorithm}")
        return None
    if _digests({algorithm}, signature_value)[algorithm] != imprint["hashed_message"].native:
        report.error("timestamp_invalid", "the time-stamp is not over this signature value")
        return None
    tsa_info = tsa_signer = tst_signed["signer_infos"][0]
    tsa_certs = _embedded_certificates(tst_signed) + candidates
    tsa_cert = _find_signer_certificate(tsa_signer, tsa_certs)
    if tsa_cert is None:
        report.error("timestamp_invalid", "the time-stamp authority's certificate is missing")
        return None
    tsa_name = tsa_cert.subject.rfc4514_string()
    tst_digest = tsa_info["digest_algorithm"]["algorithm"].native
    # The token itself is judged now (or at the caller's moment): nothing older proves it.
    refusal = options.policy.digest_refusal(
        tst_digest, options.at
    ) or options.policy.signature_refusal(tsa_info["signature_algorithm"], options.at)
    if refusal:
        report.error(
            "timestamp_invalid", f"time-stamp by {tsa_cert.subject.rfc4514_string()}: {refusal}"
        )
        return None
    sub = VerificationReport()
    _check_integrity(sub, tsa_info, tsa_cert, "tst_info", _digests({tst_digest}, raw)[tst_digest])
    for finding in sub.errors:
        report.error("timestamp_invalid", f"time-stamp by {tsa_name}: {finding.message}")
    try:
        eku = tsa_cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        is_tsa = ExtendedKeyUsageOID.TIME_STAMPING in eku
    except x509.ExtensionNotFound:
        is_tsa = False
    if not is_tsa:
        report.error("timestamp_untrusted", f"{tsa_name} is not a time-stamping certificate")
    tsa_report = VerificationReport()
    tsa_path = _validate_path(tsa_report, options.tsa_trust, tsa_cert, gen_time, "any", tsa_certs)
    for finding in tsa_report.errors:
        report.error("timestamp_untrusted", f"time-stamp authority {tsa_name}: {finding.message}")
    compromise = (
        options.tsa_trust.compromise(tsa_path.chain)
        if isinstance(options.tsa_trust, TrustContext) and tsa_path.chain
        else None
    )
    if compromise is not None:
        assert compromise.revoked_at is not None
        report.error(
            "timestamp_untrusted",
            f"time-stamp authority {tsa_name} was revoked ({compromise.reason}) at "
            f"{compromise.revoked_at.isoformat()}: a compromised key can date a token "
            "at any time, so the token proves nothing",
        )
    if sub.errors or not is_tsa or tsa_report.errors or compromise is not None:
        return None
    report.timestamp = gen_time
    report.timestamp_authority = tsa_name
    return gen_time


def _check_countersignature_budget(counters: list[cms.SignerInfo]) -> None:
    """Count the whole tree of counter-signatures before checking any of them.

    Each costs a signature check and a path validation, and every level can fan out, so
    the budget is on the total and on the depth (:mod:`esign.limits`), not per level.
    """
    total = 0
    level = list(counters)
    for depth in range(1, MAX_DEPTH + 2):
        if not level:
            return
        if depth > MAX_DEPTH:
            raise InputTooLargeError(
                f"counter-signatures nested deeper than {MAX_DEPTH} levels "
                "(esign.limits.MAX_COUNTERSIGNATURE_DEPTH)"
            )
        total += len(level)
        if total > MAX_COUNTERSIGNATURES:
            raise InputTooLargeError(
                f"more than {MAX_COUNTERSIGNATURES} counter-signatures in all "
                "(esign.limits.MAX_COUNTERSIGNATURES)"
            )
        below: list[cms.SignerInfo] = []
        for counter in level:
            unsigned = counter["unsigned_attrs"]
            if isinstance(unsigned, core.Void):
                continue
            if len(unsigned) > MAX_ATTRIBUTES:
                raise InputTooLargeError(
                    f"a counter-signature has more than {MAX_ATTRIBUTES} unsigned attributes"
                )
            for attribute in unsigned:
                if attribute["type"].native == "counter_signature":
                    below.extend(attribute["values"])
                    if total + len(below) > MAX_COUNTERSIGNATURES:
                        raise InputTooLargeError(
                            f"more than {MAX_COUNTERSIGNATURES} counter-signatures in all "
                            "(esign.limits.MAX_COUNTERSIGNATURES)"
                        )
        level = below


def _verify_countersignature(
    counter: cms.SignerInfo,
    parent_signature: bytes,
    candidates: list[x509.Certificate],
    moment: datetime.datetime | None,
    options: _Options,
    depth: int,
) -> VerificationReport:
    """Verify a counter-signature (RFC 5652 §11.4) over its parent's signature value."""
    report = VerificationReport()
    digest_name = counter["digest_algorithm"]["algorithm"].native
    report.digest_algorithm = digest_name
    report.signature_algorithm = counter["signature_algorithm"]["algorithm"].native
    certificate = _find_signer_certificate(counter, candidates)
    if certificate is None:
        report.error("signer_certificate_missing", "the counter-signer's certificate is missing")
        return report.finish()
    report.signer = SignerIdentity.from_certificate(certificate)
    judged_at = moment or datetime.datetime.now(datetime.timezone.utc)
    try:
        key = certificate.public_key()
    except (UnsupportedAlgorithm, ValueError) as exc:
        report.error("unsupported_algorithm", f"the counter-signer's key is unusable: {exc}")
        return report.finish()
    if not _judge_algorithms(report, counter, key, options, judged_at, moment):
        return report.finish()
    attrs = counter["signed_attrs"]
    if isinstance(attrs, core.Void):
        report.error("signed_attributes_invalid", "a counter-signature needs signed attributes")
        return report.finish()
    names = [a["type"].native for a in attrs]
    if "content_type" in names:
        report.error("signed_attributes_invalid", "a counter-signature has no content-type")
    try:
        report.signing_time = find_unique_cms_attribute(attrs, "signing_time").native
    except _ATTRIBUTE_ERRORS:
        report.warn("no_signing_time", "the counter-signer did not state a signing time")
    from pyhanko.sign.validation.generic_cms import validate_algorithm_protection

    try:
        embedded = find_unique_cms_attribute(attrs, "message_digest").native
        validate_algorithm_protection(
            attrs.untag(),
            claimed_digest_algorithm_obj=counter["digest_algorithm"],
            claimed_signature_algorithm_obj=counter["signature_algorithm"],
            claimed_mac_algorithm_obj=None,
        )
    except (*_ATTRIBUTE_ERRORS, CMSStructuralError, CMSAlgorithmProtectionError) as exc:
        report.error("signed_attributes_invalid", f"counter-signature attributes: {exc}")
        return report.finish()
    report.content_intact = embedded == _digests({digest_name}, parent_signature)[digest_name]
    if not report.content_intact:
        report.error("content_modified", "the counter-signature is not over this signature")
    try:
        DefaultSignatureValidator().validate_signature(
            counter["signature"].native,
            attrs.untag().dump(),
            to_asn1(certificate).public_key,
            counter["signature_algorithm"],
            context=SignatureValidationContext(contextual_md_algorithm=digest_name),
        )
        report.signature_intact = True
    except _CHECK_ERRORS as exc:
        report.error("signature_unverifiable", f"cannot check the counter-signature: {exc}")
    except InvalidSignature:
        report.signature_intact = False
        report.error("bad_signature", "the counter-signature value does not verify")
    _validate_path(report, options.trust, certificate, moment, "signing", candidates)
    unsigned = counter["unsigned_attrs"]
    if not isinstance(unsigned, core.Void) and depth < MAX_DEPTH:
        for attribute in unsigned:
            if attribute["type"].native == "counter_signature":
                for nested in attribute["values"]:
                    report.countersignatures.append(
                        _verify_countersignature(
                            nested,
                            counter["signature"].native,
                            candidates,
                            moment,
                            options,
                            depth + 1,
                        )
                    )
    if not report.errors:
        report.valid = True
        report.level = SignatureLevel.ADVANCED
    return report.finish()
