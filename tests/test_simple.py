"""Simple signatures: service-sealed attestations, verified at level SIMPLE and no higher."""

from __future__ import annotations

import datetime
import hashlib
import io
import json
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.twofactor.totp import TOTP
from hypothesis import given
from hypothesis import strategies as st

from esign import SignatureLevel, sign, verify
from esign.asn1 import SIMPLE_ATTESTATION_OID, SimpleSignatureAttestation
from esign.errors import EsignError, MalformedInputError
from esign.keys import PrivateKey, generate_key
from esign.simple import (
    AttestationService,
    Authentication,
    CredentialPolicy,
    CredentialStore,
    read_attestation,
    verify_attestation,
)
from tests.conftest import Pki, run

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
FAST = CredentialPolicy(argon2_iterations=1, argon2_lanes=1, argon2_memory_kib=8)
DOCUMENT = b"3-NDFL tax return 2025, Ivanov I.I."
SERVICE = "Tax Service personal account"
_PORTALS: dict[int, tuple[PrivateKey, x509.Certificate]] = {}


def portal(pki: Pki) -> tuple[PrivateKey, x509.Certificate]:
    """The service's attestation key and certificate (profile ``attestation``), one per CA."""
    if id(pki) not in _PORTALS:
        key = generate_key("ec-p256")
        cert = pki.ca.issue(key.public_key(), subject=f"CN={SERVICE}", profile="attestation")
        _PORTALS[id(pki)] = (key, cert)
    return _PORTALS[id(pki)]


def service(pki: Pki, clock: datetime.datetime = NOW) -> AttestationService:
    # The tax service seals with its own attestation key and certificate, from its own CA.
    return AttestationService(portal(pki), name=SERVICE, clock=lambda: clock)


@pytest.fixture(scope="module")
def attestation(pki: Pki) -> bytes:
    """A real login (password + TOTP) followed by an approval."""
    store = CredentialStore(secret_key=bytes(32), policy=FAST, clock=lambda: NOW)
    store.register("ivanov", "password-1", tin="7707083893", email="i@example.ru", control_word="w")
    seed = store.enroll_otp("ivanov").secret
    code = TOTP(seed, 6, hashes.SHA1(), 30).generate(int(NOW.timestamp())).decode()
    login = store.authenticate("ivanov", "password-1", code)
    return service(pki).attest(login, DOCUMENT)


def test_round_trip_is_valid_simple(pki: Pki, attestation: bytes) -> None:
    report = verify_attestation(attestation, DOCUMENT, service_trust=pki.trust)
    assert report.valid, report.errors
    assert report.level is SignatureLevel.SIMPLE
    assert report.account == "ivanov"
    assert report.factors == ["password", "otp"]
    assert report.signing_time == NOW
    assert report.content_intact is True
    assert report.signer is not None and report.signer.subject == f"CN={SERVICE}"
    data = report.to_dict()
    assert data["level"] == "simple"
    assert data["account"] == "ivanov"
    assert data["factors"] == ["password", "otp"]
    json.loads(report.to_json())
    text = str(report)
    assert "account: ivanov" in text and "authenticated with: password, otp" in text


def test_streamed_document_verifies(pki: Pki, attestation: bytes) -> None:
    report = verify_attestation(attestation, io.BytesIO(DOCUMENT), service_trust=pki.trust)
    assert report.level is SignatureLevel.SIMPLE


def test_plain_cms_verify_would_say_advanced_but_the_attestation_is_only_simple(
    pki: Pki, attestation: bytes
) -> None:
    """The seal alone is the service's ADVANCED signature; the approval is SIMPLE."""
    assert verify(attestation, trust=pki.trust).level is SignatureLevel.ADVANCED
    assert verify_attestation(attestation, DOCUMENT, service_trust=pki.trust).level == (
        SignatureLevel.SIMPLE
    )


def test_statement_parses(attestation: bytes) -> None:
    statement = read_attestation(attestation)
    assert statement.account == "ivanov"
    assert statement.digest_algorithm == "sha256"
    assert statement.service == "Tax Service personal account"
    content = cms.ContentInfo.load(attestation)["content"]["encap_content_info"]
    assert content["content_type"].dotted == SIMPLE_ATTESTATION_OID
    assert SimpleSignatureAttestation.load(content["content"].contents)["version"].native == 1


def test_reports_without_simple_fields_are_unchanged(pki: Pki) -> None:
    report = verify(sign(b"x", signer=(pki.ivanov_key, pki.ivanov_cert)), b"x", trust=pki.trust)
    assert "account" not in report.to_dict() and "factors" not in report.to_dict()
    assert "account:" not in str(report)


def test_changed_document_is_not_valid(pki: Pki, attestation: bytes) -> None:
    report = verify_attestation(attestation, DOCUMENT + b" ", service_trust=pki.trust)
    assert not report.valid and report.level is None
    assert report.content_intact is False
    assert [e.code for e in report.errors] == ["content_modified"]


def test_other_services_anchor_is_not_valid(pki: Pki, other_pki: Pki, attestation: bytes) -> None:
    report = verify_attestation(attestation, DOCUMENT, service_trust=other_pki.trust)
    assert not report.valid and report.level is None
    assert report.errors


def test_other_service_cannot_attest_for_this_one(pki: Pki, other_pki: Pki) -> None:
    login = Authentication("ivanov", ("password",), NOW)
    forged = service(other_pki).attest(login, DOCUMENT)
    assert not verify_attestation(forged, DOCUMENT, service_trust=pki.trust).valid


