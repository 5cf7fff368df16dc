"""Only the service's own attestation certificate can seal a simple signature.

The service's CA also certifies every taxpayer. Before this, a taxpayer could seal a
statement "account petrov approved this document at the Tax Service" with his own ordinary
signing certificate, and ``verify_attestation`` called it a valid SIMPLE signature. The
seal must now come from a certificate with the ``id-kp-esign-simpleAttestation`` extended
key usage (CA profile ``attestation``) whose subject CN is the statement's service name.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from pathlib import Path
from typing import Any, cast

import pytest
from asn1crypto import cms, core
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import Encoding

from esign import SignatureLevel, sign
from esign.asn1 import (
    SIMPLE_ATTESTATION_EKU_OID,
    SIMPLE_ATTESTATION_OID,
    SimpleSignatureAttestation,
)
from esign.certs import CertificateAuthority, TrustContext
from esign.cli.main import main
from esign.errors import EsignError
from esign.keys import PrivateKey, generate_key
from esign.simple import AttestationService, Authentication, verify_attestation
from tests.conftest import run

UTC = datetime.timezone.utc
DOCUMENT = b"3-NDFL tax return 2025, Petrov P.P."
SERVICE = "Tax Service personal account"


class World:
    """One root: the tax service's attestation certificate, another service's, a taxpayer."""

    def __init__(self) -> None:
        self.ca = CertificateAuthority.create_root("CN=Tax Service Root CA,O=Tax Service")
        self.portal = self._issue(f"CN={SERVICE},O=Tax Service", "attestation")
        self.pension = self._issue("CN=Pension Fund portal", "attestation")
        self.taxpayer = self._issue("CN=Ivan Ivanov", "signing")
        self.trust = TrustContext([self.ca.certificate], crls=[self.ca.crl()])

    def _issue(self, subject: str, profile: str) -> tuple[PrivateKey, x509.Certificate]:
        key = generate_key("ec-p256")
        return key, self.ca.issue(key.public_key(), subject=subject, profile=profile)


@pytest.fixture(scope="module")
def world() -> World:
    return World()


def _statement(account: str, service: str) -> bytes:
    now = datetime.datetime.now(UTC).replace(microsecond=0)
    return SimpleSignatureAttestation(
        {
            "version": 1,
            "account": account,
            "document_digest": {
                "hash_algorithm": {"algorithm": "sha256"},
                "hashed_message": hashlib.sha256(DOCUMENT).digest(),
            },
            "approved_at": now,
            "factors": ["password", "otp"],
            "service": service,
        }
    ).dump()


def _forge(signer: tuple[PrivateKey, x509.Certificate], account: str, service: str) -> bytes:
    """What anyone holding a key and certificate under the root can produce."""
    return _seal(signer, _statement(account, service))


def _seal(signer: tuple[PrivateKey, x509.Certificate], statement: bytes) -> bytes:
    content = cms.EncapsulatedContentInfo(
        {"content_type": SIMPLE_ATTESTATION_OID, "content": core.ParsableOctetString(statement)}
    )
    return sign(cast(Any, content), signer=signer, detached=False)


def test_taxpayer_certificate_cannot_seal_an_attestation(world: World) -> None:
    forged = _forge(world.taxpayer, "petrov", SERVICE)
    report = verify_attestation(forged, DOCUMENT, service_trust=world.trust)
    assert not report.valid and report.level is None
    assert [e.code for e in report.errors] == ["not_attestation_certificate"]
    assert "CN=Ivan Ivanov" in report.errors[0].message
    # The service refuses to be set up with such a certificate at all.
    with pytest.raises(EsignError, match="not an attestation certificate"):
        AttestationService(world.taxpayer, name=SERVICE)


def test_openssl_forgery_with_a_taxpayer_certificate_is_refused(
    world: World, openssl: str, tmp_path: Path
) -> None:
    key, cert = world.taxpayer
    (tmp_path / "statement.der").write_bytes(_statement("petrov", SERVICE))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    out = tmp_path / "forged.p7m"
    result = run(
        openssl, "cms", "-sign", "-binary", "-nodetach", "-outform", "DER",
        "-econtent_type", SIMPLE_ATTESTATION_OID, "-in", tmp_path / "statement.der",
        "-signer", tmp_path / "cert.pem", "-inkey", tmp_path / "key.pem", "-out", out,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = verify_attestation(out.read_bytes(), DOCUMENT, service_trust=world.trust)
    assert not report.valid
    assert [e.code for e in report.errors] == ["not_attestation_certificate"]


def test_the_service_attestation_certificate_is_valid_simple(world: World) -> None:
    portal = AttestationService(world.portal)
    assert portal.name == SERVICE
    login = Authentication("petrov", ("password", "otp"), datetime.datetime.now(UTC))
    report = verify_attestation(
        portal.attest(login, DOCUMENT), DOCUMENT, service_trust=world.trust, service=SERVICE
    )
    assert report.valid and report.level is SignatureLevel.SIMPLE, report.errors
    assert report.account == "petrov"


def test_another_service_cannot_attest_in_this_services_name(world: World) -> None:
    # The pension fund's own attestation certificate, under the same root, naming the tax
    # service in the statement.
    forged = _forge(world.pension, "petrov", SERVICE)
    report = verify_attestation(forged, DOCUMENT, service_trust=world.trust)
    assert not report.valid
    assert [e.code for e in report.errors] == ["service_mismatch"]
    with pytest.raises(EsignError, match="not the attestation certificate's CN"):
        AttestationService(world.pension, name=SERVICE)
    # Its honest attestations are valid, but not for a caller expecting the tax service.
    honest = AttestationService(world.pension).attest(
        Authentication("petrov", ("password",), datetime.datetime.now(UTC)), DOCUMENT
    )
    assert verify_attestation(honest, DOCUMENT, service_trust=world.trust).valid
    expecting = verify_attestation(honest, DOCUMENT, service_trust=world.trust, service=SERVICE)
    assert [e.code for e in expecting.errors] == ["wrong_service"]


def test_cli_issues_the_attestation_certificate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ESIGN_PASSWORD", "ca-password")
    folder = tmp_path / "ca"
    assert main(["ca", "init", "--subject", "CN=Portal Root CA", "--out-dir", str(folder)]) == 0
    key = generate_key("ec-p256")
    pub = tmp_path / "portal.pub.pem"
    pub.write_bytes(
        key.public_key().public_bytes(Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    cert_file = tmp_path / "portal.pem"
    issued = main(
        [
            "cert", "issue", "--ca", str(folder), "--public-key", str(pub),
            "--subject", f"CN={SERVICE}", "--profile", "attestation", "--out", str(cert_file),
        ]
    )  # fmt: skip
    assert issued == 0
    assert main(["crl", "--ca", str(folder), "--out", str(tmp_path / "ca.crl")]) == 0
    capsys.readouterr()
    assert main(["cert", "show", str(cert_file), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["profile"] == "attestation"
    assert summary["extended_key_usage"] == ["esignSimpleAttestation"]
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [x509.ObjectIdentifier(SIMPLE_ATTESTATION_EKU_OID)]
    trust = TrustContext(
        [x509.load_pem_x509_certificate((folder / "ca.pem").read_bytes())],
        crls=[x509.load_pem_x509_crl((tmp_path / "ca.crl").read_bytes())],
    )
    login = Authentication("petrov", ("password",), datetime.datetime.now(UTC))
    attestation = AttestationService((key, cert)).attest(login, DOCUMENT)
    report = verify_attestation(attestation, DOCUMENT, service_trust=trust, service=SERVICE)
    assert report.valid and report.level is SignatureLevel.SIMPLE, report.errors


def test_a_second_seal_is_refused(world: World) -> None:
    """Whoever adds a parallel signer must not decide which certificate is "the sealer"."""
    login = Authentication("petrov", ("password",), datetime.datetime.now(UTC))
    honest = AttestationService(world.portal).attest(login, DOCUMENT)
    doubled = add_signer_to_attestation(honest, world.taxpayer)
    report = verify_attestation(doubled, DOCUMENT, service_trust=world.trust)
    assert not report.valid and [e.code for e in report.errors] == ["several_seals"]


def add_signer_to_attestation(
    attestation: bytes, signer: tuple[PrivateKey, x509.Certificate]
) -> bytes:
    """A parallel SignerInfo over the same statement (add_signer takes id-data only)."""
    signed = cms.ContentInfo.load(attestation)["content"]
    statement = signed["encap_content_info"]["content"].contents
    other = cms.ContentInfo.load(_seal(signer, statement))["content"]
    merged = signed.copy()
    merged["signer_infos"] = cms.SignerInfos([*signed["signer_infos"], *other["signer_infos"]])
    merged["certificates"] = cms.CertificateSet([*signed["certificates"], *other["certificates"]])
    return cms.ContentInfo({"content_type": "signed_data", "content": merged}).dump()
