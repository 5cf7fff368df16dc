"""CMS signing and verification: reports, trust domains, algorithms, and openssl interop."""

from __future__ import annotations

import datetime
import io
from pathlib import Path

import pytest
from asn1crypto import cms

from esign import SignatureLevel, sign, verify
from esign.certs import CertificateAuthority, TrustContext
from esign.errors import EsignError, KeyUsageError, MalformedInputError
from esign.keys import generate_key

from .conftest import Pki, make_pki, run

DOCUMENT = b"Tax return 2026: income 1 250 000, tax due 162 500\n"


def _signed_attribute_names(der: bytes) -> list[str]:
    signer_info = cms.ContentInfo.load(der)["content"]["signer_infos"][0]
    return [attr["type"].native for attr in signer_info["signed_attrs"]]


def test_detached_signature_verifies_with_full_report(pki: Pki) -> None:
    sig = sign(DOCUMENT, signer=(pki.ivanov_key, pki.ivanov_cert), detached=True)
    report = verify(sig, DOCUMENT, trust=pki.trust)
    assert report.valid, report.errors
    assert report.level is SignatureLevel.ADVANCED
    assert report.signer is not None and report.signer.subject == "CN=Ivan Ivanov"
    assert report.signer.serial == pki.ivanov_cert.serial_number
    assert report.signing_time is not None
    assert abs(report.signing_time - datetime.datetime.now(datetime.timezone.utc)).seconds < 300
    assert report.trust_domain == "tax service"
    assert report.content_intact and report.signature_intact
    assert [c.subject for c in report.chain] == [
        pki.ivanov_cert.subject,
        pki.ca.certificate.subject,
    ]
    assert report.errors == [] and report.warnings == []


def test_signed_attributes_are_cades_baseline_b(pki: Pki) -> None:
    sig = sign(DOCUMENT, signer=(pki.ivanov_key, pki.ivanov_cert))
    assert set(_signed_attribute_names(sig)) == {
        "content_type",
        "message_digest",
        "signing_time",
        "signing_certificate_v2",
        "cms_algorithm_protection",
    }


def test_attached_signature_carries_the_document(pki: Pki) -> None:
    sig = sign(DOCUMENT, signer=(pki.ivanov_key, pki.ivanov_cert), detached=False)
    content = cms.ContentInfo.load(sig)["content"]["encap_content_info"]["content"].native
    assert content == DOCUMENT
    assert verify(sig, trust=pki.trust).valid
    assert verify(sig, DOCUMENT, trust=pki.trust).valid
    mismatch = verify(sig, DOCUMENT + b"x", trust=pki.trust)
    assert not mismatch.valid and "content_mismatch" in {e.code for e in mismatch.errors}


def test_streamed_input_matches_bytes(pki: Pki) -> None:
    big = bytes(range(256)) * 40_000  # ~10 MB, read in chunks
    sig = sign(io.BytesIO(big), signer=(pki.ivanov_key, pki.ivanov_cert))
    assert verify(sig, io.BytesIO(big), trust=pki.trust).valid
    assert verify(sig, big, trust=pki.trust).valid


def test_changed_document_is_reported_as_modified(pki: Pki) -> None:
    sig = sign(DOCUMENT, signer=(pki.ivanov_key, pki.ivanov_cert))
    report = verify(sig, DOCUMENT.replace(b"162 500", b"16 500"), trust=pki.trust)
    assert not report.valid and report.level is None
    assert report.content_intact is False
    assert [e.code for e in report.errors] == ["content_modified"]


def test_same_signature_trusted_in_one_domain_not_another(pki: Pki, other_pki: Pki) -> None:
    sig = sign(DOCUMENT, signer=(pki.ivanov_key, pki.ivanov_cert))
    assert verify(sig, DOCUMENT, trust=pki.trust).valid
    elsewhere = verify(sig, DOCUMENT, trust=TrustContext([other_pki.ca.certificate], name="bank"))
    assert not elsewhere.valid
    assert elsewhere.content_intact is True, "integrity holds; only trust is missing"
    assert [e.code for e in elsewhere.errors] == ["no_path"]
    assert "bank" in elsewhere.errors[0].message


def test_expired_signer_certificate(pki: Pki) -> None:
    sig = sign(DOCUMENT, signer=(pki.ivanov_key, pki.ivanov_cert))
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=400)
    report = verify(sig, DOCUMENT, trust=pki.trust, at=later)
    assert not report.valid and "expired" in {e.code for e in report.errors}


