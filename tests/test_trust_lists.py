"""Trusted lists: ETSI TS 119 612 written by esign and read by pyHanko, JSON, PEM; domains."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from esign.certs import CertificateAuthority
from esign.certs.trust import TrustContext, TrustDomains
from esign.certs.trusted_list import (
    ListedIssuer,
    TrustedList,
    load_trusted_list,
    read_etsi_trusted_list,
    read_json_trusted_list,
    read_trusted_list,
)
from esign.errors import MalformedInputError, TrustedListError
from esign.keys import generate_key

pytest.importorskip("signxml", reason="ETSI trusted lists need pyhanko[etsi]")

UTC = datetime.timezone.utc
T0 = datetime.datetime(2026, 1, 10, tzinfo=UTC)
LATER = datetime.datetime(2026, 3, 3, tzinfo=UTC)


@pytest.fixture(scope="module")
def qualified_ca() -> CertificateAuthority:
    return CertificateAuthority.create_root("CN=Accredited CA,O=QTSP,C=RU", clock=lambda: T0)


@pytest.fixture(scope="module")
def operator() -> tuple[object, x509.Certificate]:
    """The scheme operator that signs the list (its certificate is published separately)."""
    ca = CertificateAuthority.create_root("CN=Scheme Operator Root", clock=lambda: T0)
    key = generate_key("ec-p256")
    return key, ca.issue(key.public_key(), subject="CN=Trusted List Signer")


def _list(ca: CertificateAuthority, **kw: object) -> TrustedList:
    entry = ListedIssuer(ca.certificate, service_name="Accredited CA", valid_from=T0)
    return TrustedList(jurisdiction="ru", name="RU: accredited CAs", entries=[entry], **kw)  # type: ignore[arg-type]


def test_signed_etsi_list_round_trip(
    qualified_ca: CertificateAuthority, operator: tuple[object, x509.Certificate]
) -> None:
    xml = _list(qualified_ca).to_etsi_xml(scheme_operator="Ministry", sign_with=operator)
    assert b"<tsl:TrustServiceStatusList" in xml and b"SignedProperties" in xml
    tl = read_trusted_list(xml, signer_certificates=[operator[1]])
    assert tl.jurisdiction == "ru" and tl.territory == "RU"
    assert tl.name == "RU: accredited CAs"
    assert tl.lists_issuer(qualified_ca.certificate, at=LATER)
    assert not tl.lists_issuer(qualified_ca.certificate, at=T0 - datetime.timedelta(days=1))
    assert tl.next_update is not None and tl.next_update > tl.issued  # type: ignore[operator]


def test_signed_etsi_list_is_checked(
    qualified_ca: CertificateAuthority, operator: tuple[object, x509.Certificate]
) -> None:
    xml = _list(qualified_ca).to_etsi_xml(scheme_operator="Ministry", sign_with=operator)
    tampered = xml.replace(b"RU: accredited CAs", b"RU: accredited CAz")
    with pytest.raises(TrustedListError, match="signature"):
        read_trusted_list(tampered, signer_certificates=[operator[1]])
    other_key = generate_key("ec-p256")
    stranger = CertificateAuthority.create_root("CN=Stranger").issue(
        other_key.public_key(), subject="CN=x"
    )
    with pytest.raises(TrustedListError):
        read_trusted_list(xml, signer_certificates=[stranger])
    with pytest.raises(TrustedListError, match="scheme operator"):
        read_trusted_list(xml)


def test_unsigned_etsi_list_only_when_asked(qualified_ca: CertificateAuthority) -> None:
    xml = _list(qualified_ca).to_etsi_xml(scheme_operator="Tax Service", territory="RU")
    with pytest.raises(TrustedListError):
        read_etsi_trusted_list(xml)
    tl = read_etsi_trusted_list(xml, verify_signature=False)
    assert tl.lists_issuer(qualified_ca.certificate)
    eidas = read_etsi_trusted_list(
        _list(qualified_ca).to_etsi_xml(scheme_operator="X", territory="DE"), verify_signature=False
    )
    assert eidas.jurisdiction == "eidas"


def test_pyhanko_reads_what_esign_writes(qualified_ca: CertificateAuthority) -> None:
    from pyhanko.sign.validation.qualified.eutl_parse import trust_list_to_registry_unsafe

    xml = _list(qualified_ca).to_etsi_xml(scheme_operator="Tax Service").decode()
    registry, problems = trust_list_to_registry_unsafe(xml)
    assert not problems
    (authority,) = registry.known_certificate_authorities
    assert authority.certificate.dump() == qualified_ca.certificate.public_bytes(
        __import__(
            "cryptography.hazmat.primitives.serialization", fromlist=["Encoding"]
        ).Encoding.DER
    )


def test_json_round_trip(qualified_ca: CertificateAuthority, tmp_path: object) -> None:
    tl = _list(qualified_ca)
    text = tl.to_json()
    doc = json.loads(text)
    assert doc["format"] == "esign-trusted-list/1" and doc["jurisdiction"] == "ru"
    back = read_json_trusted_list(text)
    assert back.lists_issuer(qualified_ca.certificate, at=LATER)
    assert not back.lists_issuer(qualified_ca.certificate, at=T0 - datetime.timedelta(seconds=1))
    with pytest.raises(TrustedListError, match="not for"):
        read_trusted_list(text.encode(), jurisdiction="eidas")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"{}",
        b'{"format": "esign-trusted-list/1", "issuers": []}',
        b'{"format": "esign-trusted-list/1", "issuers": [{"certificate": "nope"}]}',
        b'{"format": "esign-trusted-list/1", "jurisdiction": "mars", "issuers": [1]}',
        b"<TrustServiceStatusList/>",
        b"<not xml",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        b"\x00\x01binary",
    ],
)
def test_malformed_lists_are_named_errors(data: bytes) -> None:
    with pytest.raises(TrustedListError):
        read_trusted_list(data, verify_signature=False)
    assert issubclass(TrustedListError, MalformedInputError)


def test_external_entities_are_not_resolved(tmp_path: object) -> None:
    xml = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/hostname">]>'
        b'<tsl:TrustServiceStatusList xmlns:tsl="http://uri.etsi.org/02231/v2#">'
        b"<tsl:SchemeInformation><tsl:SchemeTerritory>&e;</tsl:SchemeTerritory>"
        b"</tsl:SchemeInformation></tsl:TrustServiceStatusList>"
    )
    try:
        tl = read_trusted_list(xml, verify_signature=False)
    except TrustedListError:
        return
    secret = Path("/etc/hostname")
    if secret.exists() and secret.read_text().strip():
        assert secret.read_text().strip() not in (tl.territory or "")


def test_pem_bundle(qualified_ca: CertificateAuthority, tmp_path: object) -> None:
    path = Path(str(tmp_path)) / "qualified.pem"
    path.write_bytes(qualified_ca.certificate.public_bytes(Encoding.PEM))
    tl = load_trusted_list(path, jurisdiction="ru")
    assert tl.jurisdiction == "ru" and tl.lists_issuer(qualified_ca.certificate, at=LATER)


def test_qualified_is_trusted_everywhere_enhanced_only_at_home(
    qualified_ca: CertificateAuthority,
) -> None:
    """The tax service's own CA is trusted only in its domain; the accredited CA, on the
    national list, is trusted by any verifier that reads the list."""
    tax_ca = CertificateAuthority.create_root("CN=Tax Service CA", clock=lambda: T0)
    enhanced = tax_ca.issue(generate_key("ec-p256").public_key(), subject="CN=Ivanov")
    qualified = qualified_ca.issue(generate_key("ec-p256").public_key(), subject="CN=Ivanov Q")
    tl = read_trusted_list(_list(qualified_ca).to_json().encode())
    year = datetime.timedelta(days=365)
    national = TrustContext.from_trusted_list(tl, crls=[qualified_ca.crl(next_update=year)])
    tax_domain = TrustContext(
        [tax_ca.certificate],
        crls=[tax_ca.crl(next_update=year)],
        name="tax service",
        trusted_lists=[tl],
    )
    bank = TrustDomains([national])
    assert bank.validate(qualified, at=LATER).accepted_by == "ru: RU: accredited CAs"
    assert bank.validate(qualified, at=LATER).trusted_list == "RU: accredited CAs"
    assert not bank.validate(enhanced, at=LATER).trusted
    at_home = TrustDomains([tax_domain, national])
    result = at_home.validate(enhanced, at=LATER)
    assert result.accepted_by == "tax service" and result.trusted_list is None
    assert at_home.validate(qualified, at=LATER).trusted_list == "RU: accredited CAs"
