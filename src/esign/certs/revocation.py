"""Revocation, the CA's side: build CRLs (complete and delta) and OCSP responses; and
read the answer to one's own OCSP request (:func:`read_ocsp_response`: signer, nonce).

Building leans on ``cryptography``'s CertificateRevocationListBuilder and
OCSPResponseBuilder. Judging anyone's CRLs and OCSP responses for a path — signature,
signer authorisation, scope, freshness — is the revocation engine's job
(:mod:`esign.certs.status`), fed by :mod:`esign.certs.revinfo`.
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import Callable
from dataclasses import dataclass, replace

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from esign._repr import readable_repr
from esign.certs.handle_signing import rehearse_ocsp, sign_crl, sign_ocsp
from esign.certs.registry import IssuedRecord
from esign.diagnose import explain
from esign.errors import OcspSigningError, RevocationError
from esign.keys.algorithms import PrivateKey
from esign.keys.handle import KeyHandle
from esign.policy import AlgorithmPolicy

DEFAULT_POLICY = AlgorithmPolicy()

MAX_REVOCATION_INPUT = 64 << 20


class CertStatus(str, enum.Enum):
    """The three OCSP answers (RFC 6960 §2.2)."""

    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class StatusInfo:
    """The status of one certificate, from a CRL or an OCSP response."""

    __repr__ = readable_repr

    status: CertStatus
    serial: int
    revoked_at: datetime.datetime | None = None
    reason: x509.ReasonFlags | None = None
    this_update: datetime.datetime | None = None
    next_update: datetime.datetime | None = None


# -- CRLs -------------------------------------------------------------------------------------


def build_crl(
    *,
    issuer: x509.Certificate,
    key: PrivateKey | KeyHandle,
    entries: list[IssuedRecord],
    number: int,
    this_update: datetime.datetime,
    next_update: datetime.datetime,
    delta_base: int | None = None,
    freshest_crl_url: str | None = None,
    hash_algorithm: hashes.HashAlgorithm | None,
) -> x509.CertificateRevocationList:
    """A CRL v2 with CRL number, AKI, reason codes; a delta CRL when ``delta_base`` is set."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(this_update)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(_aki(issuer), critical=False)
    )
    if delta_base is not None:
        builder = builder.add_extension(x509.DeltaCRLIndicator(delta_base), critical=True)
    elif freshest_crl_url:
        builder = builder.add_extension(
            x509.FreshestCRL(
                [
                    x509.DistributionPoint(
                        [x509.UniformResourceIdentifier(freshest_crl_url)], None, None, None
                    )
                ]
            ),
            critical=False,
        )
    for entry in entries:
        assert entry.revoked_at is not None
        revoked = (
            x509.RevokedCertificateBuilder()
            .serial_number(entry.serial)
            .revocation_date(entry.revoked_at)
        )
        if entry.reason is not None and entry.reason != x509.ReasonFlags.unspecified:
            revoked = revoked.add_extension(x509.CRLReason(entry.reason), critical=False)
        if entry.invalidity_date is not None:
            revoked = revoked.add_extension(
                x509.InvalidityDate(entry.invalidity_date.replace(tzinfo=None)), critical=False
            )
        builder = builder.add_revoked_certificate(revoked.build())
    return sign_crl(builder, key, hash_algorithm)


def _aki(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    try:
        ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key())  # type: ignore[arg-type]


def _check_policy(
    what: str,
    digest: hashes.HashAlgorithm | None,
    key: object,
    policy: AlgorithmPolicy,
    at: datetime.datetime | None = None,
) -> None:
    """Refuse a signature the algorithm policy refuses (SHA-1, MD5, short RSA, DSA)."""
    name = None if digest is None else digest.name.replace("-", "")
    refusal = (policy.digest_refusal(name, at) if name else None) or policy.key_refusal(key, at)
    if refusal:
        raise RevocationError(f"the {what} is signed with a refused algorithm: {refusal}")


# -- OCSP -------------------------------------------------------------------------------------


def load_ocsp_request(data: bytes) -> ocsp.OCSPRequest:
    if len(data) > MAX_REVOCATION_INPUT:
        raise RevocationError("OCSP request too large")
    try:
        request = ocsp.load_der_ocsp_request(data)
        request.hash_algorithm  # noqa: B018 - an unknown certID hash is refused here
    except NotImplementedError as exc:
        # cryptography reads one Request per OCSPRequest, the RFC 5019 §2.1.1 profile.
        raise RevocationError(
            "the OCSP request asks about more than one certificate; this responder answers "
            "one per request (RFC 5019): send one request per certificate"
        ) from exc
    except UnsupportedAlgorithm as exc:
        raise RevocationError(f"OCSP request with an unsupported certID hash: {exc}") from exc
    except ValueError as exc:
        raise RevocationError(explain(data, "OCSP request", exc, der_only=True)) from exc
    return request