def test_encryption_certificate_cannot_sign_validly(pki: Pki) -> None:
    # The tax service's keyAgreement-only certificate carries an EC key that *can* sign,
    # but its certificate does not allow digitalSignature: sign refuses it at once ...
    with pytest.raises(KeyUsageError):
        sign(DOCUMENT, signer=(pki.tax_key, pki.tax_cert))
    # ... and trust refuses such a signature made by another tool (pyHanko's signer).
    from esign._sync import run_sync
    from esign.signing.sign import _pyhanko_signer

    made = _pyhanko_signer(pki.tax_key, pki.tax_cert, ()).async_sign_general_data(
        DOCUMENT, "sha256", detached=True
    )
    sig = run_sync(made).dump()
    report = verify(sig, DOCUMENT, trust=pki.trust)
    assert not report.valid and "wrong_usage" in {e.code for e in report.errors}


def test_key_must_match_certificate(pki: Pki) -> None:
    with pytest.raises(EsignError, match="does not belong"):
        sign(DOCUMENT, signer=(pki.tax_key, pki.ivanov_cert))


def test_signer_certificate_swapped_is_detected(pki: Pki) -> None:
    """Replacing the embedded signer certificate with another one from the same CA fails."""
    sig = sign(DOCUMENT, signer=(pki.ivanov_key, pki.ivanov_cert), detached=True)
    info = cms.ContentInfo.load(sig)
    from esign.certs.trust import to_asn1

    info["content"]["certificates"] = [to_asn1(pki.tax_cert)]
    report = verify(info.dump(force=True), DOCUMENT, trust=pki.trust)
    assert not report.valid
    assert "signer_certificate_missing" in {e.code for e in report.errors}


@pytest.mark.parametrize("alg", ["ec-p384", "ed25519", "rsa-3072"])
def test_other_signing_algorithms(alg: str) -> None:
    other = make_pki(signer_alg=alg)
    sig = sign(DOCUMENT, signer=(other.ivanov_key, other.ivanov_cert))
    report = verify(sig, DOCUMENT, trust=other.trust)
    assert report.valid, report.errors
    expected = {"ec-p384": "sha384", "ed25519": "sha512", "rsa-3072": "sha256"}[alg]
    assert report.digest_algorithm == expected


def test_sha1_signature_refused_by_default_accepted_with_legacy(
    openssl: str, pki: Pki, tmp_path: Path
) -> None:
    paths = pki.write(tmp_path)
    (tmp_path / "doc").write_bytes(DOCUMENT)
    result = run(
        openssl,
        "cms",
        "-sign",
        "-binary",
        "-md",
        "sha1",
        "-in",
        tmp_path / "doc",
        "-signer",
        paths["ivanov_cert"],
        "-inkey",
        paths["ivanov_key"],
        "-outform",
        "DER",
        "-out",
        tmp_path / "sha1.p7s",
    )
    assert result.returncode == 0, result.stderr
    sig = (tmp_path / "sha1.p7s").read_bytes()
    refused = verify(sig, DOCUMENT, trust=pki.trust)
    assert not refused.valid
    assert refused.errors[0].code == "weak_algorithm" and "sha1" in refused.errors[0].message
    legacy = TrustContext([pki.ca.certificate], crls=[pki.ca.crl()], legacy_algorithms=True)
    assert verify(sig, DOCUMENT, trust=legacy).valid


@pytest.mark.parametrize(
    "bad",
    [b"", b"garbage", b"\x30\x80", b"-----BEGIN CMS-----\n!!\n-----END CMS-----\n", b"\x30" * 5000],
)
def test_malformed_signatures_raise_named_error(pki: Pki, bad: bytes) -> None:
    with pytest.raises(MalformedInputError):
        verify(bad, DOCUMENT, trust=pki.trust)


def test_trailing_bytes_after_der_are_refused(pki: Pki) -> None:
    sig = sign(DOCUMENT, signer=(pki.ivanov_key, pki.ivanov_cert))
    with pytest.raises(MalformedInputError):
        verify(sig + b"\x00", DOCUMENT, trust=pki.trust)


def test_detached_without_data_is_an_error(pki: Pki) -> None:
    sig = sign(DOCUMENT, signer=(pki.ivanov_key, pki.ivanov_cert))
    with pytest.raises(MalformedInputError, match="detached"):
        verify(sig, None, trust=pki.trust)


def test_pem_signature_is_read(pki: Pki) -> None:
    import base64

    sig = sign(DOCUMENT, signer=(pki.ivanov_key, pki.ivanov_cert))
    pem = b"-----BEGIN CMS-----\n" + base64.encodebytes(sig) + b"-----END CMS-----\n"
    assert verify(pem, DOCUMENT, trust=pki.trust).valid


