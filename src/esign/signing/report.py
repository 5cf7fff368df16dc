"""Verification reports: what was checked, what was found, and every reason it failed.

A report is never a bare bool. It renders as text (``str``), as the JSON object of the
command-line contract (``to_dict`` / ``to_json``) and as HTML in a notebook.
"""

from __future__ import annotations

import datetime
import enum
import json
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from esign._repr import readable_repr
from esign.signing.indication import (
    Indication,
    SubIndication,
    indication_of,
    subindication_for,
)


class SignatureLevel(enum.IntEnum):
    """Legal level of a signature, ordered: SIMPLE < ADVANCED < QUALIFIED."""

    SIMPLE = 1
    ADVANCED = 2  # "enhanced non-qualified"
    QUALIFIED = 3

    @property
    def label(self) -> str:
        """The lower-case name used in JSON (``"simple"``, ``"advanced"``, ``"qualified"``)."""
        return self.name.lower()

    def __str__(self) -> str:
        return self.label


@dataclass(frozen=True)
class Finding:
    """An error or warning with a stable machine code and a human message; an error also
    carries the ETSI sub-indication it leads to."""

    code: str
    message: str
    subindication: SubIndication | None = None

    def to_dict(self) -> dict[str, str]:
        result = {"code": self.code, "message": self.message}
        if self.subindication is not None:
            result["subindication"] = self.subindication.value
        return result


@dataclass(frozen=True)
class SignerIdentity:
    """Who signed: the signer certificate's subject, issuer and serial."""

    __repr__ = readable_repr

    subject: str
    issuer: str
    serial: int
    certificate: x509.Certificate

    @classmethod
    def from_certificate(cls, certificate: x509.Certificate) -> SignerIdentity:
        return cls(
            subject=certificate.subject.rfc4514_string(),
            issuer=certificate.issuer.rfc4514_string(),
            serial=certificate.serial_number,
            certificate=certificate,
        )

    def to_dict(self) -> dict[str, str]:
        return {"subject": self.subject, "issuer": self.issuer, "serial": f"{self.serial:x}"}