def test_ordinary_signature_is_not_an_attestation(pki: Pki) -> None:
    signature = sign(DOCUMENT, signer=(pki.ivanov_key, pki.ivanov_cert), detached=False)
    with pytest.raises(MalformedInputError):
        verify_attestation(signature, DOCUMENT, service_trust=pki.trust)


def test_stale_login_cannot_approve(pki: Pki) -> None:
    login = Authentication("ivanov", ("password",), NOW - datetime.timedelta(minutes=16))
    with pytest.raises(EsignError, match="too old"):
        service(pki).attest(login, DOCUMENT)


@given(
    position=st.integers(min_value=0),
    change=st.sampled_from(["flip", "insert", "delete", "truncate"]),
    value=st.integers(min_value=1, max_value=255),
)
def test_any_mutation_gives_a_report_or_an_esign_error(
    pki: Pki, attestation: bytes, position: int, change: str, value: int
) -> None:
    i = position % len(attestation)
    if change == "flip":
        mutated = attestation[:i] + bytes([attestation[i] ^ value]) + attestation[i + 1 :]
    elif change == "insert":
        mutated = attestation[:i] + bytes([value]) + attestation[i:]
    elif change == "delete":
        mutated = attestation[:i] + attestation[i + 1 :]
    else:
        mutated = attestation[:i]
    try:
        report = verify_attestation(mutated, DOCUMENT, service_trust=pki.trust)
    except EsignError:
        return
    if report.valid:
        # Only unsigned bytes may change harmlessly (e.g. SignedData.digestAlgorithms, which
        # RFC 5652 leaves outside the signature): the statement must be the original one.
        assert read_attestation(mutated) == read_attestation(attestation)
        assert report.signer is not None and report.signer.certificate == portal(pki)[1]


def _protected(attestation: bytes) -> list[tuple[int, int]]:
    """Byte ranges the seal covers: the statement, the signed attributes, the signature."""
    signed = cms.ContentInfo.load(attestation)["content"]
    signer = signed["signer_infos"][0]
    pieces = [
        signed["encap_content_info"]["content"].contents,
        signer["signed_attrs"].contents,
        signer["signature"].contents,
    ]
    ranges = []
    for piece in pieces:
        start = attestation.find(piece)
        assert start > 0 and attestation.find(piece, start + 1) < 0
        ranges.append((start, len(piece)))
    return ranges


@given(
    part=st.integers(0, 2),
    offset=st.integers(min_value=0),
    bit=st.integers(min_value=0, max_value=7),
)
def test_any_change_to_a_sealed_part_fails(
    pki: Pki, attestation: bytes, part: int, offset: int, bit: int
) -> None:
    start, length = _protected(attestation)[part]
    changed = bytearray(attestation)
    changed[start + offset % length] ^= 1 << bit
    try:
        report = verify_attestation(bytes(changed), DOCUMENT, service_trust=pki.trust)
    except EsignError:
        return
    assert not report.valid and report.level is None


def test_openssl_accepts_the_attestation(
    pki: Pki, other_pki: Pki, attestation: bytes, openssl: str, tmp_path: Path
) -> None:
    paths = pki.write(tmp_path)
    (tmp_path / "att.p7m").write_bytes(attestation)
    out = tmp_path / "statement.der"
    # -purpose any: the attestation certificate's critical EKU is not S/MIME's.
    verify_cmd = [
        openssl, "cms", "-verify", "-purpose", "any", "-inform", "DER", "-in", tmp_path / "att.p7m"
    ]  # fmt: skip
    result = run(*verify_cmd, "-CAfile", paths["ca"], "-out", out)
    assert result.returncode == 0, result.stderr
    statement = SimpleSignatureAttestation.load(out.read_bytes())
    assert statement["account"].native == "ivanov"
    assert statement["factors"].native == ["password", "otp"]
    # ... and refuses it with another service's CA as the only anchor.
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    refused = run(*verify_cmd, "-CAfile", other_pki.write(other_dir)["ca"], "-out", out)
    assert refused.returncode != 0


def test_esign_verifies_an_attestation_sealed_by_openssl(
    pki: Pki, openssl: str, tmp_path: Path
) -> None:
    """The reverse direction: openssl seals the statement, esign verifies it as SIMPLE."""
    key, cert = portal(pki)
    (tmp_path / "portal.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "portal.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    statement = SimpleSignatureAttestation(
        {
            "version": 1,
            "account": "ivanov",
            "document_digest": {
                "hash_algorithm": {"algorithm": "sha256"},
                "hashed_message": hashlib.sha256(DOCUMENT).digest(),
            },
            "approved_at": NOW,
            "factors": ["password"],
            "service": SERVICE,
        }
    )
    (tmp_path / "statement.der").write_bytes(statement.dump())
    out = tmp_path / "att.p7m"
    result = run(
        openssl, "cms", "-sign", "-binary", "-nodetach", "-outform", "DER",
        "-econtent_type", SIMPLE_ATTESTATION_OID, "-in", tmp_path / "statement.der",
        "-signer", tmp_path / "portal.pem", "-inkey", tmp_path / "portal.key", "-out", out,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = verify_attestation(out.read_bytes(), DOCUMENT, service_trust=pki.trust)
    assert report.valid, report.errors
    assert report.level is SignatureLevel.SIMPLE
    assert (report.account, report.factors) == ("ivanov", ["password"])
    assert not verify_attestation(out.read_bytes(), b"other", service_trust=pki.trust).valid
