"""HTML views for notebooks: what Jupyter shows for esign's objects.

Each object's ``_repr_html_`` calls one function here, so the markup lives in one place
and nothing of it is imported until a notebook asks. Every value is escaped; lists are
real ``<ul>`` lists (never a Python literal); an envelope's view shows sizes, never the
document. Styling is inline and minimal, so the views read the same in Jupyter, VS Code
and an exported HTML page.
"""

from __future__ import annotations

import datetime
import heapq
import html
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from cryptography import x509

if TYPE_CHECKING:
    from esign.certs.authority import CertificateAuthority
    from esign.certs.trust import PathResult
    from esign.envelope.reader import OpenedEnvelope
    from esign.signing.report import VerificationReport

GREEN, RED, AMBER, GREY = "#1a7f37", "#cf222e", "#9a6700", "#57606a"
_BOX = (
    "border:1px solid #d0d7de;border-radius:6px;padding:8px 12px;margin:4px 0;"
    "overflow-wrap:anywhere;"
)
# Jupyter's own CSS right-aligns and stripes tables: every cell says how it wants to look.
_TH = (
    "text-align:left;padding:2px 12px 2px 0;vertical-align:top;color:#57606a;background:none;"
    "white-space:nowrap;overflow-wrap:normal;"
)
_TD = "text-align:left;padding:2px 0;vertical-align:top;background:none;"


#: Short names for the subject attributes qualified certificates use (RFC 4514 has none).
_NAMES = {
    x509.NameOID.SERIAL_NUMBER: "serialNumber",
    x509.NameOID.GIVEN_NAME: "GN",
    x509.NameOID.SURNAME: "SN",
    x509.NameOID.ORGANIZATION_IDENTIFIER: "organizationIdentifier",
}


def esc(value: object) -> str:
    return html.escape(str(value))


def badge(text: str, colour: str) -> str:
    """A coloured pill (a level, a verdict)."""
    return (
        f"<span style='background:{colour};color:#fff;border-radius:10px;"
        f"padding:1px 8px;font-size:90%;font-weight:600'>{esc(text)}</span>"
    )


def items(values: Iterable[object], empty: str = "none") -> str:
    """An HTML list, or a grey word when there is nothing."""
    rows = "".join(f"<li>{esc(v)}</li>" for v in values)
    style = "margin:0;padding-left:18px;text-align:left"
    return f"<ul style='{style}'>{rows}</ul>" if rows else grey(empty)


def grey(text: str) -> str:
    return f"<span style='color:{GREY}'>{esc(text)}</span>"


def table(rows: Sequence[tuple[str, str]]) -> str:
    """Label/HTML pairs; the HTML is already escaped by the caller."""
    body = "".join(
        f"<tr style='background:none'><th style='{_TH}'>{esc(k)}</th>"
        f"<td style='{_TD}'>{v}</td></tr>"
        for k, v in rows
    )
    return f"<table style='border-collapse:collapse'>{body}</table>"


def box(title: str, body: str) -> str:
    head = f"<div style='font-weight:600;margin-bottom:4px'>{title}</div>"
    return f"<div style='{_BOX}'>{head}{body}</div>"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def timeline(start: datetime.datetime, end: datetime.datetime, now: datetime.datetime) -> str:
    """A bar from notBefore to notAfter with a marker at ``now`` (or a word if outside)."""
    total = (end - start).total_seconds()
    done = (now - start).total_seconds()
    if total <= 0 or done < 0:
        state, fraction, colour = "not yet valid", 0.0, AMBER
    elif done > total:
        state, fraction, colour = "expired", 1.0, RED
    else:
        left = end - now
        state, fraction, colour = f"{left.days} days left", done / total, GREEN
    bar = (
        "<div style='width:240px;height:8px;background:#eaeef2;border-radius:4px;"
        "display:inline-block;vertical-align:middle;margin:0 6px'>"
        f"<div style='width:{max(fraction, 0.02) * 100:.0f}%;height:8px;background:{colour};"
        "border-radius:4px'></div></div>"
    )
    return f"{esc(start.date())}{bar}{esc(end.date())} {grey(state)}"


# --- certificates -----------------------------------------------------------------------------


def certificate_html(certificate: x509.Certificate, now: datetime.datetime | None = None) -> str:
    """Subject, issuer, validity timeline, key, usages and qualified statements."""
    from esign.certs.summary import describe

    s = describe(certificate)
    qualified = [
        statement["statement"]
        + (" " + ", ".join(statement["types"]) if "types" in statement else "")
        for statement in s["qualified"].get("eidas", [])
    ]
    qualified += [f"{k}: {v}" for k, v in s["qualified"].get("ru", {}).items()]
    kind = "CA" if s["ca"] else s["profile"]
    rows = [
        ("issuer", esc(s["issuer"])),
        ("serial", f"<code>{esc(s['serial'])}</code>"),
        (
            "valid",
            timeline(
                certificate.not_valid_before_utc, certificate.not_valid_after_utc, now or _now()
            ),
        ),
        ("key", esc(s["key"])),
        ("key usage", items(s["key_usage"])),
        ("extended usage", items(s["extended_key_usage"])),
        ("qualified statements", items(qualified, "none (not a qualified certificate)")),
    ]
    if s["emails"] or s["uris"]:
        rows.append(("alternative names", items([*s["emails"], *s["uris"]])))
    if s["policies"]:
        rows.append(("policies", items(s["policies"])))
    title = f"{esc(name(certificate))} {badge(kind, GREY)}"
    return box(title, table(rows))