def _iso(moment: datetime.datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


@dataclass
class VerificationReport:
    """The result of verifying one signature.

    ``indication`` is the ETSI EN 319 102-1 verdict and ``subindication`` says why it is
    not TOTAL-PASSED. ``valid`` is true only for TOTAL-PASSED: integrity, signer binding,
    algorithms, path and revocation all checked out. ``level`` is None whenever ``valid``
    is false.
    """

    valid: bool = False
    indication: Indication = Indication.INDETERMINATE
    subindication: SubIndication | None = None
    level: SignatureLevel | None = None
    signer: SignerIdentity | None = None
    chain: list[x509.Certificate] = field(default_factory=list)
    signing_time: datetime.datetime | None = None
    timestamp: datetime.datetime | None = None
    trust_domain: str | None = None
    revocation: str | None = None
    content_intact: bool | None = None
    signature_intact: bool | None = None
    digest_algorithm: str | None = None
    signature_algorithm: str | None = None
    jurisdiction: str | None = None
    evidence: list[str] = field(default_factory=list)
    missing_evidence: list[str] = field(default_factory=list)
    timestamp_authority: str | None = None
    validation_time: datetime.datetime | None = None
    cosigners: list[VerificationReport] = field(default_factory=list)
    countersignatures: list[VerificationReport] = field(default_factory=list)
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    #: Simple signatures only: the personal account that approved, and how it logged in.
    account: str | None = None
    factors: list[str] = field(default_factory=list)

    def error(self, code: str, message: str, sub: SubIndication | None = None) -> None:
        """Record a reason the signature is not valid, and the sub-indication it leads to
        (by default the one :data:`esign.signing.indication.DEFAULT_SUBINDICATIONS` names)."""
        self.errors.append(Finding(code, message, sub or subindication_for(code)))

    def warn(self, code: str, message: str) -> None:
        """Record something worth knowing that does not invalidate the signature."""
        self.warnings.append(Finding(code, message))

    def finish(self) -> VerificationReport:
        """Settle the indication, ``valid`` and ``level`` from the findings.

        No error: TOTAL-PASSED. Otherwise the first error whose sub-indication is a
        TOTAL-FAILED one decides; failing that, the first error (INDETERMINATE).
        """
        if not self.errors:
            # valid is set by the verifier once every check ran; nothing else passes.
            self.indication = Indication.TOTAL_PASSED if self.valid else Indication.INDETERMINATE
            self.subindication = None
            return self
        self.valid = False
        self.level = None
        subs = [e.subindication or subindication_for(e.code) for e in self.errors]
        failed = [s for s in subs if indication_of(s) is Indication.TOTAL_FAILED]
        # A time-stamp that proves nothing (NO_POE) explains less than what the signature
        # is then judged on without it: that comes first.
        ranked = sorted(subs, key=lambda sub: sub is SubIndication.NO_POE)
        self.subindication = failed[0] if failed else ranked[0]
        self.indication = indication_of(self.subindication)
        return self

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of the command-line contract."""
        result = self._common_dict()
        if self.account is not None:
            result["account"] = self.account
        if self.factors:
            result["factors"] = list(self.factors)
        return result

    def _common_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "indication": self.indication.value,
            "subindication": self.subindication.value if self.subindication else None,
            "level": self.level.label if self.level is not None else None,
            "signer": self.signer.to_dict() if self.signer else None,
            "signing_time": _iso(self.signing_time),
            "timestamp": _iso(self.timestamp),
            "trust_domain": self.trust_domain,
            "revocation": self.revocation,
            "content_intact": self.content_intact,
            "signature_intact": self.signature_intact,
            "digest_algorithm": self.digest_algorithm,
            "signature_algorithm": self.signature_algorithm,
            "chain": [c.subject.rfc4514_string() for c in self.chain],
            "validation_time": _iso(self.validation_time),
            "timestamp_authority": self.timestamp_authority,
            "jurisdiction": self.jurisdiction,
            "evidence": list(self.evidence),
            "missing_evidence": list(self.missing_evidence),
            "cosigners": [r.to_dict() for r in self.cosigners],
            "countersignatures": [r.to_dict() for r in self.countersignatures],
            "errors": [e.to_dict() for e in self.errors],
            "warnings": [w.to_dict() for w in self.warnings],
        }

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def __str__(self) -> str:
        verdict = "VALID" if self.valid else "NOT VALID"
        lines = [f"signature: {verdict}"]
        indication = self.indication.value
        if self.subindication is not None:
            indication += f" / {self.subindication.value}"
        lines.append(f"indication: {indication}")
        if self.level is not None:
            lines.append(f"level: {self.level.label}")
        if self.signer is not None:
            lines.append(f"signer: {self.signer.subject}")
            lines.append(f"issuer: {self.signer.issuer}")
            lines.append(f"serial: {self.signer.serial:x}")
        if self.account is not None:
            lines.append(f"account: {self.account}")
        if self.factors:
            lines.append(f"authenticated with: {', '.join(self.factors)}")
        if self.signing_time is not None:
            lines.append(f"signing time (claimed by signer): {self.signing_time.isoformat()}")
        if self.timestamp is not None:
            lines.append(
                f"time-stamp (proof of existence): {self.timestamp.isoformat()}"
                f" by {self.timestamp_authority}"
            )
        if self.validation_time is not None:
            lines.append(f"path validated at: {self.validation_time.isoformat()}")
        if self.revocation is not None:
            lines.append(f"revocation: {self.revocation}")
        if self.trust_domain is not None and self.valid:
            lines.append(f"trusted in domain: {self.trust_domain}")
        if self.content_intact is not None:
            lines.append(f"content unchanged: {'yes' if self.content_intact else 'NO'}")
        if self.jurisdiction is not None:
            lines.append(f"level profile: {self.jurisdiction}")
            lines.extend(f"  evidence found: {e}" for e in self.evidence)
            lines.extend(f"  evidence missing: {e}" for e in self.missing_evidence)
        lines.extend(f"error [{e.code}]: {e.message}" for e in self.errors)
        lines.extend(f"warning [{w.code}]: {w.message}" for w in self.warnings)
        for kind, reports in (
            ("co-signer", self.cosigners),
            ("counter-signer", self.countersignatures),
        ):
            for index, other in enumerate(reports, 1):
                lines.append(f"{kind} {index}:")
                lines.extend("  " + line for line in str(other).splitlines())
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from esign.html_views import report_html

        return report_html(self)
