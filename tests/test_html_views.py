"""The notebook views: real lists (not Python literals), escaped values, no content leaks."""

from __future__ import annotations

import datetime
from html.parser import HTMLParser

from esign import open_envelope, seal, sign, verify
from esign.certs import CertificateAuthority, TrustContext
from esign.certs.trusted_list import TrustedList
from esign.html_views import CertificateView, timeline
from esign.keys import generate_key

from .conftest import Pki

SECRET = b"<script>alert('the return')</script> income 1 250 000"


class _Text(HTMLParser):
    """Collects text and the tags used, and fails on malformed nesting of <li>."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(markup: str) -> _Text:
    parser = _Text()
    parser.feed(markup)
    return parser


def test_report_lists_evidence_as_html_lists(pki: Pki) -> None:
    report = verify(
        sign(b"doc", signer=(pki.ivanov_key, pki.ivanov_cert)),
        b"doc",
        trust=pki.trust,
        trusted_lists=[TrustedList("eidas", [pki.ca.certificate])],
    )
    view = parse(report._repr_html_())
    text = " ".join(view.text)
    assert "advanced" in text and "TOTAL-PASSED" in text
    assert "no QcCompliance statement" in text  # evidence missing, one <li> each
    assert view.tags.count("li") >= len(report.evidence) + len(report.missing_evidence)
    assert "['" not in text and '["' not in text  # no Python literals any more


def test_envelope_view_shows_sizes_never_the_document(pki: Pki) -> None:
    envelope = seal(SECRET, signer=(pki.ivanov_key, pki.ivanov_cert), recipients=[pki.tax_cert])
    opened = open_envelope(envelope, recipient=(pki.tax_key, pki.tax_cert), trust=pki.trust)
    markup = opened._repr_html_()
    assert "1 250 000" not in markup and "<script>" not in markup
    text = " ".join(parse(markup).text)
    assert f"{len(SECRET):,} bytes" in text and "CN=Ivan Ivanov" in text
    assert "CN=Tax Service (certificate serial" in text


def test_certificate_path_and_ca_views(pki: Pki) -> None:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "View <b>Root</b>")])
    ca = CertificateAuthority.create_root(name)  # escaped in the view, not markup
    key = generate_key("ec-p256")
    cert = ca.issue(key.public_key(), subject="CN=Leaving", profile="signing")
    ca.revoke(cert, "keyCompromise")
    ca_text = " ".join(parse(ca._repr_html_()).text)
    assert "CN=View \\<b\\>Root" in ca_text and "recently revoked" in ca_text  # RFC 4514
    assert "<b>Root</b>" not in ca._repr_html_()
    assert "key_compromise" in ca_text or "keyCompromise" in ca_text
    cert_text = " ".join(parse(CertificateView(cert)._repr_html_()).text)
    for word in ("CN=Leaving", "issuer", "digitalSignature", "qualified statements", "days left"):
        assert word in cert_text, word
    result = TrustContext([ca.certificate], crls=[ca.crl()]).validate(cert)
    path_text = " ".join(parse(result._repr_html_()).text)
    assert "not trusted" in path_text and "revoked" in path_text


def test_timeline_states() -> None:
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    end = start + datetime.timedelta(days=100)
    assert "expired" in timeline(start, end, end + datetime.timedelta(days=1))
    assert "not yet valid" in timeline(start, end, start - datetime.timedelta(days=1))
    assert "50 days left" in timeline(start, end, start + datetime.timedelta(days=50))
