"""The revocation engine: the status of every certificate of a validated path.

One place decides whether a certificate below the anchor was revoked at a moment, from
every source the verifier has: OCSP responses (also for certificates that name no
responder), CRLs (complete, delta, indirect, partitioned by distribution point) given,
embedded in a signature or fetched. The path itself is built and checked by
pyhanko-certvalidator without revocation; this module then asks, per certificate:

1. OCSP: pyHanko's RFC 6960 check of the given responses (signer is the issuer or a
   delegated responder, ``ocsp-nocheck`` honoured, freshness).
2. CRL, fast: the one simple CRL (complete, directly issued, no distribution-point
   scope) of the issuer, its signature checked against the issuing CA of the path before
   its serial-number index is built or read.
3. CRL, full: pyHanko's RFC 5280 §6.3 processing (issuing distribution points, indirect
   CRLs with cRLIssuer, separate CRL-signing keys, reason partitions, delta CRLs that the
   complete CRL announces).
4. Delta CRLs that were given but that the complete CRL does not announce (no
   freshestCRL): applied too, when signed by the issuer and based on a complete CRL held.

A certificate whose status none of these establishes is UNKNOWN: the caller reports it
as INDETERMINATE / TRY_LATER, saying what to supply.
"""

from __future__ import annotations

import datetime
import enum
from dataclasses import dataclass

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from pyhanko_certvalidator import ValidationContext, errors
from pyhanko_certvalidator._state import ValProcState
from pyhanko_certvalidator.path import ValidationPath
from pyhanko_certvalidator.revinfo.validate_crl import verify_crl
from pyhanko_certvalidator.revinfo.validate_ocsp import verify_ocsp_response
from pyhanko_certvalidator.util import ConsList

from esign._repr import readable_repr
from esign.certs.revinfo import IndexedCrl
from esign.policy import AlgorithmPolicy

#: Reasons after which nothing the key signed can be trusted, whatever its date.
COMPROMISE_REASONS = frozenset({"key_compromise", "ca_compromise", "unspecified"})


class Status(str, enum.Enum):
    """What the engine established for one certificate."""

    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class CertificateStatus:
    """The revocation status of one certificate of a path at the validation moment.

    ``source`` says which evidence decided it (``"ocsp"``, ``"crl"``, ``"delta-crl"``);
    a GOOD status with ``revoked_at`` was revoked only after the moment judged;
    ``stale`` marks an UNKNOWN whose only evidence was past its nextUpdate; ``detail``
    says why an UNKNOWN is unknown.
    """

    __repr__ = readable_repr

    subject: str
    serial: int
    is_ca: bool
    status: Status
    source: str | None = None
    revoked_at: datetime.datetime | None = None
    reason: str | None = None
    stale: bool = False
    detail: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "subject": self.subject,
            "serial": format(self.serial, "x"),
            "status": self.status.value,
            "source": self.source,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "reason": self.reason,
        }


def _describe(certificate: asn1_x509.Certificate) -> str:
    return str(certificate.subject.human_friendly)


