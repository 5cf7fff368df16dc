"""Simple signatures: a service-sealed attestation that an account approved a document.

A simple signature proves who approved, through the service that
authenticated them, and nothing more. esign writes it as a real format: a CMS SignedData
(RFC 5652) made with :func:`esign.sign`, signed by the service's key and certificate,
whose encapsulated content is a ``SimpleSignatureAttestation`` (``esign.asn1``) with its
own eContentType. Any CMS tool can check the seal; only a verifier that trusts the
service's own anchor accepts it, so it is "verifiable only by that service".

The anchor alone is not enough: the same CA certifies every taxpayer, and a taxpayer's
certificate could otherwise seal "any account approved this". So the seal must come from
a certificate with the dedicated extended key usage ``id-kp-esign-simpleAttestation``
(CA profile ``attestation``), and the statement's service name must be that
certificate's subject common name.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, cast

from asn1crypto import cms, core, tsp
from cryptography import x509
from cryptography.x509.oid import NameOID

from esign.asn1 import (
    SIMPLE_ATTESTATION_EKU_OID,
    SIMPLE_ATTESTATION_OID,
    SimpleSignatureAttestation,
)
from esign.certs.trust import TrustContext
from esign.errors import EsignError, MalformedInputError, UnsupportedAlgorithmError
from esign.keys.algorithms import PrivateKey
from esign.signing.container import PARSE_ERRORS, load_signed_data
from esign.signing.report import SignatureLevel, VerificationReport
from esign.signing.sign import sign
from esign.signing.verify import verify
from esign.simple.credentials import Authentication

Clock = Callable[[], datetime.datetime]

VERSION = 1
#: Digests an attestation may name (SHA-1 and MD5 are refused).
DIGESTS = ("sha256", "sha384", "sha512")
MAX_ATTESTATION_BYTES = 64 << 10
_CHUNK = 1 << 20


#: The extended key usage only a service's attestation certificate carries.
ATTESTATION_EKU = x509.ObjectIdentifier(SIMPLE_ATTESTATION_EKU_OID)


def is_attestation_certificate(certificate: x509.Certificate) -> bool:
    """Whether ``certificate`` carries the attestation EKU (``anyExtendedKeyUsage`` does
    not count: it would let any general-purpose certificate seal attestations)."""
    try:
        ekus = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False
    except ValueError:  # a malformed extension, read lazily by cryptography
        return False
    return ATTESTATION_EKU in ekus


def service_name_of(certificate: x509.Certificate) -> str | None:
    """The service name an attestation certificate seals for: its one subject CN."""
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if len(names) == 1 else None


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _digest(document: bytes | BinaryIO, algorithm: str) -> bytes:
    """Hash a document given as bytes or a binary stream (read in chunks)."""
    if algorithm not in DIGESTS:
        raise UnsupportedAlgorithmError(
            f"digest {algorithm!r} not accepted; use one of {', '.join(DIGESTS)}"
        )
    h = hashlib.new(algorithm)
    if isinstance(document, bytes | bytearray | memoryview):
        h.update(document)
    else:
        for chunk in iter(lambda: document.read(_CHUNK), b""):
            h.update(chunk)
    return h.digest()


@dataclass(frozen=True)
class Attestation:
    """The parsed statement: who approved which digest, when, how authenticated, where."""

    account: str
    digest_algorithm: str
    digest: bytes
    approved_at: datetime.datetime
    factors: tuple[str, ...]
    service: str


class AttestationService:
    """The service side: seals attestations for accounts that have just logged in.

    ``signer`` is the service's attestation key and certificate (CA profile
    ``attestation``: the ``id-kp-esign-simpleAttestation`` EKU); ``name``, the service
    name written in every statement, is that certificate's subject common name (given
    only to state it; a different one is refused, as verifiers would refuse it).
    ``max_session_age`` bounds how old a login may be when its approval is sealed: a
    simple signature means "the account holder was there", not "someone once was".
    """

    def __init__(
        self,
        signer: tuple[PrivateKey, x509.Certificate],
        *,
        name: str | None = None,
        chain: Sequence[x509.Certificate] = (),
        clock: Clock = _utc_now,
        digest_algorithm: str = "sha256",
        max_session_age: datetime.timedelta = datetime.timedelta(minutes=15),
    ) -> None:
        if digest_algorithm not in DIGESTS:
            raise UnsupportedAlgorithmError(f"digest {digest_algorithm!r} not accepted")
        certificate = signer[1]
        subject = certificate.subject.rfc4514_string()
        if not is_attestation_certificate(certificate):
            raise EsignError(
                f"{subject} is not an attestation certificate (no id-kp-esign-simpleAttestation"
                " extended key usage): issue one with the CA profile 'attestation'"
            )
        common_name = service_name_of(certificate)
        if common_name is None:
            raise EsignError(f"{subject}: an attestation certificate needs exactly one CN")
        if name is not None and name != common_name:
            raise EsignError(
                f"service name {name!r} is not the attestation certificate's CN {common_name!r}"
            )
        self.signer = signer
        self.name = common_name
        self.chain = list(chain)
        self.clock = clock
        self.digest_algorithm = digest_algorithm
        self.max_session_age = max_session_age

    def attest(self, authentication: Authentication, document: bytes | BinaryIO) -> bytes:
        """Seal "``authentication.account`` approved this document now"; returns DER CMS."""
        now = self.clock()
        age = now - authentication.at
        if age > self.max_session_age or age < -datetime.timedelta(seconds=1):
            raise EsignError("the login is too old to approve a document: log in again")
        statement = SimpleSignatureAttestation(
            {
                "version": VERSION,
                "account": authentication.account,
                "document_digest": tsp.MessageImprint(
                    {
                        "hash_algorithm": {"algorithm": self.digest_algorithm},
                        "hashed_message": _digest(document, self.digest_algorithm),
                    }
                ),
                "approved_at": now.astimezone(datetime.timezone.utc).replace(microsecond=0),
                "factors": list(authentication.factors),
                "service": self.name,
            }
        )
        content = cms.EncapsulatedContentInfo(
            {
                "content_type": SIMPLE_ATTESTATION_OID,
                "content": core.ParsableOctetString(statement.dump()),
            }
        )
        # esign.sign hands its data to pyHanko's sign_general_data, which takes an
        # EncapsulatedContentInfo to sign content whose type is not id-data.
        return sign(
            cast(Any, content),
            signer=self.signer,
            chain=self.chain,
            detached=False,
            clock=lambda: now,
        )


def read_attestation(attestation: bytes) -> Attestation:
    """Parse the statement inside a sealed attestation (no check of the seal: use
    :func:`verify_attestation` for that)."""
    signed = load_signed_data(attestation)
    encap = signed["encap_content_info"]
    if encap["content_type"].dotted != SIMPLE_ATTESTATION_OID:
        raise MalformedInputError("not a simple-signature attestation (wrong eContentType)")
    raw = encap["content"].contents if encap["content"].native is not None else None
    if raw is None:
        raise MalformedInputError("the attestation has no encapsulated content")
    if len(raw) > MAX_ATTESTATION_BYTES:
        raise MalformedInputError("attestation content too large")
    try:
        parsed = SimpleSignatureAttestation.load(raw, strict=True)
        native = parsed.native
        if native["version"] != VERSION:
            raise MalformedInputError(f"unknown attestation version {native['version']}")
        imprint = native["document_digest"]
        approved_at = native["approved_at"]
        return Attestation(
            account=native["account"],
            digest_algorithm=imprint["hash_algorithm"]["algorithm"],
            digest=imprint["hashed_message"],
            approved_at=approved_at,
            factors=tuple(native["factors"]),
            service=native["service"],
        )
    except EsignError:
        raise
    except PARSE_ERRORS as exc:
        raise MalformedInputError(f"malformed attestation: {exc}") from exc


def _check_sealer(
    report: VerificationReport,
    seal: VerificationReport,
    statement: Attestation,
    expected: str | None,
) -> None:
    """Only the service's attestation certificate may seal, and only in its own name."""
    if seal.cosigners:
        # A second SignerInfo (anyone's, under the same anchor) would make "the sealer"
        # depend on the DER order of the set: an attestation has exactly one seal.
        report.error("several_seals", "an attestation carries exactly one seal, not several")
        return
    if seal.signer is None:
        if not report.errors:
            report.error("seal_invalid", "the seal names no signer certificate")
        return
    certificate = seal.signer.certificate
    subject = certificate.subject.rfc4514_string()
    if not is_attestation_certificate(certificate):
        report.error(
            "not_attestation_certificate",
            f"the seal was made by {subject}, which is not an attestation certificate (no"
            " id-kp-esign-simpleAttestation extended key usage)",
        )
        return
    common_name = service_name_of(certificate)
    if statement.service != common_name:
        report.error(
            "service_mismatch",
            f"the statement names service {statement.service!r}, but the seal's certificate"
            f" is {subject}",
        )
    elif expected is not None and statement.service != expected:
        report.error(
            "wrong_service",
            f"attested by {statement.service!r}, not by the expected {expected!r}",
        )


