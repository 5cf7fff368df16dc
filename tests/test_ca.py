"""The certificate authority: issuance by profile, CSRs, qualified certificates, registry."""

from __future__ import annotations

import datetime
import sqlite3
from pathlib import Path

import pytest
from asn1crypto import core
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.sign.ades import qualified_asn1

from esign.certs import CertificateAuthority, TrustContext
from esign.certs import qualified as q
from esign.certs.authority import IssueRequest
from esign.certs.csr import create_csr, load_csr
from esign.certs.profiles import IssuerSignTool, QualifiedSettings
from esign.certs.registry import MemoryRegistry, SqliteRegistry
from esign.certs.summary import describe
from esign.errors import (
    CertificateNotFoundError,
    CertificateProfileError,
    EsignError,
    InvalidCsrError,
    MalformedInputError,
    RegistryBusyError,
    RegistryError,
    RegistryUnavailableError,
    RevocationError,
)
from esign.keys import generate_key
from tests.conftest import run

PDS = (("https://qca.example/pds-en.pdf", "en"),)
RU_TOOLS = IssuerSignTool(
    "CryptoPro CSP 5.0",
    "CryptoPro UC 2.0",
    "SF/124-3966 of 15.01.2021",
    "SF/128-3868 of 23.07.2020",
)
QUALIFIED = QualifiedSettings(
    pds=PDS, issuer_sign_tool=RU_TOOLS, subject_sign_tool="CryptoPro CSP 5.0"
)
EIDAS_SUBJECT = "serialNumber=PNODE-1234,GN=Max,SN=Muster,CN=Max Muster,C=DE"
RU_SUBJECT = "SNILS=11223344595,INN=500100732259,SN=Ivanov,GN=Ivan,CN=Ivan Ivanov,C=RU"


def ext(
    cert: x509.Certificate, kind: type[x509.ExtensionType]
) -> x509.Extension[x509.ExtensionType]:
    return cert.extensions.get_extension_for_class(kind)


@pytest.fixture(scope="module")
def root() -> CertificateAuthority:
    return CertificateAuthority.create_root(
        "CN=Test Root,O=Tax Service",
        crl_url="http://127.0.0.1/root.crl",
        ocsp_url="http://127.0.0.1/ocsp",
        ca_issuers_url="http://127.0.0.1/root.cer",
        qualified=QUALIFIED,
    )


# -- issuance -----------------------------------------------------------------------------------


