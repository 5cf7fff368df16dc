"""Revocation status at the time of a signature, from the verifier's CRLs.

pyhanko-certvalidator checks CRLs that were current at the validation time. A signature
proven by a time-stamp to be older than its certificate's revocation must be judged with
CRLs issued *later* (the CRL that says "revoked on day R" is published after day R), which
certvalidator treats as "too recent". So for a path judged at a past moment, esign asks
certvalidator for the path without revocation data and reads the CRLs here: a CRL signed
by the certificate's issuer (checked with ``cryptography``) that lists the serial with a
revocation date at or before the moment revokes it; a later date does not. Delta and
partitioned CRLs and "on hold" entries are left to certvalidator.

The same check also runs on every validated path, so a CRL that the verifier supplied is
never silently ignored (e.g. for a certificate without a CRL distribution point).
"""

from __future__ import annotations

import datetime
import weakref
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from esign.certs.trust import TrustContext

MAX_CRLS = 1024


@dataclass
class RevocationStatus:
    """What the CRLs say about a path at a moment."""

    revoked: bool = False
    subject: str | None = None
    revoked_at: datetime.datetime | None = None
    reason: str | None = None
    later: list[str] = field(default_factory=list)  # revoked, but after the moment
    leaf_covered: bool = False  # a CRL from the leaf's issuer was found


def _partial(crl: x509.CertificateRevocationList) -> bool:
    """Delta CRLs and CRLs with an issuing distribution point (partitioned, indirect) need
    the full RFC 5280 algorithm: certvalidator's job, not this check's."""
    for extension_class in (x509.DeltaCRLIndicator, x509.IssuingDistributionPoint):
        try:
            crl.extensions.get_extension_for_class(extension_class)
        except x509.ExtensionNotFound:
            continue
        return True
    return False


class _Crls:
    """Parsed CRLs per trust context (parsed once; signatures checked once per issuer)."""

    def __init__(self) -> None:
        self._parsed: weakref.WeakKeyDictionary[TrustContext, list[x509.CertificateRevocationList]]
        self._parsed = weakref.WeakKeyDictionary()
        self._twins: weakref.WeakKeyDictionary[TrustContext, TrustContext]
        self._twins = weakref.WeakKeyDictionary()
        self._good: dict[tuple[int, bytes], tuple[x509.CertificateRevocationList, bool]] = {}
        self._index: dict[
            int, tuple[x509.CertificateRevocationList, dict[int, tuple[datetime.datetime, str]]]
        ] = {}

    def crls(self, trust: TrustContext) -> list[x509.CertificateRevocationList]:
        if trust not in self._parsed:
            parsed = []
            for der in trust.crls[:MAX_CRLS]:
                try:
                    parsed.append(x509.load_der_x509_crl(der))
                except ValueError:
                    continue  # unreadable CRLs were refused when the context was made
            self._parsed[trust] = parsed
        return self._parsed[trust]

    def twin(self, trust: TrustContext) -> TrustContext:
        """The same trust domain without CRLs: path validation at a past moment."""
        if trust not in self._twins:
            # Revocation is judged here from the CRLs at the signing moment; the twin
            # validates the path only (every other setting of the domain is kept).
            self._twins[trust] = trust.derive(
                crls=(), revocation_required=False, allow_fetching=False
            )
        return self._twins[trust]

    def newer_than(self, trust: TrustContext, moment: datetime.datetime) -> bool:
        """Whether some CRL was issued after ``moment`` (certvalidator would refuse it)."""
        return any(crl.last_update_utc > moment for crl in self.crls(trust))

    def _entries(
        self, crl: x509.CertificateRevocationList
    ) -> dict[int, tuple[datetime.datetime, str]]:
        """serial -> (revocation date, reason), built once per CRL (a CRL can be large)."""
        key = id(crl)  # the entry holds the CRL, so its id cannot be reused meanwhile
        if key not in self._index or self._index[key][0] is not crl:
            if len(self._index) > MAX_CRLS:
                self._index.clear()
            index: dict[int, tuple[datetime.datetime, str]] = {}
            for entry in crl:
                try:
                    reason = entry.extensions.get_extension_for_class(x509.CRLReason).value
                    name = reason.reason.name
                except x509.ExtensionNotFound:
                    name = "unspecified"
                index[entry.serial_number] = (entry.revocation_date_utc, name)
            self._index[key] = (crl, index)
        return self._index[key][1]

    def _signed_by(self, crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
        key = (id(crl), issuer.fingerprint(_SHA256))
        if key not in self._good or self._good[key][0] is not crl:
            if len(self._good) > MAX_CRLS:
                self._good.clear()
            try:
                good = crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
            except (TypeError, ValueError):
                good = False
            self._good[key] = (crl, good)
        return self._good[key][1]

    def status(
        self, trust: TrustContext, chain: list[x509.Certificate], moment: datetime.datetime
    ) -> RevocationStatus:
        """Revocation of each certificate of ``chain`` (leaf first) at ``moment``."""
        result = RevocationStatus()
        crls = self.crls(trust)
        for index, certificate in enumerate(chain[:-1]):
            issuer = chain[index + 1]
            for crl in crls:
                if crl.issuer != certificate.issuer or _partial(crl):
                    continue
                if not self._signed_by(crl, issuer):
                    continue
                if index == 0:
                    result.leaf_covered = True
                found = self._entries(crl).get(certificate.serial_number)
                if found is None:
                    continue
                subject = certificate.subject.rfc4514_string()
                when, reason_name = found
                if reason_name in ("remove_from_crl", "certificate_hold"):
                    continue  # temporary states: certvalidator's job with current CRLs
                if when <= moment:
                    if not result.revoked:
                        result.revoked = True
                        result.subject, result.revoked_at, result.reason = (
                            subject,
                            when,
                            reason_name,
                        )
                else:
                    result.later.append(f"{subject} revoked at {when.isoformat()} ({reason_name})")
        return result


_SHA256 = hashes.SHA256()
CRLS = _Crls()
