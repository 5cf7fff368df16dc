"""The level decision: SIMPLE < ADVANCED < QUALIFIED, from evidence.

A cryptographically valid signature whose path validates in the verifier's trust domain is
ADVANCED. It is QUALIFIED only when the signer certificate carries the qualified content of
the chosen jurisdiction profile *and* its issuer is on a trusted list the verifier supplies.
Nothing the signer asserts about itself decides the level: only certificate content that the
issuing CA signed, and lists the verifier chose.

Every piece of evidence is named, found or missing, so a report can say
"not qualified: no QcSSCD statement".
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography import x509
from pyhanko.sign.ades.qualified_asn1 import QcStatements

from esign.certs import qualified as q
from esign.certs.trusted_list import JURISDICTIONS, TrustedList
from esign.errors import PARSE_ERRORS
from esign.signing.report import SignatureLevel

#: How many QC statements a certificate may carry before we stop reading (parser bound).
MAX_QC_STATEMENTS = 32


@dataclass
class LevelDecision:
    """The level a valid signature reaches, and the evidence behind it."""

    level: SignatureLevel
    jurisdiction: str
    found: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        """One line: why the signature is (not) qualified."""
        if self.level is SignatureLevel.QUALIFIED:
            return f"qualified under {self.jurisdiction}: " + "; ".join(self.found)
        return "not qualified: " + "; ".join(self.missing)


def qc_statements(certificate: x509.Certificate) -> dict[str, list[str]]:
    """The QC statements of ``certificate``: statement OID -> QcType OIDs (if any).

    Raises ValueError for a malformed or oversized extension (the caller names it).
    """
    try:
        ext = certificate.extensions.get_extension_for_oid(q.QC_STATEMENTS_EXTENSION)
    except x509.ExtensionNotFound:
        return {}
    value = ext.value
    raw = value.value if isinstance(value, x509.UnrecognizedExtension) else value.public_bytes()
    statements = QcStatements.load(raw, strict=True)  # pyHanko's ETSI EN 319 412-5 types
    if len(statements) > MAX_QC_STATEMENTS:
        raise ValueError(f"more than {MAX_QC_STATEMENTS} QC statements")
    found: dict[str, list[str]] = {}
    for statement in statements:
        oid = statement["statement_id"].dotted
        types: list[str] = []
        info = statement["statement_info"]
        if oid == q.QC_TYPE.dotted_string and info.native is not None:
            types = [t.dotted for t in info]
        found[oid] = types
    return found


def _policies(certificate: x509.Certificate) -> set[str]:
    try:
        ext = certificate.extensions.get_extension_for_class(x509.CertificatePolicies)
    except x509.ExtensionNotFound:
        return set()
    return {p.policy_identifier.dotted_string for p in ext.value}


def _subject_oids(certificate: x509.Certificate) -> set[str]:
    return {attr.oid.dotted_string for attr in certificate.subject}


def _has_extension(certificate: x509.Certificate, oid: x509.ObjectIdentifier) -> bool:
    try:
        certificate.extensions.get_extension_for_oid(oid)
    except x509.ExtensionNotFound:
        return False
    return True


def _eidas_evidence(certificate: x509.Certificate) -> tuple[list[str], list[str]]:
    found: list[str] = []
    missing: list[str] = []
    try:
        statements = qc_statements(certificate)
    except PARSE_ERRORS as exc:
        return [], [f"malformed qcStatements extension ({exc})"]

    def check(ok: bool, yes: str, no: str) -> None:
        (found if ok else missing).append(yes if ok else no)

    check(
        q.QC_COMPLIANCE.dotted_string in statements,
        "QcCompliance statement",
        "no QcCompliance statement",
    )
    types = statements.get(q.QC_TYPE.dotted_string)
    check(
        types is not None and q.QC_TYPE_ESIGN.dotted_string in types,
        "QcType esign",
        "no QcType esign statement (qualified certificate for electronic signatures)",
    )
    policies = _policies(certificate)
    qualified_policy = {p.dotted_string for p in q.QUALIFIED_POLICIES} & policies
    check(
        bool(qualified_policy),
        f"qualified certificate policy {', '.join(sorted(qualified_policy))}",
        "no qualified certificate policy (ETSI EN 319 411-2 QCP-n/QCP-l)",
    )
    check(
        q.QC_SSCD.dotted_string in statements,
        "QcSSCD statement (key on a qualified signature creation device)",
        "no QcSSCD statement",
    )
    return found, missing


def _ru_evidence(certificate: x509.Certificate) -> tuple[list[str], list[str]]:
    found: list[str] = []
    missing: list[str] = []
    subject = _subject_oids(certificate)
    person = q.RU_SNILS.dotted_string in subject
    legal = q.RU_OGRN.dotted_string in subject or q.RU_OGRNIP.dotted_string in subject
    if person or legal:
        found.append("SNILS" if person else "OGRN/OGRNIP")
    else:
        missing.append("no SNILS or OGRN in the subject")
    if q.RU_INN.dotted_string in subject or q.RU_INNLE.dotted_string in subject:
        found.append("INN")
    else:
        missing.append("no INN or INNLE in the subject")
    for oid, label in (
        (q.RU_SUBJECT_SIGN_TOOL, "subjectSignTool"),
        (q.RU_ISSUER_SIGN_TOOL, "issuerSignTool"),
    ):
        if _has_extension(certificate, oid):
            found.append(f"{label} extension")
        else:
            missing.append(f"no {label} extension")
    classes = {p.dotted_string for p in q.RU_CLASS_POLICIES} & _policies(certificate)
    if classes:
        found.append(f"signature tool class policy {', '.join(sorted(classes))}")
    else:
        missing.append("no signature tool class policy (KC1..KA1)")
    return found, missing


def _moment(at: datetime.datetime | None) -> datetime.datetime:
    if at is None:
        return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    return at if at.tzinfo else at.replace(tzinfo=datetime.timezone.utc)


def _subject(certificate: x509.Certificate) -> str:
    return certificate.subject.rfc4514_string()


def _listing_evidence(
    chain: Sequence[x509.Certificate], lists: Sequence[TrustedList], at: datetime.datetime
) -> tuple[str | None, str | None]:
    """(found, missing): whether the signer's issuing CA is a listed service at ``at``.

    Only the direct issuer counts (ETSI TS 119 615: the certificate's issuer must be the
    qualified service itself). A root or other CA above it being listed does not make a
    sub-CA's certificates qualified, and a listed service counts only inside the window
    its "granted" status covers.
    """
    if len(chain) < 2:
        return None, "the signer certificate has no issuing CA in the path"
    issuer = chain[1]
    when = at.isoformat()
    entries = [(entry, tl) for tl in lists for entry in tl.listings(issuer)]
    for entry, tl in entries:
        if entry.covers(at):
            service = f" as {entry.service_name!r}" if entry.service_name else ""
            return (
                f"issuing CA {_subject(issuer)} is on {tl.name}{service}, qualified status"
                f" granted at {when}",
                None,
            )
    if entries:
        reasons = "; ".join(sorted({entry.outside(at) for entry, _ in entries}))
        return None, f"issuer {_subject(issuer)} not on the trusted list at {when}: {reasons}"
    above = [ca for ca in chain[2:] for tl in lists if tl.lists_issuer(ca, at=at)]
    if above:
        return None, (
            f"issuing CA {_subject(issuer)} is not the listed service (only"
            f" {_subject(above[0])}, a CA above it, is listed; ETSI TS 119 615 needs the"
            " issuer itself)"
        )
    return None, f"issuing CA {_subject(issuer)} is not on the verifier's trusted list"


def decide_level(
    chain: Sequence[x509.Certificate],
    *,
    trusted_lists: Sequence[TrustedList] = (),
    jurisdiction: str = "eidas",
    at: datetime.datetime | None = None,
) -> LevelDecision:
    """The level of a signature that is already valid and trusted (chain leaf first).

    ADVANCED is the floor; QUALIFIED needs the jurisdiction's certificate content and the
    leaf's *issuing* CA listed on one of the ``trusted_lists`` of that jurisdiction, with
    its qualified status granted at ``at``: the signing time a time-stamp proves, else the
    verification time (``None`` means now).
    """
    if jurisdiction not in JURISDICTIONS:
        raise ValueError(
            f"unknown jurisdiction {jurisdiction!r}; known: {', '.join(JURISDICTIONS)}"
        )
    moment = _moment(at)
    decision = LevelDecision(SignatureLevel.ADVANCED, jurisdiction)
    decision.found.append("valid signature, path validated in the verifier's trust domain")
    leaf = chain[0]
    evidence = _eidas_evidence if jurisdiction == "eidas" else _ru_evidence
    found, missing = evidence(leaf)
    decision.found.extend(found)
    decision.missing.extend(missing)
    lists = [t for t in trusted_lists if t.jurisdiction == jurisdiction]
    if not lists:
        decision.missing.append(f"no {jurisdiction} trusted list supplied by the verifier")
    else:
        listed, unlisted = _listing_evidence(chain, lists, moment)
        if listed is not None:
            decision.found.append(listed)
        if unlisted is not None:
            decision.missing.append(unlisted)
    if not decision.missing:
        decision.level = SignatureLevel.QUALIFIED
    return decision