def test_issued_certificate_carries_every_rfc5280_field(root: CertificateAuthority) -> None:
    key = generate_key("ec-p256")
    cert = root.issue(
        key.public_key(),
        subject="CN=Ivan Ivanov,O=Tax Service",
        emails=["ivanov@example.org"],
        uris=["https://example.org/ivanov"],
        days=30,
    )
    assert 0 < cert.serial_number < 1 << 159  # positive, at most 20 octets
    assert cert.version == x509.Version.v3
    assert cert.issuer == root.certificate.subject
    life = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert datetime.timedelta(days=30) <= life <= datetime.timedelta(days=30, minutes=6)
    assert ext(cert, x509.BasicConstraints).critical
    assert not ext(cert, x509.BasicConstraints).value.ca  # type: ignore[attr-defined]
    usage = ext(cert, x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment  # type: ignore[attr-defined]
    assert not usage.key_cert_sign  # type: ignore[attr-defined]
    san = ext(cert, x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == ["ivanov@example.org"]  # type: ignore[attr-defined]
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [  # type: ignore[attr-defined]
        "https://example.org/ivanov"
    ]
    ski = ext(cert, x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    aki = ext(cert, x509.AuthorityKeyIdentifier).value
    root_ski = ext(root.certificate, x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == root_ski.digest  # type: ignore[attr-defined]
    aia = ext(cert, x509.AuthorityInformationAccess).value
    assert {d.access_location.value for d in aia} == {  # type: ignore[attr-defined]
        "http://127.0.0.1/ocsp",
        "http://127.0.0.1/root.cer",
    }
    cdp = ext(cert, x509.CRLDistributionPoints).value
    assert cdp[0].full_name[0].value == "http://127.0.0.1/root.crl"  # type: ignore[index]
    cert.verify_directly_issued_by(root.certificate)


def test_serials_are_random_and_recorded(root: CertificateAuthority) -> None:
    key = generate_key("ec-p256")
    before = root.registry.count()
    serials = {root.issue(key.public_key(), subject=f"CN=u{i}").serial_number for i in range(20)}
    assert len(serials) == 20
    assert root.registry.count() == before + 20
    assert all(root.registry.get(s) is not None for s in serials)
    assert max(serials) - min(serials) > 1 << 100  # random, not a counter


@pytest.mark.parametrize(
    ("profile", "alg", "usages", "eku"),
    [
        ("signing", "ed25519", {"digital_signature", "content_commitment"}, "EMAIL_PROTECTION"),
        ("encryption", "rsa-3072", {"key_encipherment"}, "EMAIL_PROTECTION"),
        ("encryption", "ec-p256", {"key_agreement"}, "EMAIL_PROTECTION"),
        ("encryption", "x25519", {"key_agreement"}, "EMAIL_PROTECTION"),
        ("tsa", "ec-p384", {"digital_signature"}, "TIME_STAMPING"),
        ("ocsp", "ec-p256", {"digital_signature"}, "OCSP_SIGNING"),
    ],
)
def test_profiles_assert_their_usages(
    root: CertificateAuthority, profile: str, alg: str, usages: set[str], eku: str
) -> None:
    key = generate_key(alg)
    cert = root.issue(key.public_key(), subject=f"CN={profile}", profile=profile)
    usage = ext(cert, x509.KeyUsage).value
    names = [
        "digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
        "key_agreement", "key_cert_sign", "crl_sign",
    ]  # fmt: skip
    assert {n for n in names if getattr(usage, n)} == usages
    ekus = ext(cert, x509.ExtendedKeyUsage)
    assert list(ekus.value) == [getattr(ExtendedKeyUsageOID, eku)]  # type: ignore[call-overload]
    assert ekus.critical == (profile == "tsa")  # RFC 3161 §2.3
    has_nocheck = any(isinstance(e.value, x509.OCSPNoCheck) for e in cert.extensions)
    assert has_nocheck == (profile == "ocsp")
    assert describe(cert)["profile"] == profile


@pytest.mark.parametrize(
    ("profile", "alg"),
    [("signing", "x25519"), ("tsa", "x25519"), ("ocsp", "x25519"), ("ca", "x25519")],
)
def test_profile_refuses_a_key_it_cannot_honour(
    root: CertificateAuthority, profile: str, alg: str
) -> None:
    before = root.registry.count()
    with pytest.raises(CertificateProfileError, match="cannot sign"):
        root.issue(generate_key(alg).public_key(), subject="CN=x", profile=profile)
    assert root.registry.count() == before


def test_encryption_refuses_an_ed25519_key(root: CertificateAuthority) -> None:
    with pytest.raises(CertificateProfileError, match="RSA, EC, X25519 or ML-KEM"):
        root.issue(generate_key("ed25519").public_key(), subject="CN=x", profile="encryption")


def test_unknown_profile_and_bad_days(root: CertificateAuthority) -> None:
    key = generate_key("ec-p256").public_key()
    with pytest.raises(CertificateProfileError, match="known: attestation, ca, encryption"):
        root.issue(key, subject="CN=x", profile="bogus")
    with pytest.raises(ValueError, match="at least one day"):  # the caller's mistake
        root.issue(key, subject="CN=x", days=0)


def test_intermediate_path_length_and_validation() -> None:
    root = CertificateAuthority.create_root("CN=Root", path_length=1)
    mid = root.create_intermediate("CN=Issuing", path_length=5)
    constraints = ext(mid.certificate, x509.BasicConstraints).value
    assert constraints.ca and constraints.path_length == 0  # type: ignore[attr-defined]
    assert root.registry.get(mid.certificate.serial_number) is not None
    with pytest.raises(CertificateProfileError, match="path length is 0"):
        mid.create_intermediate("CN=Too deep")
    key = generate_key("ec-p256")
    leaf = mid.issue(key.public_key(), subject="CN=Leaf")
    result = TrustContext(
        [root.certificate], intermediates=[mid.certificate], crls=[root.crl(), mid.crl()]
    ).validate(leaf)
    assert result.trusted, result.failures


def test_validity_is_capped_by_the_ca() -> None:
    root = CertificateAuthority.create_root("CN=Short Root", days=10)
    cert = root.issue(generate_key("ec-p256").public_key(), subject="CN=x", days=365)
    assert cert.not_valid_after_utc == root.certificate.not_valid_after_utc


# -- CSR ----------------------------------------------------------------------------------------


def test_issue_from_csr_takes_key_subject_and_sans(root: CertificateAuthority) -> None:
    key = generate_key("ec-p384")
    csr = create_csr(key, x509.Name.from_rfc4514_string("CN=Petrov"), emails=("p@example.org",))
    cert = root.issue_from_csr(csr.public_bytes(Encoding.PEM), profile="signing")
    assert cert.public_key() == key.public_key()
    assert cert.subject == csr.subject
    san = ext(cert, x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == ["p@example.org"]  # type: ignore[attr-defined]
    override = root.issue_from_csr(csr.public_bytes(Encoding.DER), subject="CN=Override")
    assert override.subject.rfc4514_string() == "CN=Override"


def test_csr_with_a_bad_signature_is_refused(root: CertificateAuthority) -> None:
    key = generate_key("ec-p256")
    der = bytearray(
        create_csr(key, x509.Name.from_rfc4514_string("CN=Bad")).public_bytes(Encoding.DER)
    )
    der[-5] ^= 0x01  # inside the signature
    before = root.registry.count()
    with pytest.raises(InvalidCsrError, match="does not verify"):
        root.issue_from_csr(bytes(der))
    with pytest.raises(InvalidCsrError):
        load_csr(b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n")
    with pytest.raises(InvalidCsrError):
        load_csr(b"\x30\x03\x02\x01\x00")
    assert root.registry.count() == before


def test_csr_from_openssl_req(root: CertificateAuthority, openssl: str, tmp_path: Path) -> None:
    result = run(
        openssl, "req", "-new", "-newkey", "rsa:3072", "-nodes",
        "-keyout", tmp_path / "k.pem", "-subj", "/C=RU/O=Horns and Hooves/CN=Ostap Bender",
        "-addext", "subjectAltName=email:ostap@example.org,URI:https://example.org/o",
        "-out", tmp_path / "r.csr",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    cert = root.issue_from_csr((tmp_path / "r.csr").read_bytes(), profile="encryption")
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Ostap Bender"
    assert ext(cert, x509.KeyUsage).value.key_encipherment  # type: ignore[attr-defined]
    san = ext(cert, x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [  # type: ignore[attr-defined]
        "https://example.org/o"
    ]
    # openssl agrees the certificate fits the key it generated
    (tmp_path / "c.pem").write_bytes(cert.public_bytes(Encoding.PEM))
    check = run(openssl, "x509", "-in", tmp_path / "c.pem", "-noout", "-modulus")
    key_mod = run(openssl, "rsa", "-in", tmp_path / "k.pem", "-noout", "-modulus")
    assert check.stdout == key_mod.stdout


# -- qualified profiles ----------------------------------------------------------------------


def test_qualified_eidas_statements_and_policy(root: CertificateAuthority) -> None:
    cert = root.issue(
        generate_key("ec-p256").public_key(), subject=EIDAS_SUBJECT, profile="qualified-eidas"
    )
    raw = cert.extensions.get_extension_for_oid(q.QC_STATEMENTS_EXTENSION)
    assert not raw.critical
    statements = qualified_asn1.QcStatements.load(raw.value.value)  # type: ignore[attr-defined]
    by_id = {s["statement_id"].dotted: s for s in statements}
    assert set(by_id) == {
        q.QC_COMPLIANCE.dotted_string,
        q.QC_TYPE.dotted_string,
        q.QC_SSCD.dotted_string,
        q.QC_PDS.dotted_string,
    }
    assert [t.dotted for t in by_id[q.QC_TYPE.dotted_string]["statement_info"]] == [
        q.QC_TYPE_ESIGN.dotted_string
    ]
    pds = by_id[q.QC_PDS.dotted_string]["statement_info"][0]
    assert (pds["url"].native, pds["language"].native) == PDS[0]
    policies = ext(cert, x509.CertificatePolicies).value
    assert [p.policy_identifier for p in policies] == [q.QCP_N_QSCD]  # type: ignore[attr-defined]
    summary = describe(cert)
    assert summary["profile"] == "qualified-eidas"
    assert [s["statement"] for s in summary["qualified"]["eidas"]] == [
        "QcCompliance", "QcType", "QcSSCD", "QcPDS",
    ]  # fmt: skip


def test_qualified_eidas_refuses_what_it_cannot_honour(root: CertificateAuthority) -> None:
    key = generate_key("ec-p256").public_key()
    with pytest.raises(CertificateProfileError, match="lacks: C, serialNumber"):
        root.issue(key, subject="CN=Max Muster,GN=Max", profile="qualified-eidas")
    with pytest.raises(CertificateProfileError, match="cannot sign"):
        root.issue(
            generate_key("x25519").public_key(), subject=EIDAS_SUBJECT, profile="qualified-eidas"
        )
    plain = CertificateAuthority.create_root("CN=Not qualified")
    with pytest.raises(CertificateProfileError, match="needs a qualified CA"):
        plain.issue(key, subject=EIDAS_SUBJECT, profile="qualified-eidas")
    no_pds = CertificateAuthority.create_root("CN=No PDS", qualified=QualifiedSettings())
    with pytest.raises(CertificateProfileError, match="QcPDS"):
        no_pds.issue(key, subject=EIDAS_SUBJECT, profile="qualified-eidas")
    mismatch = CertificateAuthority.create_root(
        "CN=Mismatch", qualified=QualifiedSettings(pds=PDS, eidas_policies=(q.QCP_N,))
    )
    with pytest.raises(CertificateProfileError, match="QcSSCD"):
        mismatch.issue(key, subject=EIDAS_SUBJECT, profile="qualified-eidas")


def test_qualified_ru_fields(root: CertificateAuthority, openssl: str, tmp_path: Path) -> None:
    cert = root.issue(
        generate_key("ec-p256").public_key(), subject=RU_SUBJECT, profile="qualified-ru"
    )
    inn = cert.subject.get_attributes_for_oid(q.RU_INN)[0]
    assert inn.value == "500100732259"
    assert inn._type.name == "NumericString"
    assert cert.subject.get_attributes_for_oid(q.RU_SNILS)[0]._type.name == "NumericString"
    tool = cert.extensions.get_extension_for_oid(q.RU_SUBJECT_SIGN_TOOL).value
    assert core.UTF8String.load(tool.value).native == "CryptoPro CSP 5.0"  # type: ignore[attr-defined]
    issuer_tool = cert.extensions.get_extension_for_oid(q.RU_ISSUER_SIGN_TOOL).value
    native = q.IssuerSignTool.load(issuer_tool.value).native  # type: ignore[attr-defined]
    assert native["ca_tool_cert"] == RU_TOOLS.ca_tool_cert
    policies = ext(cert, x509.CertificatePolicies).value
    assert [p.policy_identifier for p in policies] == [q.RU_KC1]  # type: ignore[attr-defined]
    # openssl knows these OIDs and decodes our DER by name
    (tmp_path / "ru.pem").write_bytes(cert.public_bytes(Encoding.PEM))
    text = run(openssl, "x509", "-in", tmp_path / "ru.pem", "-noout", "-text").stdout.decode()
    assert "INN = 500100732259" in text and "SNILS = 11223344595" in text
    assert "Signing Tool of Subject" in text and "cAToolCert  : SF/128-3868" in text
    assert "Class of Signing Tool KC1" in text
    assert describe(cert)["qualified"]["ru"]["INN"] == "500100732259"
    # re-issue (forgotten password) keeps the subject, the profile and the subject's tool
    vipnet = root.issue(
        generate_key("ec-p256").public_key(),
        subject=RU_SUBJECT,
        profile="qualified-ru",
        subject_sign_tool="ViPNet CSP 4.4",
    )
    again = root.reissue(vipnet, generate_key("ec-p256").public_key())
    assert again.subject == vipnet.subject and describe(again)["profile"] == "qualified-ru"
    assert describe(again)["qualified"]["ru"]["subject_sign_tool"] == "ViPNet CSP 4.4"


@pytest.mark.parametrize(
    ("subject", "message"),
    [
        ("SNILS=11223344595,INN=500100732258,CN=Ivan,C=RU", "INN '500100732258'"),
        ("SNILS=11223344596,INN=500100732259,CN=Ivan,C=RU", "SNILS"),
        ("INN=500100732259,CN=Ivan,C=RU", "SNILS \\+ INN"),
        ("SNILS=11223344595,INN=500100732259,CN=Ivan", "lacks: C"),
        ("OGRN=1027700132195,INNLE=7707083890,CN=Bank,C=RU", "INNLE"),
    ],
)
def test_qualified_ru_refuses_bad_identifiers(
    root: CertificateAuthority, subject: str, message: str
) -> None:
    with pytest.raises(CertificateProfileError, match=message):
        root.issue(generate_key("ec-p256").public_key(), subject=subject, profile="qualified-ru")


def test_qualified_ru_legal_entity_and_missing_tools() -> None:
    ca = CertificateAuthority.create_root("CN=RU CA,C=RU", qualified=QUALIFIED)
    key = generate_key("ec-p256").public_key()
    cert = ca.issue(
        key, subject="OGRN=1027700132195,INNLE=7707083893,CN=Bank,C=RU", profile="qualified-ru"
    )
    assert cert.subject.get_attributes_for_oid(q.RU_OGRN)[0].value == "1027700132195"
    bare = CertificateAuthority.create_root("CN=RU CA", qualified=QualifiedSettings())
    with pytest.raises(CertificateProfileError, match="subjectSignTool"):
        bare.issue(key, subject=RU_SUBJECT, profile="qualified-ru")
    with pytest.raises(CertificateProfileError, match="issuerSignTool"):
        bare.issue(key, subject=RU_SUBJECT, profile="qualified-ru", subject_sign_tool="CSP")


# -- registry, retryable errors, the forgotten-password flow ------------------------------


def test_busy_registry_is_retryable_and_leaves_nothing(tmp_path: Path) -> None:
    registry = SqliteRegistry(tmp_path / "r.sqlite3", busy_timeout=0.05, retry_after=0.2)
    ca = CertificateAuthority.create_root("CN=Busy CA", registry=registry)
    key = generate_key("ec-p256").public_key()
    ca.issue(key, subject="CN=first")
    blocker = sqlite3.connect(tmp_path / "r.sqlite3", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another issuer holds the write lock
    try:
        with pytest.raises(RegistryBusyError) as caught:
            ca.issue(key, subject="CN=second")
        assert caught.value.retryable
        assert 0.2 <= caught.value.retry_after <= 0.4
        assert "retry in" in str(caught.value)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert registry.count() == 1  # nothing half-issued
    ca.issue(key, subject="CN=second")  # and a retry succeeds
    assert registry.count() == 2


def test_unavailable_registry_is_a_named_retryable_error(tmp_path: Path) -> None:
    with pytest.raises(RegistryUnavailableError) as caught:
        SqliteRegistry(tmp_path / "missing-dir" / "r.sqlite3")
    assert caught.value.retry_after > 0 and not isinstance(caught.value, RegistryBusyError)


def test_a_colliding_serial_is_redrawn(tmp_path: Path) -> None:
    draws = iter([7, 7, 7, 8])
    ca = CertificateAuthority.create_root(
        "CN=Collide",
        registry=SqliteRegistry(tmp_path / "r.sqlite3"),
        serial_numbers=lambda: next(draws),
    )
    key = generate_key("ec-p256").public_key()
    assert ca.issue(key, subject="CN=a").serial_number == 7
    assert ca.issue(key, subject="CN=b").serial_number == 8  # two collisions, then a fresh one
    assert ca.registry.count() == 2
    stuck = CertificateAuthority.create_root("CN=Stuck", serial_numbers=lambda: 5)
    stuck.issue(key, subject="CN=a")
    with pytest.raises(EsignError, match="serial source is broken"):
        stuck.issue(key, subject="CN=b")


def test_registry_belongs_to_one_ca(tmp_path: Path) -> None:
    registry = SqliteRegistry(tmp_path / "r.sqlite3")
    CertificateAuthority.create_root("CN=First", registry=registry)
    with pytest.raises(RegistryError, match="another CA"):
        CertificateAuthority.create_root("CN=Second", registry=registry)
    shared = MemoryRegistry()
    CertificateAuthority.create_root("CN=First", registry=shared)
    with pytest.raises(RegistryError, match="another CA"):
        CertificateAuthority.create_root("CN=Second", registry=shared)


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_forgotten_password_revokes_and_reissues(backend: str, tmp_path: Path) -> None:
    registry = MemoryRegistry() if backend == "memory" else SqliteRegistry(tmp_path / "r.db")
    ca = CertificateAuthority.create_root("CN=Tax CA", registry=registry)
    old_key, new_key = generate_key("ec-p256"), generate_key("ec-p256")
    old = ca.issue(
        old_key.public_key(), subject="CN=Ivanov", profile="signing", email="i@example.org"
    )
    new = ca.reissue(old, new_key.public_key(), reason="keyCompromise")
    assert new.subject == old.subject and new.serial_number != old.serial_number
    assert new.public_key() == new_key.public_key()
    assert (
        ext(new, x509.SubjectAlternativeName).value == ext(old, x509.SubjectAlternativeName).value
    )
    record = registry.get(old.serial_number)
    assert record is not None and record.reason == x509.ReasonFlags.key_compromise
    assert registry.get(new.serial_number) is not None
    crl = ca.crl()
    assert crl.get_revoked_certificate_by_serial_number(old.serial_number) is not None
    assert crl.get_revoked_certificate_by_serial_number(new.serial_number) is None
    # refusals: same key, an odd reason, a second re-issue of the revoked certificate
    with pytest.raises(CertificateProfileError, match="new key"):
        ca.reissue(new, new_key.public_key())
    with pytest.raises(RevocationError, match="superseded or keyCompromise"):
        ca.reissue(new, generate_key("ec-p256").public_key(), reason="affiliationChanged")
    count = registry.count()
    with pytest.raises(RegistryError, match="already revoked"):
        ca.reissue(old, generate_key("ec-p256").public_key())
    assert registry.count() == count  # the failed re-issue recorded nothing


def test_revoke_refusals(root: CertificateAuthority) -> None:
    other = CertificateAuthority.create_root("CN=Other")
    foreign = other.issue(generate_key("ec-p256").public_key(), subject="CN=f")
    with pytest.raises(CertificateNotFoundError):
        root.revoke(foreign, "keyCompromise")
    with pytest.raises(CertificateNotFoundError):
        root.revoke(12345, "keyCompromise")
    cert = root.issue(generate_key("ec-p256").public_key(), subject="CN=r")
    with pytest.raises(RegistryError, match="unknown or unsupported"):
        root.revoke(cert, "certificateHold")
    with pytest.raises(RevocationError, match="future"):
        root.revoke(cert, "superseded", at=root.clock() + datetime.timedelta(days=1))
    record = root.revoke(cert, "superseded")
    assert record.reason == x509.ReasonFlags.superseded
    with pytest.raises(RegistryError, match="already revoked"):
        root.revoke(cert, "keyCompromise")


def test_ca_folder_round_trip(tmp_path: Path) -> None:
    ca = CertificateAuthority.init_folder(
        tmp_path / "ca", "CN=Folder CA", password="pw", qualified=QUALIFIED, crl_url="http://x/c"
    )
    key = generate_key("ec-p256").public_key()
    issued = ca.issue(key, subject=EIDAS_SUBJECT, profile="qualified-eidas")
    reopened = CertificateAuthority.open_folder(tmp_path / "ca", password="pw")
    assert reopened.certificate == ca.certificate
    assert reopened.registry.get(issued.serial_number) is not None
    assert reopened.qualified == QUALIFIED and reopened.crl_url == "http://x/c"
    assert b"ENCRYPTED PRIVATE KEY" in (tmp_path / "ca" / "ca.key.pem").read_bytes()
    sub = CertificateAuthority.init_folder(
        tmp_path / "sub", "CN=Folder Sub CA", password="pw2", parent=reopened
    )
    assert sub.chain == [ca.certificate]
    assert CertificateAuthority.open_folder(tmp_path / "sub", password="pw2").chain == [
        ca.certificate
    ]
    assert reopened.registry.get(sub.certificate.serial_number) is not None
    with pytest.raises(EsignError, match="already holds a CA"):
        CertificateAuthority.init_folder(tmp_path / "ca", "CN=Again", password="pw")
    with pytest.raises(EsignError, match="not a CA folder"):
        CertificateAuthority.open_folder(tmp_path, password="pw")


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_batch_issuance_is_all_or_nothing(backend: str, tmp_path: Path) -> None:
    registry = MemoryRegistry() if backend == "memory" else SqliteRegistry(tmp_path / "r.db")
    draws = iter([11, 11, 12, 13, 14, 15, 16, 17])  # a repeat inside the batch, then fresh
    ca = CertificateAuthority.create_root(
        "CN=Batch CA", registry=registry, serial_numbers=lambda: next(draws)
    )
    key = generate_key("ec-p256").public_key()
    certs = ca.issue_batch([IssueRequest(key, f"CN=b{i}") for i in range(3)])
    assert [c.subject.rfc4514_string() for c in certs] == ["CN=b0", "CN=b1", "CN=b2"]
    assert [c.serial_number for c in certs] == [11, 13, 12]  # b1 redrew its repeated 11
    assert registry.count() == 3
    # a serial already in the registry is redrawn for that certificate only
    draws = iter([13, 20, 21])
    certs = ca.issue_batch([IssueRequest(key, "CN=c0"), IssueRequest(key, "CN=c1")])
    assert sorted(c.serial_number for c in certs) == [20, 21]
    # one bad request refuses the whole batch before anything is recorded
    with pytest.raises(CertificateProfileError):
        ca.issue_batch(
            [
                IssueRequest(key, "CN=fine"),
                IssueRequest(generate_key("x25519").public_key(), "CN=bad", profile="signing"),
            ]
        )
    assert registry.count() == 5


@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
def test_summary_reads_every_pkits_certificate() -> None:
    """cert show on 400 published odd certificates: a summary or a named error, nothing else."""
    import cryptography_vectors

    folder = Path(cryptography_vectors.__file__).parent / "x509" / "PKITS_data" / "certs"
    files = sorted(folder.glob("*.crt"))
    assert len(files) > 400
    summarised = 0
    for path in files:
        try:
            cert = x509.load_der_x509_certificate(path.read_bytes())
            summary = describe(cert)
        except (ValueError, MalformedInputError):
            continue  # e.g. DSA keys with inherited parameters: cryptography cannot load them
        assert summary["serial"] == f"{cert.serial_number:x}"
        summarised += 1
    assert summarised > 380


def test_qualified_eseal_needs_a_legal_person() -> None:
    seal_ca = CertificateAuthority.create_root(
        "CN=Seal CA,C=DE",
        qualified=QualifiedSettings(
            pds=PDS, qc_type=q.QC_TYPE_ESEAL, eidas_policies=(q.QCP_L_QSCD,)
        ),
    )
    key = generate_key("ec-p256").public_key()
    with pytest.raises(CertificateProfileError, match="lacks: O, organizationIdentifier"):
        seal_ca.issue(key, subject=EIDAS_SUBJECT, profile="qualified-eidas")
    cert = seal_ca.issue(
        key,
        subject="CN=Tax Office Seal,organizationIdentifier=VATDE-123456789,O=Tax Office,C=DE",
        profile="qualified-eidas",
    )
    assert describe(cert)["qualified"]["eidas"][1] == {"statement": "QcType", "types": ["eseal"]}
    web_ca = CertificateAuthority.create_root(
        "CN=Web CA", qualified=QualifiedSettings(pds=PDS, qc_type=q.QC_TYPE_WEB)
    )
    with pytest.raises(CertificateProfileError, match="website"):
        web_ca.issue(key, subject=EIDAS_SUBJECT, profile="qualified-eidas")


def test_odd_inputs_are_named_errors(root: CertificateAuthority) -> None:
    key = generate_key("ec-p256").public_key()
    with pytest.raises(MalformedInputError, match="e-mail address"):
        root.issue(key, subject="CN=x", email="иванов@пример.рф")
    with pytest.raises(MalformedInputError, match="distinguished name"):
        root.issue(key, subject="not a DN")
    far = root.issue(key, subject="CN=far", days=10**9)
    assert far.not_valid_after_utc == root.certificate.not_valid_after_utc
    forever = CertificateAuthority.create_root("CN=Forever", days=10**9)
    assert forever.certificate.not_valid_after_utc.year == 9999


def test_post_quantum_ca_and_certificates() -> None:
    """An ML-DSA CA signs certificates; ML-KEM keys get encryption certificates (RFC 9935)."""
    from esign.keys import generate_key

    root = CertificateAuthority.create_root("CN=PQ Root", algorithm="ml-dsa-65")
    signer = generate_key("ml-dsa-44")
    signing = root.issue(signer.public_key(), subject="CN=PQ Signer", profile="signing")
    assert TrustContext([root.certificate], crls=[root.crl()]).validate(signing).trusted
    recipient = generate_key("ml-kem-768")
    encryption = root.issue(recipient.public_key(), subject="CN=PQ Recipient", profile="encryption")
    usage = encryption.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_encipherment and not usage.digital_signature and not usage.key_agreement