_COPIED = (
    "signer",
    "chain",
    "timestamp",
    "timestamp_authority",
    "trust_domain",
    "revocation",
    "signature_intact",
    "signature_algorithm",
    "validation_time",
    "errors",
    "warnings",
)


def verify_attestation(
    attestation: bytes,
    document: bytes | BinaryIO,
    *,
    service_trust: TrustContext,
    service: str | None = None,
    at: datetime.datetime | None = None,
) -> VerificationReport:
    """Check a simple signature: the service's seal, the statement, the document digest.

    ``service_trust`` holds the issuing service's own anchor. The seal must be made by an
    attestation certificate (EKU ``id-kp-esign-simpleAttestation``) whose subject CN is
    the statement's service name; ``service``, when given, is the name the caller expects.
    The report is valid with ``level=SignatureLevel.SIMPLE`` only when all of this holds —
    never higher: an attestation is evidence of a login, not of a signer's key. Raises
    :class:`MalformedInputError` for input that is not an attestation at all.
    """
    seal = verify(attestation, trust=service_trust, at=at)
    statement = read_attestation(attestation)
    report = VerificationReport()
    for name in _COPIED:
        setattr(report, name, getattr(seal, name))
    report.account = statement.account
    report.factors = list(statement.factors)
    report.signing_time = statement.approved_at
    report.digest_algorithm = statement.digest_algorithm
    if not seal.valid and not seal.errors:
        report.error("seal_invalid", "the service's seal on the attestation is not valid")
    _check_sealer(report, seal, statement, service)
    if statement.digest_algorithm not in DIGESTS:
        report.error(
            "digest_refused", f"attestation digest {statement.digest_algorithm!r} not accepted"
        )
        report.content_intact = False
    else:
        actual = _digest(document, statement.digest_algorithm)
        report.content_intact = hmac.compare_digest(actual, statement.digest)
        if not report.content_intact:
            report.error("content_modified", "the document is not the one the account approved")
    if not report.errors:
        report.valid = True
        report.level = SignatureLevel.SIMPLE
        report.evidence = [
            f"attestation sealed by {statement.service!r}, valid in trust domain"
            f" {report.trust_domain!r}",
            f"account {statement.account!r} approved the document, authenticated with"
            f" {', '.join(statement.factors) or 'no recorded factor'}",
        ]
    return report.finish()