class CertificateView:
    """A certificate as a notebook shows it: ``CertificateView(cert)`` in a cell."""

    def __init__(self, certificate: x509.Certificate) -> None:
        self.certificate = certificate

    def __repr__(self) -> str:
        c = self.certificate
        return f"<Certificate {c.subject.rfc4514_string()} serial 0x{c.serial_number:x}>"

    def _repr_html_(self) -> str:
        return certificate_html(self.certificate)


# --- path results and reports -------------------------------------------------------------------


def name(certificate: x509.Certificate) -> str:
    """The subject in RFC 4514 form, with short names for qualified attributes."""
    return certificate.subject.rfc4514_string(_NAMES)


def _chain(chain: Sequence[x509.Certificate]) -> str:
    if not chain:
        return grey("no chain built")
    return items(f"{name(c)} (serial {c.serial_number:x})" for c in chain)


def path_html(result: PathResult) -> str:
    verdict = badge("trusted", GREEN) if result.trusted else badge("not trusted", RED)
    statuses = [
        f"{s.subject}: {s.status.value}" + (f" ({s.source})" if s.source else "")
        for s in result.revocation
    ]
    rows = [
        ("trust domain", esc(result.domain)),
        ("chain (leaf first)", _chain(result.chain)),
        (
            "revocation",
            items(statuses, "checked, nothing below the anchor")
            if result.revocation_checked
            else grey("not checked (opted out)"),
        ),
        ("failures", items(f"{f.code}: {f.message}" for f in result.failures)),
    ]
    if result.validated_at is not None:
        rows.insert(1, ("validated at", esc(result.validated_at.isoformat())))
    return box(f"certificate path {verdict}", table(rows))


_LEVEL_COLOURS = {"qualified": "#0969da", "advanced": GREEN, "simple": AMBER}


def report_html(report: VerificationReport) -> str:
    """A level badge, the indication, who and when, evidence found and missing as lists."""
    level = report.level.name.lower() if report.level is not None else None
    verdict = badge("valid", GREEN) if report.valid else badge("not valid", RED)
    level_badge = badge(level, _LEVEL_COLOURS.get(level, GREY)) if level else grey("no level")
    indication = report.indication.value + (
        f" / {report.subindication.value}" if report.subindication is not None else ""
    )
    rows: list[tuple[str, str]] = [("indication", f"<code>{esc(indication)}</code>")]
    if report.signer is not None:
        rows.append(("signer", esc(name(report.signer.certificate))))
        rows.append(("issuer", esc(report.signer.issuer)))
        rows.append(("serial", f"<code>{report.signer.serial:x}</code>"))
    if report.account is not None:
        rows.append(("account", esc(report.account) + " " + grey(", ".join(report.factors))))
    for label, moment in (
        ("signing time (claimed)", report.signing_time),
        ("time-stamp", report.timestamp),
        ("validated at", report.validation_time),
    ):
        if moment is not None:
            rows.append((label, esc(moment.isoformat())))
    if report.content_intact is not None:
        rows.append(("content unchanged", "yes" if report.content_intact else badge("NO", RED)))
    if report.chain:
        rows.append(("chain", _chain(report.chain)))
    if report.jurisdiction is not None:
        rows.append(("level profile", esc(report.jurisdiction)))
        rows.append(("evidence found", items(report.evidence)))
        rows.append(("evidence missing", items(report.missing_evidence)))
    if report.errors:
        rows.append(("errors", items(f"{e.code}: {e.message}" for e in report.errors)))
    if report.warnings:
        rows.append(("warnings", items(f"{w.code}: {w.message}" for w in report.warnings)))
    others = [
        f"<div><i>{kind} {n}</i>{report_html(other)}</div>"
        for kind, group in (
            ("co-signer", report.cosigners),
            ("counter-signer", report.countersignatures),
        )
        for n, other in enumerate(group, 1)
    ]
    return box(f"signature {verdict} {level_badge}", table(rows) + "".join(others))


def envelope_html(opened: OpenedEnvelope) -> str:
    """Recipients, signer and sizes; never the document."""
    report = opened.report
    signer = esc(name(report.signer.certificate)) if report.signer else grey("unknown")
    rows = [
        ("document", f"{len(opened.content):,} bytes " + grey("(content not shown)")),
        ("signature", f"{len(opened.signature):,} bytes"),
        ("signer", signer),
        ("sealed for", items(opened.intended_recipients, "not named by the signer")),
    ]
    return box("opened envelope", table(rows) + report_html(report))


def authority_html(ca: CertificateAuthority, recent: int = 5) -> str:
    """Counts, the most recent issuance and revocations (the registry is read once)."""
    revoked = ca.registry.revoked()
    latest = heapq.nlargest(recent, ca.registry.records(), key=lambda r: r.not_before)
    last_revoked = sorted(revoked, key=lambda r: r.revoked_at or r.not_before)[-recent:]
    rows = [
        ("certificate", certificate_html(ca.certificate)),
        ("issued", f"{ca.registry.count():,}"),
        ("revoked", f"{len(revoked):,}"),
        (
            "recently issued",
            items(f"{r.subject} ({r.profile}, serial {r.serial:x})" for r in latest),
        ),
        (
            "recently revoked",
            items(
                f"{r.subject} (serial {r.serial:x}): "
                f"{r.reason.value if r.reason else '?'} at "
                f"{r.revoked_at.isoformat() if r.revoked_at else '?'}"
                for r in reversed(last_revoked)
            ),
        ),
    ]
    return box(f"certificate authority {esc(ca.certificate.subject.rfc4514_string())}", table(rows))


def html_of(value: Any) -> str:
    """The HTML view of any object this module knows (a certificate included)."""
    if isinstance(value, x509.Certificate):
        return certificate_html(value)
    view: str = value._repr_html_()
    return view
