"""Path validation of GOST chains with pyhanko-certvalidator, unforked.

pyhanko-certvalidator takes two plug-ins and both are used: a ``SignatureValidator``
that checks GOST signatures (certificates, CRLs) with gostcrypto and hands every other
algorithm to its default validator, and an ``AlgorithmUsagePolicy`` that knows the GOST
OIDs (its default policy asks asn1crypto for the hash of a signature algorithm, which
asn1crypto does not know for GOST). Where pyHanko itself hashes with ``cryptography``
(OCSP certificate IDs, CMS message digests), esign does the GOST part in
:mod:`esign.gost.cms` instead of calling pyHanko.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from asn1crypto import algos
from asn1crypto import crl as asn1_crl
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    ExpiredError,
    InsufficientRevinfoError,
    InvalidCertificateError,
    NotYetValidError,
    PathBuildingError,
    PathValidationError,
    RevokedError,
)
from pyhanko_certvalidator.policy_decl import (
    AlgorithmUsageConstraint,
    AlgorithmUsagePolicy,
    CertRevTrustPolicy,
    DisallowWeakAlgorithmsPolicy,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)
from pyhanko_certvalidator.sig_validate import (
    DefaultSignatureValidator,
    SignatureValidationContext,
    SignatureValidator,
)

from esign.errors import PARSE_ERRORS, EsignError, InvalidSignatureError, MalformedInputError
from esign.gost import params
from esign.gost.keys import GostPublicKey
from esign.gost.x509 import verify_signed

#: Digests of (signature, data, key, algorithm) already found valid: a GOST check costs
#: about 80 ms in pure Python, and the same CA certificate signature recurs in every path.
_VERIFIED: set[bytes] = set()
_VERIFIED_MAX = 4096


class GostSignatureValidator(SignatureValidator):  # type: ignore[misc]
    """GOST signatures by gostcrypto; everything else by pyhanko-certvalidator's default."""

    def __init__(self, default: SignatureValidator | None = None) -> None:
        self._default = default or DefaultSignatureValidator()

    def validate_signature(
        self,
        signature: bytes,
        signed_data: bytes,
        public_key_info: asn1_keys.PublicKeyInfo,
        signature_algorithm: algos.SignedDigestAlgorithm,
        context: SignatureValidationContext | None = None,
    ) -> None:
        oid = signature_algorithm["algorithm"].dotted
        if oid not in params.SIGNATURE_OIDS:
            if context is None:
                self._default.validate_signature(
                    signature, signed_data, public_key_info, signature_algorithm
                )
            else:
                self._default.validate_signature(
                    signature, signed_data, public_key_info, signature_algorithm, context
                )
            return
        from cryptography.exceptions import InvalidSignature

        key = hashlib.sha256(
            b"".join((signature, signed_data, public_key_info.dump(), oid.encode()))
        ).digest()
        if key in _VERIFIED:
            return
        try:
            verify_signed(
                signed_data, oid, signature, GostPublicKey.from_spki(public_key_info.dump())
            )
        except EsignError as exc:
            raise InvalidSignature(str(exc)) from exc
        if len(_VERIFIED) >= _VERIFIED_MAX:
            _VERIFIED.clear()
        _VERIFIED.add(key)


class GostAwarePolicy(AlgorithmUsagePolicy):  # type: ignore[misc]
    """Allows the GOST 2012 signature and digest OIDs; defers the rest to ``fallback``."""

    def __init__(self, fallback: AlgorithmUsagePolicy | None = None) -> None:
        self._fallback = fallback or DisallowWeakAlgorithmsPolicy()

    def digest_algorithm_allowed(
        self, algo: algos.DigestAlgorithm, moment: datetime.datetime | None
    ) -> AlgorithmUsageConstraint:
        if algo["algorithm"].dotted in params.DIGEST_OIDS:
            return AlgorithmUsageConstraint(True)
        return self._fallback.digest_algorithm_allowed(algo, moment)

    def signature_algorithm_allowed(
        self,
        algo: algos.SignedDigestAlgorithm,
        moment: datetime.datetime | None,
        public_key: asn1_keys.PublicKeyInfo | None,
    ) -> AlgorithmUsageConstraint:
        if algo["algorithm"].dotted in params.SIGNATURE_OIDS:
            return AlgorithmUsageConstraint(True)
        return self._fallback.signature_algorithm_allowed(algo, moment, public_key)