def test_report_renders_as_json_text_and_html(pki: Pki) -> None:
    import json

    sig = sign(DOCUMENT, signer=(pki.ivanov_key, pki.ivanov_cert))
    report = verify(sig, DOCUMENT + b"!", trust=pki.trust)
    data = json.loads(report.to_json())
    assert data["valid"] is False and data["level"] is None
    assert data["signer"]["subject"] == "CN=Ivan Ivanov"
    assert data["errors"] == [
        {
            "code": "content_modified",
            "message": report.errors[0].message,
            "subindication": "HASH_FAILURE",
        }
    ]
    assert (data["indication"], data["subindication"]) == ("TOTAL-FAILED", "HASH_FAILURE")
    assert {"signing_time", "timestamp", "warnings"} <= data.keys()
    assert "NOT VALID" in str(report) and "content_modified" in str(report)
    assert "not valid" in report._repr_html_()


def test_intermediate_ca_chain(tmp_path: Path) -> None:
    root = CertificateAuthority.create_root("CN=Root")
    issuing = root.create_intermediate("CN=Issuing CA")
    key = generate_key("ec-p256")
    cert = issuing.issue(key.public_key(), subject="CN=Petrov")
    sig = sign(DOCUMENT, signer=(key, cert), chain=[issuing.certificate])
    trust = TrustContext([root.certificate], crls=[root.crl(), issuing.crl()])
    report = verify(sig, DOCUMENT, trust=trust)
    assert report.valid, report.errors
    assert len(report.chain) == 3
    without_chain = sign(DOCUMENT, signer=(key, cert))
    missing = verify(without_chain, DOCUMENT, trust=trust)
    assert missing.subindication is not None and missing.subindication.value == (
        "NO_CERTIFICATE_CHAIN_FOUND"
    )
    assert verify(without_chain, DOCUMENT, trust=trust, certificates=[issuing.certificate]).valid


# --- interop with the openssl command line -------------------------------------------------


def test_openssl_verifies_esign_detached_and_attached(
    openssl: str, pki: Pki, tmp_path: Path
) -> None:
    paths = pki.write(tmp_path)
    doc = tmp_path / "doc.txt"
    doc.write_bytes(DOCUMENT)
    detached = tmp_path / "d.p7s"
    detached.write_bytes(sign(DOCUMENT, signer=(pki.ivanov_key, pki.ivanov_cert)))
    result = run(
        openssl,
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        detached,
        "-content",
        doc,
        "-CAfile",
        paths["ca"],
        "-out",
        tmp_path / "out1",
    )
    assert result.returncode == 0, result.stderr
    assert b"Verification successful" in result.stderr
    attached = tmp_path / "a.p7s"
    attached.write_bytes(sign(DOCUMENT, signer=(pki.ivanov_key, pki.ivanov_cert), detached=False))
    result = run(
        openssl,
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        attached,
        "-CAfile",
        paths["ca"],
        "-out",
        tmp_path / "out2",
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out2").read_bytes() == DOCUMENT


def test_openssl_rejects_esign_signature_over_changed_document(
    openssl: str, pki: Pki, tmp_path: Path
) -> None:
    paths = pki.write(tmp_path)
    doc = tmp_path / "doc.txt"
    doc.write_bytes(DOCUMENT + b"changed")
    sig = tmp_path / "d.p7s"
    sig.write_bytes(sign(DOCUMENT, signer=(pki.ivanov_key, pki.ivanov_cert)))
    result = run(
        openssl,
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        sig,
        "-content",
        doc,
        "-CAfile",
        paths["ca"],
        "-out",
        tmp_path / "o",
    )
    assert result.returncode != 0


def test_esign_verifies_openssl_signature(openssl: str, pki: Pki, tmp_path: Path) -> None:
    paths = pki.write(tmp_path)
    doc = tmp_path / "doc.txt"
    doc.write_bytes(DOCUMENT)
    for extra in ([], ["-nodetach"]):
        out = tmp_path / f"openssl{len(extra)}.p7s"
        result = run(
            openssl,
            "cms",
            "-sign",
            "-binary",
            *extra,
            "-in",
            doc,
            "-signer",
            paths["ivanov_cert"],
            "-inkey",
            paths["ivanov_key"],
            "-outform",
            "DER",
            "-out",
            out,
        )
        assert result.returncode == 0, result.stderr
        report = verify(out.read_bytes(), DOCUMENT, trust=pki.trust)
        assert report.valid, report.errors
        assert report.signer is not None and report.signer.subject == "CN=Ivan Ivanov"
        assert not verify(out.read_bytes(), DOCUMENT + b"!", trust=pki.trust).valid
