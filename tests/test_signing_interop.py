"""ML-DSA (RFC 9881/9882 vectors and esign's own), pyHanko's validator accepting esign's
signatures, parallel signers and counter-signatures (also checked by openssl)."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import mldsa
from pyhanko.sign.validation.generic_cms import (
    async_validate_cms_signature,
    async_validate_detached_cms,
)
from pyhanko_certvalidator import ValidationContext

from esign import SignatureLevel, sign, verify
from esign._sync import run_sync
from esign.certs import TrustContext
from esign.certs.trust import to_asn1
from esign.errors import EsignError
from esign.keys import generate_key
from esign.signing.container import unarmor
from esign.signing.sign import add_signer, countersign

from . import _signing_pki as helpers
from .conftest import Pki, make_pki, run

#: The IETF examples, copied unchanged into tests/vectors/ (see its README).
VECTORS = Path(__file__).resolve().parent / "vectors"
DOC = b"signed by more than one hand"
MLDSA = {
    "44": mldsa.MLDSA44PrivateKey,
    "65": mldsa.MLDSA65PrivateKey,
    "87": mldsa.MLDSA87PrivateKey,
}


def _vector(level: str) -> tuple[bytes, x509.Certificate]:
    cert = x509.load_pem_x509_certificate(
        (VECTORS / "rfc9881-ml-dsa-certs" / f"ML-DSA-{level}.crt").read_bytes()
    )
    return (VECTORS / "rfc9882-ml-dsa-cms" / f"mldsa{level}-signed-attrs.pem").read_bytes(), cert


def _shape(der: bytes) -> dict[str, object]:
    signed = cms.ContentInfo.load(unarmor(der))["content"]
    signer = signed["signer_infos"][0]
    return {
        "version": signed["version"].native,
        "digest": signer["digest_algorithm"]["algorithm"].native,
        "signature": signer["signature_algorithm"]["algorithm"].native,
        "params": signer["signature_algorithm"]["parameters"].native,
        "sid": signer["sid"].name,
        "attributes": {"content_type", "message_digest"}
        <= {a["type"].native for a in signer["signed_attrs"]},
    }


@pytest.mark.parametrize("level", ["44", "65", "87"])
def test_rfc9882_examples_verify_with_rfc9881_anchors(level: str) -> None:
    der, cert = _vector(level)
    report = verify(der, trust=TrustContext([cert], name="IETF examples"))
    assert report.valid, report.errors
    assert report.signature_algorithm == f"mldsa{level}" and report.digest_algorithm == "sha512"
    assert report.signer is not None and report.signer.serial == cert.serial_number


@pytest.mark.parametrize("level", ["44", "65", "87"])
def test_rfc9882_example_tampered_fails(level: str) -> None:
    der, cert = _vector(level)
    raw = bytearray(unarmor(der))
    raw[-10] ^= 0x01  # inside the ML-DSA signature value
    report = verify(bytes(raw), trust=TrustContext([cert]))
    assert not report.valid and "bad_signature" in {e.code for e in report.errors}


@pytest.mark.parametrize("level", ["44", "65", "87"])
def test_esign_ml_dsa_signatures_have_the_rfc9882_structure(pki: Pki, level: str) -> None:
    key = MLDSA[level].generate()
    cert = helpers.issue(pki.ca, key.public_key(), f"ML-DSA-{level} signer")
    ours = sign(DOC, signer=(key, cert), detached=False)  # type: ignore[arg-type]
    theirs, _ = _vector(level)
    assert _shape(ours) == _shape(theirs)
    report = verify(ours, trust=pki.trust)
    assert report.valid and report.level is SignatureLevel.ADVANCED


# --- pyHanko's validator on esign's signatures -----------------------------------------------


def _signer(pki: Pki, alg: str) -> tuple[object, x509.Certificate]:
    if alg.startswith("ml-dsa"):
        key = mldsa.MLDSA65PrivateKey.generate()
        return key, helpers.issue(pki.ca, key.public_key(), "PQ signer")
    key = generate_key(alg)
    return key, pki.ca.issue(key.public_key(), subject=f"CN={alg} signer", profile="signing")


@pytest.mark.parametrize("alg", ["ec-p256", "ec-p384", "ed25519", "rsa-3072", "ml-dsa-65"])
@pytest.mark.parametrize("detached", [True, False])
def test_pyhanko_validator_accepts_esign_signatures(pki: Pki, alg: str, detached: bool) -> None:
    key, cert = _signer(pki, alg)
    der = sign(DOC, signer=(key, cert), detached=detached)  # type: ignore[arg-type]
    signed = cms.ContentInfo.load(der)["content"]
    context = ValidationContext(trust_roots=[to_asn1(pki.ca.certificate)], allow_fetching=False)
    if detached:
        status = run_sync(
            async_validate_detached_cms(DOC, signed, signer_validation_context=context)
        )
    else:
        status = run_sync(async_validate_cms_signature(signed, validation_context=context))
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    if alg == "rsa-3072":
        assert signed["signer_infos"][0]["signature_algorithm"]["algorithm"].native == "rsassa_pss"
    # ... and rejects the same signature over other data.
    if detached:
        bad = run_sync(
            async_validate_detached_cms(DOC + b"!", signed, signer_validation_context=context)
        )
        assert not bad.intact


# --- several signers, counter-signatures ---------------------------------------------------------


def test_parallel_signers_each_verified(pki: Pki, other_pki: Pki) -> None:
    first = sign(DOC, signer=(pki.ivanov_key, pki.ivanov_cert))
    both = add_signer(first, DOC, signer=(other_pki.ivanov_key, other_pki.ivanov_cert))
    assert len(cms.ContentInfo.load(both)["content"]["signer_infos"]) == 2
    everyone = TrustContext(
        [pki.ca.certificate, other_pki.ca.certificate],
        crls=[pki.ca.crl(), other_pki.ca.crl()],
    )
    report = verify(both, DOC, trust=everyone)
    assert report.valid and len(report.cosigners) == 1 and report.cosigners[0].valid
    assert {report.signer.subject, report.cosigners[0].signer.subject} == {"CN=Ivan Ivanov"}  # type: ignore[union-attr]
    # One signer outside the verifier's domain makes the document not valid, and says which.
    partial = verify(both, DOC, trust=pki.trust)
    assert not partial.valid
    codes = {e.code for e in partial.errors} | {e.code for r in partial.cosigners for e in r.errors}
    assert "no_path" in codes
    assert not verify(both, DOC + b"x", trust=everyone).valid


def test_openssl_verifies_parallel_signers(openssl: str, pki: Pki, tmp_path: Path) -> None:
    second = make_pki()
    both = add_signer(
        sign(DOC, signer=(pki.ivanov_key, pki.ivanov_cert), detached=False),
        signer=(second.ivanov_key, second.ivanov_cert),
    )
    (tmp_path / "s.der").write_bytes(both)
    bundle = tmp_path / "cas.pem"
    bundle.write_bytes(
        b"".join(
            c.public_bytes(__import__("cryptography").hazmat.primitives.serialization.Encoding.PEM)
            for c in (pki.ca.certificate, second.ca.certificate)
        )
    )
    result = run(
        openssl, "cms", "-verify", "-inform", "DER", "-in", tmp_path / "s.der", "-CAfile", bundle
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == DOC


def test_countersignature(pki: Pki, other_pki: Pki, openssl: str, tmp_path: Path) -> None:
    signed = sign(DOC, signer=(pki.ivanov_key, pki.ivanov_cert), detached=False)
    notary = countersign(signed, signer=(other_pki.ivanov_key, other_pki.ivanov_cert))
    everyone = TrustContext(
        [pki.ca.certificate, other_pki.ca.certificate],
        crls=[pki.ca.crl(), other_pki.ca.crl()],
    )
    report = verify(notary, trust=everyone)
    assert report.valid and len(report.countersignatures) == 1
    counter = report.countersignatures[0]
    assert counter.valid and counter.signer is not None
    assert counter.signer.serial == other_pki.ivanov_cert.serial_number
    # The counter-signed signature still verifies in openssl (unsigned attributes only).
    (tmp_path / "n.der").write_bytes(notary)
    (tmp_path / "ca.pem").write_bytes(
        pki.ca.certificate.public_bytes(
            __import__("cryptography").hazmat.primitives.serialization.Encoding.PEM
        )
    )
    result = run(
        openssl,
        "cms",
        "-verify",
        "-inform",
        "DER",
        "-in",
        tmp_path / "n.der",
        "-CAfile",
        tmp_path / "ca.pem",
    )
    assert result.returncode == 0, result.stderr
    # A counter-signer the verifier does not trust is reported, the main signature stands.
    alone = verify(notary, trust=pki.trust)
    assert alone.valid and not alone.countersignatures[0].valid
    assert [w.code for w in alone.warnings] == ["countersignature_invalid"]


def test_countersignature_of_missing_signer_is_an_error(pki: Pki) -> None:
    signed = sign(DOC, signer=(pki.ivanov_key, pki.ivanov_cert))
    with pytest.raises(EsignError):
        countersign(signed, signer=(pki.ivanov_key, pki.ivanov_cert), signer_index=3)


def test_detached_add_signer_needs_the_data(pki: Pki) -> None:
    signed = sign(DOC, signer=(pki.ivanov_key, pki.ivanov_cert))
    with pytest.raises(EsignError):
        add_signer(signed, signer=(pki.ivanov_key, pki.ivanov_cert))


def test_signing_time_is_the_clock(pki: Pki) -> None:
    moment = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.timezone.utc)
    der = sign(DOC, signer=(pki.ivanov_key, pki.ivanov_cert), clock=lambda: moment)
    assert verify(der, DOC, trust=pki.trust).signing_time == moment


def test_adding_signers_and_data_keeps_existing_signer_bytes(pki: Pki, other_pki: Pki) -> None:
    from esign.signing.sign import add_validation_data

    original = sign(DOC, signer=(pki.ivanov_key, pki.ivanov_cert), detached=False)
    signer_bytes = cms.ContentInfo.load(original)["content"]["signer_infos"][0].dump()
    for changed in (
        add_signer(original, signer=(other_pki.ivanov_key, other_pki.ivanov_cert)),
        add_validation_data(original, certificates=[pki.ca.certificate]),
    ):
        assert signer_bytes in changed
