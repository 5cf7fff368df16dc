"""Trust: validate a certificate path to the anchors of a named trust domain.

Path building and validation (RFC 5280, with revocation) is pyhanko-certvalidator's job;
this module chooses what it is given (anchors, intermediates, CRLs, time, algorithm
policy) and translates its verdicts into named, stable reasons.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko_certvalidator import CertificateValidator, ValidationContext, errors
from pyhanko_certvalidator.policy_decl import DisallowWeakAlgorithmsPolicy

from esign._sync import run_sync

#: Key usages a certificate needs for each job esign validates it for.
USAGES: dict[str, frozenset[str]] = {
    "signing": frozenset({"digital_signature"}),
    "any": frozenset(),
}


def to_asn1(certificate: x509.Certificate) -> asn1_x509.Certificate:
    """The same certificate as an asn1crypto object (what pyHanko speaks)."""
    return asn1_x509.Certificate.load(certificate.public_bytes(Encoding.DER))


def from_asn1(certificate: asn1_x509.Certificate) -> x509.Certificate:
    """The same certificate as a ``cryptography`` object."""
    return x509.load_der_x509_certificate(certificate.dump())


@dataclass(frozen=True)
class PathFailure:
    """One named reason a path is not trusted."""

    code: str
    message: str


@dataclass
class PathResult:
    """The verdict on one certificate path."""

    trusted: bool
    domain: str
    chain: list[x509.Certificate] = field(default_factory=list)
    failures: list[PathFailure] = field(default_factory=list)
    revoked_at: datetime.datetime | None = None
    revocation_reason: str | None = None


class TrustContext:
    """A named trust domain: anchors, helpers to build paths, revocation data, policy.

    ``name`` is what a report prints as the domain that accepted a certificate ("valid only
    inside the tax service" is a domain whose only anchor is the tax service's CA).
    """

    def __init__(
        self,
        anchors: Sequence[x509.Certificate],
        *,
        intermediates: Iterable[x509.Certificate] = (),
        crls: Iterable[bytes | x509.CertificateRevocationList] = (),
        name: str = "default",
        revocation_required: bool = False,
        legacy_algorithms: bool = False,
    ) -> None:
        if not anchors:
            raise ValueError("a trust context needs at least one anchor")
        self.name = name
        self.anchors = list(anchors)
        self.intermediates = list(intermediates)
        self.crls = [
            c.public_bytes(Encoding.DER) if isinstance(c, x509.CertificateRevocationList) else c
            for c in crls
        ]
        self.revocation_required = revocation_required
        self.legacy_algorithms = legacy_algorithms
        self._asn1_anchors = [to_asn1(c) for c in self.anchors]
        self._asn1_intermediates = [to_asn1(c) for c in self.intermediates]
        self._cache: dict[tuple[bytes, datetime.datetime, str], PathResult] = {}

    def _algorithm_policy(self) -> DisallowWeakAlgorithmsPolicy:
        if self.legacy_algorithms:
            return DisallowWeakAlgorithmsPolicy(
                weak_hash_algos=frozenset({"md2", "md5"}),
                rsa_key_size_threshold=1024,
                dsa_key_size_threshold=1024,
            )
        return DisallowWeakAlgorithmsPolicy(
            weak_hash_algos=frozenset({"md2", "md5", "sha1"}),
            rsa_key_size_threshold=2048,
            dsa_key_size_threshold=1 << 30,  # DSA refused outright
        )

    def validate(
        self,
        certificate: x509.Certificate,
        *,
        at: datetime.datetime | None = None,
        usage: str = "signing",
        extra_certificates: Iterable[x509.Certificate] = (),
    ) -> PathResult:
        """Validate ``certificate`` for ``usage`` at time ``at`` (default: now)."""
        moment = at or datetime.datetime.now(datetime.timezone.utc)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.timezone.utc)
        extras = list(extra_certificates)
        fingerprint = hashlib.sha256(certificate.public_bytes(Encoding.DER)).digest()
        key = (fingerprint, moment, usage)
        if at is not None and not extras and key in self._cache:
            return self._cache[key]
        result = self._validate(certificate, moment, usage, extras)
        if at is not None and not extras:
            self._cache[key] = result
        return result

    def _validate(
        self,
        certificate: x509.Certificate,
        moment: datetime.datetime,
        usage: str,
        extras: list[x509.Certificate],
    ) -> PathResult:
        context = ValidationContext(
            trust_roots=self._asn1_anchors,
            other_certs=self._asn1_intermediates + [to_asn1(c) for c in extras],
            moment=moment,
            allow_fetching=False,
            crls=self.crls,
            revocation_mode="require" if self.revocation_required else "soft-fail",
            algorithm_usage_policy=self._algorithm_policy(),
        )
        validator = CertificateValidator(to_asn1(certificate), validation_context=context)
        key_usage = set(USAGES.get(usage, frozenset()))
        try:
            path = run_sync(validator.async_validate_usage(key_usage))
        except errors.RevokedError as exc:
            return PathResult(
                False,
                self.name,
                failures=[PathFailure("revoked", exc.failure_msg)],
                revoked_at=exc.revocation_dt,
                revocation_reason=str(exc.reason.native),
            )
        except errors.ExpiredError as exc:
            return self._fail("expired", exc.failure_msg)
        except errors.NotYetValidError as exc:
            return self._fail("not_yet_valid", exc.failure_msg)
        except errors.DisallowedAlgorithmError as exc:
            return self._fail("weak_algorithm", exc.failure_msg)
        except errors.InsufficientRevinfoError as exc:
            return self._fail("no_revocation_info", exc.failure_msg)
        except errors.PathBuildingError as exc:
            return self._fail(
                "no_path", f"no path to an anchor of trust domain {self.name!r}: {exc}"
            )
        except errors.InvalidCertificateError as exc:
            return self._fail("wrong_usage", exc.failure_msg)
        except errors.PathValidationError as exc:
            return self._fail("path_invalid", exc.failure_msg)
        except errors.ValidationError as exc:
            return self._fail("path_invalid", exc.failure_msg)
        # pyHanko lists root first; a report reads leaf first.
        chain = [from_asn1(c) for c in path.iter_certs(include_root=True)][::-1]
        return PathResult(True, self.name, chain=chain)

    def _fail(self, code: str, message: str) -> PathResult:
        return PathResult(False, self.name, failures=[PathFailure(code, message)])