def _issuer_hashes(
    issuer: x509.Certificate, algorithm: hashes.HashAlgorithm
) -> tuple[bytes, bytes]:
    name = hashes.Hash(algorithm)
    name.update(issuer.subject.public_bytes())
    spki = issuer.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    # issuerKeyHash is over the subjectPublicKey BIT STRING value (RFC 6960 §4.1.1).
    from asn1crypto import keys

    key_bits = keys.PublicKeyInfo.load(spki)["public_key"].contents[1:]
    key = hashes.Hash(algorithm)
    key.update(key_bits)
    return name.finalize(), key.finalize()


def build_ocsp_response(
    request_der: bytes,
    *,
    issuer: x509.Certificate,
    lookup: Callable[[int], IssuedRecord | None],
    responder_key: PrivateKey | KeyHandle,
    responder_certificate: x509.Certificate,
    now: datetime.datetime,
    validity: datetime.timedelta,
    hash_algorithm: hashes.HashAlgorithm | None,
) -> bytes:
    """Answer one OCSP request: good, revoked or unknown, signed by the CA or its delegate.

    An unreadable request gets the unsuccessful ``malformedRequest`` answer (RFC 6960
    §2.3), and so does a request about several certificates: this responder follows the
    RFC 5019 profile (one certificate per request), which clients fall back to; a
    certificate this CA never issued is ``unknown``; a request nonce is echoed. If the
    responder's key fails to sign (a token or vault that failed), that is no fault of the
    request: :class:`~esign.errors.OcspSigningError` is raised, and the HTTP responder
    answers ``internalError``.
    """
    try:
        request = load_ocsp_request(request_der)
    except RevocationError:
        return unsuccessful_ocsp(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    cert_hash = request.hash_algorithm
    name_hash, key_hash = _issuer_hashes(issuer, cert_hash)
    record = None
    if request.issuer_name_hash == name_hash and request.issuer_key_hash == key_hash:
        record = lookup(request.serial_number)
        if record is not None and record.revoked_at is not None and record.revoked_at > now:
            record = replace(record, revoked_at=None, reason=None)  # not yet revoked
    status = (
        ocsp.OCSPCertStatus.UNKNOWN
        if record is None
        else ocsp.OCSPCertStatus.REVOKED
        if record.revoked
        else ocsp.OCSPCertStatus.GOOD
    )
    try:
        builder = _answer(request, record, status, cert_hash, responder_certificate, issuer, now,
                          validity)  # fmt: skip
        rehearse_ocsp(builder)  # what only signing checks, with a key that cannot fail
    except (ValueError, TypeError, x509.DuplicateExtension):
        # Fields no answer can echo (a negative serial, hashes of the wrong length, a
        # repeated nonce): the request was malformed after all (RFC 6960 §2.3).
        return unsuccessful_ocsp(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    try:
        response = sign_ocsp(builder, responder_key, hash_algorithm, responder_certificate)
    except Exception as exc:  # whatever the key handle raised: the responder's fault
        raise OcspSigningError(
            f"the OCSP responder could not sign its answer: {type(exc).__name__}: {exc}"
        ) from exc
    return response.public_bytes(Encoding.DER)


def unsuccessful_ocsp(status: ocsp.OCSPResponseStatus) -> bytes:
    """An unsigned OCSP answer saying why there is no status (RFC 6960 §2.3)."""
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(Encoding.DER)


def _answer(
    request: ocsp.OCSPRequest,
    record: IssuedRecord | None,
    status: ocsp.OCSPCertStatus,
    cert_hash: hashes.HashAlgorithm,
    responder_certificate: x509.Certificate,
    issuer: x509.Certificate,
    now: datetime.datetime,
    validity: datetime.timedelta,
) -> ocsp.OCSPResponseBuilder:
    """The unsigned answer: every field the request supplies is echoed here, so a fault
    raised here is the request's (signing comes after, and its faults are the responder's)."""
    builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
        issuer_name_hash=request.issuer_name_hash,
        issuer_key_hash=request.issuer_key_hash,
        serial_number=request.serial_number,
        algorithm=cert_hash,
        cert_status=status,
        this_update=now,
        next_update=now + validity,
        revocation_time=record.revoked_at if record is not None and record.revoked else None,
        revocation_reason=record.reason
        if record is not None and record.revoked and record.reason != x509.ReasonFlags.unspecified
        else None,
    )
    if responder_certificate != issuer:
        builder = builder.certificates([responder_certificate])
    try:
        nonce = request.extensions.get_extension_for_class(x509.OCSPNonce)
        builder = builder.add_extension(nonce.value, critical=False)
    except x509.ExtensionNotFound:
        pass
    return builder


def verify_signature(
    public_key: object,
    signature: bytes,
    data: bytes,
    algorithm: hashes.HashAlgorithm | None,
) -> bool:
    """Check a signature made by a certificate's key (EC, RSA PKCS#1 v1.5, Ed25519)."""
    try:
        if isinstance(public_key, ec.EllipticCurvePublicKey) and algorithm is not None:
            public_key.verify(signature, data, ec.ECDSA(algorithm))
        elif isinstance(public_key, rsa.RSAPublicKey) and algorithm is not None:
            public_key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(signature, data)
        else:
            return False
    except InvalidSignature:
        return False
    return True


def read_ocsp_response(
    data: bytes,
    *,
    issuer: x509.Certificate,
    serial: int | None = None,
    at: datetime.datetime | None = None,
    nonce: bytes | None = None,
    policy: AlgorithmPolicy = DEFAULT_POLICY,
) -> StatusInfo:
    """Parse an OCSP response (anyone's: ``openssl ocsp``, another CA) and check it.

    The signer must be ``issuer`` itself or a certificate in the response issued by
    ``issuer`` with the OCSPSigning EKU; the single response must name ``issuer`` (by
    hash) and, if given, ``serial``; at ``at`` it must be current. A given ``nonce``
    must be echoed. Every failure is a :class:`RevocationError`.
    """
    try:
        return _read_ocsp_response(data, issuer, serial, at, nonce, policy)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise RevocationError(f"the OCSP response is malformed: {exc}") from exc


def _read_ocsp_response(
    data: bytes,
    issuer: x509.Certificate,
    serial: int | None,
    at: datetime.datetime | None,
    nonce: bytes | None,
    policy: AlgorithmPolicy,
) -> StatusInfo:
    if len(data) > MAX_REVOCATION_INPUT:
        raise RevocationError("OCSP response too large")
    try:
        response = ocsp.load_der_ocsp_response(data)
    except ValueError as exc:
        raise RevocationError(explain(data, "OCSP response", exc, der_only=True)) from exc
    if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise RevocationError(f"the OCSP responder answered {response.response_status.name}")
    signer = _ocsp_signer(response, issuer)
    if not verify_signature(
        signer.public_key(),
        response.signature,
        response.tbs_response_bytes,
        response.signature_hash_algorithm,
    ):
        raise RevocationError("the OCSP response signature does not verify")
    _check_policy("OCSP response", response.signature_hash_algorithm, signer.public_key(), policy)
    name_hash, key_hash = _issuer_hashes(issuer, response.hash_algorithm)
    if response.issuer_name_hash != name_hash or response.issuer_key_hash != key_hash:
        raise RevocationError("the OCSP response is about a certificate of another issuer")
    if serial is not None and response.serial_number != serial:
        raise RevocationError("the OCSP response is about another certificate")
    if nonce is not None:
        try:
            got = response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
        except x509.ExtensionNotFound:
            got = None
        if got != nonce:
            raise RevocationError("the OCSP response does not echo the request nonce")
    this_update = response.this_update_utc
    next_update = response.next_update_utc
    if at is not None:
        if at + datetime.timedelta(minutes=5) < this_update:
            raise RevocationError("the OCSP response was produced after the time it is checked for")
        if next_update is not None and at > next_update:
            raise RevocationError("the OCSP response is stale (past its nextUpdate)")
    status = {
        ocsp.OCSPCertStatus.GOOD: CertStatus.GOOD,
        ocsp.OCSPCertStatus.REVOKED: CertStatus.REVOKED,
        ocsp.OCSPCertStatus.UNKNOWN: CertStatus.UNKNOWN,
    }[response.certificate_status]
    return StatusInfo(
        status,
        response.serial_number,
        revoked_at=response.revocation_time_utc,
        reason=response.revocation_reason,
        this_update=this_update,
        next_update=next_update,
    )


def _matches_responder_id(response: ocsp.OCSPResponse, certificate: x509.Certificate) -> bool:
    if response.responder_name is not None:
        return bool(response.responder_name == certificate.subject)
    digest = hashes.Hash(hashes.SHA1())
    spki = certificate.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    from asn1crypto import keys

    digest.update(keys.PublicKeyInfo.load(spki)["public_key"].contents[1:])
    return bool(response.responder_key_hash == digest.finalize())


def _ocsp_signer(response: ocsp.OCSPResponse, issuer: x509.Certificate) -> x509.Certificate:
    if _matches_responder_id(response, issuer):
        return issuer
    for candidate in response.certificates:
        if not _matches_responder_id(response, candidate):
            continue
        try:
            candidate.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature) as exc:
            raise RevocationError("the OCSP responder certificate is not issued by the CA") from exc
        try:
            ekus = candidate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            ekus = x509.ExtendedKeyUsage([])
        if ExtendedKeyUsageOID.OCSP_SIGNING not in ekus:
            raise RevocationError("the OCSP responder certificate lacks the OCSPSigning EKU")
        return candidate
    raise RevocationError("the OCSP response is signed neither by the CA nor by its delegate")