@dataclass
class ChainResult:
    """The outcome of validating one certificate: ``chain`` leaf first when ``ok``."""

    ok: bool
    chain: list[x509.Certificate] = field(default_factory=list)
    code: str | None = None
    message: str | None = None


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(Encoding.DER)


#: The failure codes esign's TrustContext uses for the same pyhanko-certvalidator errors.
_CODES: tuple[tuple[type[Exception], str], ...] = (
    (RevokedError, "revoked"),
    (ExpiredError, "expired"),
    (NotYetValidError, "not_yet_valid"),
    (InsufficientRevinfoError, "no_revocation_info"),
    (PathBuildingError, "no_path"),
    (InvalidCertificateError, "wrong_usage"),
    (PathValidationError, "path_invalid"),
)


def validate(
    certificate: x509.Certificate,
    *,
    anchors: Sequence[x509.Certificate],
    intermediates: Iterable[x509.Certificate] = (),
    crls: Iterable[bytes] = (),
    moment: datetime.datetime | None = None,
    revocation_required: bool = False,
    key_usage: set[str] | None = None,
    extended_key_usage: set[str] | None = None,
) -> ChainResult:
    """Validate the path of ``certificate`` (GOST or mixed) to one of ``anchors``.

    CRLs (DER) are checked when given for an issuer ("soft-fail" otherwise unless
    ``revocation_required``). Never raises for a bad chain: the result says why.
    """
    crl_list = [asn1_crl.CertificateList.load(c) for c in crls]
    # Like esign's TrustContext: a certificate whose issuer has a CRL here must be covered
    # by it (a CRL that fails its signature check then fails the path, not passes it).
    issuers = {c["tbs_cert_list"]["issuer"].dump() for c in crl_list}
    leaf_covered = certificate.issuer.public_bytes() in issuers
    required = RevocationCheckingRule.CRL_OR_OCSP_REQUIRED
    soft = RevocationCheckingRule.CHECK_IF_DECLARED_SOFT
    context = ValidationContext(
        trust_roots=[asn1_x509.Certificate.load(_der(a)) for a in anchors],
        other_certs=[asn1_x509.Certificate.load(_der(c)) for c in intermediates],
        crls=crl_list,
        moment=moment or datetime.datetime.now(datetime.timezone.utc),
        allow_fetching=False,
        revinfo_policy=CertRevTrustPolicy(
            RevocationCheckingPolicy(
                required if revocation_required or leaf_covered else soft,
                required if revocation_required else soft,
            ),
            retroactive_revinfo=True,
        ),
        weak_hash_algos=set(),
        signature_validator=GostSignatureValidator(),
        algorithm_usage_policy=GostAwarePolicy(),
    )
    try:
        validator = CertificateValidator(
            asn1_x509.Certificate.load(_der(certificate)), validation_context=context
        )
        from esign._sync import run_sync

        path = run_sync(
            validator.async_validate_usage(key_usage or set(), extended_key_usage or None)
        )
    except PARSE_ERRORS as exc:
        return ChainResult(False, code="malformed", message=f"unreadable certificate: {exc}")
    except MalformedInputError as exc:
        return ChainResult(False, code="malformed", message=str(exc))
    except Exception as exc:
        for kind, code in _CODES:
            if isinstance(exc, kind):
                return ChainResult(False, code=code, message=str(exc))
        raise
    chain = [x509.load_der_x509_certificate(c.dump()) for c in reversed(list(path))]
    return ChainResult(True, chain=chain)


__all__ = [
    "ChainResult",
    "GostAwarePolicy",
    "GostSignatureValidator",
    "InvalidSignatureError",
    "validate",
]