class RevocationEngine:
    """Decides revocation for the certificates of validated paths.

    ``crls`` are the CRLs the verifier holds, grouped by issuer name (see
    :func:`esign.certs.revinfo.index_crls`); ``tolerance`` is the clock skew allowed on
    freshness; with ``retroactive`` information issued after the moment speaks for it
    (the revocation date of an entry decides).
    """

    def __init__(
        self,
        crls: dict[str, list[IndexedCrl]],
        *,
        tolerance: datetime.timedelta,
        retroactive: bool,
        has_ocsp: bool,
        policy: AlgorithmPolicy,
    ) -> None:
        self._crls = crls
        self._policy = policy
        self._tolerance = tolerance
        self._retroactive = retroactive
        self._has_ocsp = has_ocsp

    async def check_path(
        self,
        path: ValidationPath,
        context: ValidationContext,
        moment: datetime.datetime,
    ) -> list[CertificateStatus]:
        """The status of every certificate of ``path`` below the anchor, leaf first."""
        certs = list(path.iter_certs(include_root=True))  # anchor first
        results = []
        for index in range(1, len(certs)):
            certificate, issuer = certs[index], certs[index - 1]
            state = ValProcState(cert_path_stack=ConsList.sing(path), init_index=index)
            results.append(await self.check(certificate, issuer, path, context, moment, state))
        return results[::-1]

    async def check(
        self,
        certificate: asn1_x509.Certificate,
        issuer: asn1_x509.Certificate,
        path: ValidationPath,
        context: ValidationContext,
        moment: datetime.datetime,
        state: ValProcState,
    ) -> CertificateStatus:
        """The status of one certificate whose issuing CA in ``path`` is ``issuer``."""
        subject = _describe(certificate)
        serial = certificate.serial_number
        is_ca = bool(certificate.ca)
        problems: list[str] = []
        stale = False
        found: CertificateStatus | None = None

        def good(source: str) -> CertificateStatus:
            return CertificateStatus(subject, serial, is_ca, Status.GOOD, source)

        def revoked(source: str, at: datetime.datetime, reason: str) -> CertificateStatus:
            return CertificateStatus(subject, serial, is_ca, Status.REVOKED, source, at, reason)

        if self._has_ocsp or context.fetching_allowed:
            try:
                await verify_ocsp_response(certificate, path, context, proc_state=state)
                found = good("ocsp")
            except errors.RevokedError as exc:
                return revoked("ocsp", exc.revocation_dt, str(exc.reason.native))
            except errors.OCSPNoMatchesError:
                pass
            except errors.OCSPValidationIndeterminateError as exc:
                stale = stale or exc.suspect_stale is not None
                problems.extend(str(f[0]) for f in exc.failures)
            except (errors.OCSPValidationError, errors.OCSPFetchError) as exc:
                problems.append(str(exc.args[0]) if exc.args else "OCSP response unusable")

        fast = self._fast(certificate, issuer, moment)
        if isinstance(fast, CertificateStatus):
            verdict = fast
        else:
            try:
                await verify_crl(certificate, path, context, use_deltas=True, proc_state=state)
                verdict = good("crl")
            except errors.RevokedError as exc:
                verdict = revoked("crl", exc.revocation_dt, str(exc.reason.native))
            except errors.CRLNoMatchesError:
                verdict = None
            except errors.CRLValidationIndeterminateError as exc:
                stale = stale or exc.suspect_stale is not None
                problems.extend(str(f[0]) for f in exc.failures)
                verdict = None
            except (errors.CRLValidationError, errors.CRLFetchError) as exc:
                problems.append(str(exc.args[0]) if exc.args else "CRL unusable")
                verdict = None
        if verdict is not None and verdict.status is Status.REVOKED:
            return verdict
        if verdict is not None or found is not None:
            base = verdict or found
            assert base is not None
            delta = self._unannounced_delta(certificate, issuer, moment)
            return delta or base
        detail = "; ".join(dict.fromkeys(problems)) or "no CRL or OCSP response covers it"
        return CertificateStatus(subject, serial, is_ca, Status.UNKNOWN, stale=stale, detail=detail)

    # -- CRLs the engine reads itself ----------------------------------------------------

    def compromised(
        self, certificate: asn1_x509.Certificate, issuer: asn1_x509.Certificate
    ) -> CertificateStatus | None:
        """A key-compromise revocation of ``certificate`` in any held CRL of ``issuer``
        (signature checked first), whatever the CRL's or the entry's date."""
        for crl in self._crls.get(certificate.issuer.hashable, []):
            if crl.has_scope or not self._acceptable(crl, None) or not crl.signed_by(issuer):
                continue
            entry = (crl.entries() or {}).get(certificate.serial_number)
            if entry is not None and entry.reason in COMPROMISE_REASONS:
                return CertificateStatus(
                    _describe(certificate),
                    certificate.serial_number,
                    bool(certificate.ca),
                    Status.REVOKED,
                    "crl",
                    entry.revoked_at,
                    entry.reason,
                )
        return None

    def _acceptable(self, crl: IndexedCrl, moment: datetime.datetime | None) -> bool:
        """Whether the algorithm policy accepts the CRL's signature algorithm."""
        return self._policy.signature_refusal(crl.asn1["signature_algorithm"], moment) is None

    def _fast(
        self,
        certificate: asn1_x509.Certificate,
        issuer: asn1_x509.Certificate,
        moment: datetime.datetime,
    ) -> CertificateStatus | None:
        """Decide from the issuer's one simple, fresh CRL, or None (full processing)."""
        if certificate.crl_distribution_points_value is not None and any(
            point["crl_issuer"].native is not None
            for point in certificate.crl_distribution_points_value
        ):
            return None  # an indirect CRL is expected
        candidates = [
            c
            for c in self._crls.get(certificate.issuer.hashable, [])
            if (c.simple or c.announces_delta)
            and c.fresh_at(moment, self._tolerance, self._retroactive)
        ]
        if len(candidates) != 1:
            return None
        crl = candidates[0]
        if not self._acceptable(crl, moment) or not crl.signed_by(issuer):
            return None  # the signature first, the index only after; pyHanko names why
        entries = crl.entries()
        if entries is None:
            return None
        subject = _describe(certificate)
        is_ca = bool(certificate.ca)
        entry = entries.get(certificate.serial_number)
        on_hold = entry is not None and entry.reason == "certificate_hold"
        if on_hold and not crl.simple:
            return None  # the announced delta may lift the hold: full processing
        if entry is not None and entry.reason != "remove_from_crl" and entry.revoked_at < moment:
            return CertificateStatus(
                subject,
                certificate.serial_number,
                is_ca,
                Status.REVOKED,
                "crl",
                entry.revoked_at,
                entry.reason,
            )
        if not crl.simple:
            return None  # "not listed" needs the announced delta: full processing
        if entry is not None and entry.reason != "remove_from_crl":
            # revoked, but only after the moment: good then, and the report says when
            return CertificateStatus(
                subject,
                certificate.serial_number,
                is_ca,
                Status.GOOD,
                "crl",
                entry.revoked_at,
                entry.reason,
            )
        return CertificateStatus(subject, certificate.serial_number, is_ca, Status.GOOD, "crl")

    def _unannounced_delta(
        self,
        certificate: asn1_x509.Certificate,
        issuer: asn1_x509.Certificate,
        moment: datetime.datetime,
    ) -> CertificateStatus | None:
        """A revocation that only a given delta CRL records (RFC 5280 §5.2.4), or None.

        A delta counts when signed by the issuing CA (cRLSign), fresh at ``moment``,
        without a distribution-point scope, and based on a complete CRL of the same CA
        that is held and signed too (its CRL number at least the delta's base).
        """
        held = self._crls.get(certificate.issuer.hashable, [])
        numbers = [
            c.number
            for c in held
            if c.delta_base is None and c.number is not None and c.signed_by(issuer)
        ]
        if not numbers:
            return None
        for delta in held:
            if (
                delta.delta_base is None
                or delta.has_scope
                or delta.delta_base > max(numbers)
                or not delta.fresh_at(moment, self._tolerance, self._retroactive)
                or not self._acceptable(delta, moment)
                or not delta.signed_by(issuer)
            ):
                continue
            entry = delta.delta_entries().get(certificate.serial_number)
            if entry is None or entry.reason == "remove_from_crl" or entry.revoked_at >= moment:
                continue
            return CertificateStatus(
                _describe(certificate),
                certificate.serial_number,
                bool(certificate.ca),
                Status.REVOKED,
                "delta-crl",
                entry.revoked_at,
                entry.reason,
            )
        return None


def reason_name(reason: asn1_crl.CRLReason | str | None) -> str:
    """A CRL reason as asn1crypto names it (``key_compromise``), ``unspecified`` if none."""
    if reason is None:
        return "unspecified"
    return str(reason if isinstance(reason, str) else reason.native)
