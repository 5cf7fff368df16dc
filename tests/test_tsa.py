"""CAdES B-T: RFC 3161 time-stamps from esign's TSA (in process and over HTTP), and
revocation judged at the time-stamp: before revocation stays valid, after does not."""

from __future__ import annotations

import datetime
import json
import urllib.request
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from esign import sign, verify
from esign.certs import CertificateAuthority, TrustContext
from esign.certs.authority import signature_hash
from esign.cli.main import main
from esign.errors import EsignError
from esign.keys import generate_key
from esign.signing.timestamps import HttpTimeStamper, TimeStampAuthority, TimeStampError

from . import _signing_pki as helpers
from .conftest import Pki

DOC = b"tax return 2026"
NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def _clock(moment: datetime.datetime):  # type: ignore[no-untyped-def]
    return lambda: moment


@pytest.fixture(scope="module")
def tsa(pki: Pki) -> TimeStampAuthority:
    key, cert = helpers.tsa(pki.ca)
    return TimeStampAuthority(key, cert)  # real time: Ivanov's certificate is new


def _unsigned_names(der: bytes) -> list[str]:
    signer = cms.ContentInfo.load(der)["content"]["signer_infos"][0]
    return [a["type"].native for a in signer["unsigned_attrs"]]


def test_b_t_signature_carries_a_verified_timestamp(pki: Pki, tsa: TimeStampAuthority) -> None:
    sig = sign(DOC, signer=(pki.ivanov_key, pki.ivanov_cert), timestamper=tsa.timestamper)
    assert _unsigned_names(sig) == ["signature_time_stamp_token"]
    report = verify(sig, DOC, trust=pki.trust)
    assert report.valid, report.errors
    now = datetime.datetime.now(datetime.timezone.utc)
    assert report.timestamp is not None and abs((report.timestamp - now).total_seconds()) < 300
    assert report.validation_time == report.timestamp
    assert report.timestamp_authority == "CN=Test TSA"
    assert json.loads(report.to_json())["timestamp"] == report.timestamp.isoformat()
    assert "time-stamp (proof of existence)" in str(report)


def test_http_tsa_round_trip(pki: Pki, tsa: TimeStampAuthority) -> None:
    with tsa.serve() as server:
        assert server.url.startswith("http://127.0.0.1:")
        sig = sign(
            DOC, signer=(pki.ivanov_key, pki.ivanov_cert), timestamper=HttpTimeStamper(server.url)
        )
        # Anything but a time-stamp query is refused with HTTP 400.
        request = urllib.request.Request(server.url, data=b"junk", method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
        assert refused.value.code == 400
    assert verify(sig, DOC, trust=pki.trust).timestamp is not None


def test_unreachable_tsa_is_a_named_error(pki: Pki, tsa: TimeStampAuthority) -> None:
    with tsa.serve() as server:
        url = server.url
    with pytest.raises(TimeStampError):
        sign(DOC, signer=(pki.ivanov_key, pki.ivanov_cert), timestamper=HttpTimeStamper(url))
    with pytest.raises(ValueError, match="http"):  # a caller's mistake, not an input fault
        HttpTimeStamper("ftp://example.invalid/")


def test_tsa_needs_time_stamping_certificate(pki: Pki) -> None:
    with pytest.raises(EsignError):
        TimeStampAuthority(pki.ivanov_key, pki.ivanov_cert)


def test_timestamp_from_an_untrusted_tsa_is_an_error(pki: Pki, other_pki: Pki) -> None:
    key, cert = helpers.tsa(other_pki.ca)
    stranger = TimeStampAuthority(key, cert)
    sig = sign(DOC, signer=(pki.ivanov_key, pki.ivanov_cert), timestamper=stranger.timestamper)
    report = verify(sig, DOC, trust=pki.trust)
    assert not report.valid and "timestamp_untrusted" in {e.code for e in report.errors}
    tsa_trust = TrustContext([other_pki.ca.certificate], crls=[other_pki.ca.crl()])
    trusted = verify(sig, DOC, trust=pki.trust, tsa_trust=tsa_trust)
    assert trusted.valid, trusted.errors


def test_timestamp_over_another_signature_is_refused(pki: Pki, tsa: TimeStampAuthority) -> None:
    from esign.policy import AlgorithmPolicy
    from esign.signing.report import VerificationReport
    from esign.signing.verify import _check_timestamp, _Options

    stamped = cms.ContentInfo.load(
        sign(DOC, signer=(pki.ivanov_key, pki.ivanov_cert), timestamper=tsa.timestamper)
    )
    signer = stamped["content"]["signer_infos"][0]
    token = signer["unsigned_attrs"][0]["values"][0]
    options = _Options(pki.trust, pki.trust, None, [], [], "eidas", AlgorithmPolicy())
    right = VerificationReport()
    assert _check_timestamp(right, token, signer["signature"].native, [], options) is not None
    wrong = VerificationReport()
    # The same token presented for a signature it was not made for.
    assert _check_timestamp(wrong, token, b"another signature value", [], options) is None
    assert [e.code for e in wrong.errors] == ["timestamp_invalid"]


# --- revocation before / after ---------------------------------------------------------------


def _revoke(ca: CertificateAuthority, cert: x509.Certificate, at: datetime.datetime) -> bytes:
    """A CRL, issued now, saying ``cert`` was revoked at ``at`` (key compromise)."""
    revoked = (
        x509.RevokedCertificateBuilder()
        .serial_number(cert.serial_number)
        .revocation_date(at)
        .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
        .build()
    )
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.certificate.subject)
        .last_update(NOW - datetime.timedelta(minutes=5))
        .next_update(NOW + datetime.timedelta(days=7))
        .add_revoked_certificate(revoked)
        .add_extension(x509.CRLNumber(2), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.certificate.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(ca.key, signature_hash(ca.key))  # type: ignore[arg-type]
    )
    return crl.public_bytes(serialization.Encoding.DER)


@pytest.fixture(scope="module")
def revoked_signer(pki: Pki) -> tuple[object, x509.Certificate, bytes]:
    """A signer whose certificate (valid from 60 days ago) was revoked 5 days ago."""
    key = generate_key("ec-p256")
    cert = helpers.issue(
        pki.ca, key.public_key(), "Revoked Ivanov", not_before=NOW - datetime.timedelta(days=60)
    )
    return key, cert, _revoke(pki.ca, cert, NOW - datetime.timedelta(days=5))


def _stamped_at(
    pki: Pki, signer: tuple[object, x509.Certificate, bytes], when: datetime.datetime
) -> bytes:
    key, cert, _ = signer
    tsa_key, tsa_cert = helpers.tsa(pki.ca)
    authority = TimeStampAuthority(tsa_key, tsa_cert, clock=_clock(when))
    return sign(DOC, signer=(key, cert), clock=_clock(when), timestamper=authority.timestamper)  # type: ignore[arg-type]


def test_signature_timestamped_before_revocation_stays_valid(pki: Pki, revoked_signer) -> None:  # type: ignore[no-untyped-def]
    crl = revoked_signer[2]
    trust = TrustContext([pki.ca.certificate], crls=[crl], name="tax service")
    sig = _stamped_at(pki, revoked_signer, NOW - datetime.timedelta(days=10))
    report = verify(sig, DOC, trust=trust)
    assert report.valid, report.errors
    assert report.validation_time == NOW - datetime.timedelta(days=10)
    assert report.revocation is not None and "good (crl)" in report.revocation
    assert [w.code for w in report.warnings] == ["revoked_after_signing"]


def test_signature_timestamped_after_revocation_is_invalid(pki: Pki, revoked_signer) -> None:  # type: ignore[no-untyped-def]
    crl = revoked_signer[2]
    trust = TrustContext([pki.ca.certificate], crls=[crl], name="tax service")
    sig = _stamped_at(pki, revoked_signer, NOW - datetime.timedelta(days=1))
    report = verify(sig, DOC, trust=trust)
    assert not report.valid
    assert "revoked" in {e.code for e in report.errors}
    assert report.revocation is not None and report.revocation.startswith(
        "revoked (key_compromise)"
    )


def test_untimestamped_signature_claiming_an_early_time_is_invalid(
    pki: Pki, revoked_signer
) -> None:  # type: ignore[no-untyped-def]
    key, cert, crl = revoked_signer
    trust = TrustContext([pki.ca.certificate], crls=[crl])
    early = NOW - datetime.timedelta(days=10)
    sig = sign(DOC, signer=(key, cert), clock=_clock(early))  # a claim, no proof
    report = verify(sig, DOC, trust=trust)
    assert report.signing_time == early
    assert not report.valid and "revoked" in {e.code for e in report.errors}


def test_cli_tsa_and_revocation(
    pki: Pki, revoked_signer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    sig = _stamped_at(pki, revoked_signer, NOW - datetime.timedelta(days=10))
    (tmp_path / "s.p7s").write_bytes(sig)
    (tmp_path / "d").write_bytes(DOC)
    (tmp_path / "crl.der").write_bytes(revoked_signer[2])
    ca = tmp_path / "ca.pem"
    ca.write_bytes(pki.ca.certificate.public_bytes(serialization.Encoding.PEM))
    args = [
        "verify",
        str(tmp_path / "s.p7s"),
        "--data",
        str(tmp_path / "d"),
        "--trust",
        str(ca),
        "--crl",
        str(tmp_path / "crl.der"),
        "--json",
    ]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["timestamp"] is not None
    # Judged explicitly now (--at), the revocation counts.
    assert main([*args, "--at", NOW.isoformat()]) == 1


def test_cli_sign_with_tsa_url(pki: Pki, tsa: TimeStampAuthority, tmp_path: Path) -> None:
    paths = pki.write(tmp_path)
    (tmp_path / "d").write_bytes(DOC)
    with tsa.serve() as server:
        code = main(
            [
                "sign",
                str(tmp_path / "d"),
                "--key",
                str(paths["ivanov_key"]),
                "--cert",
                str(paths["ivanov_cert"]),
                "--tsa",
                server.url,
                "--attached",
                "--out",
                str(tmp_path / "s"),
            ]
        )
    assert code == 0
    assert verify((tmp_path / "s").read_bytes(), trust=pki.trust).timestamp is not None


# --- B-LT: validation data inside the signature, verified offline ------------------------------


def test_b_lt_verifies_offline_with_embedded_revocation_data(pki: Pki, revoked_signer) -> None:  # type: ignore[no-untyped-def]
    from esign.signing.sign import add_validation_data

    crl = revoked_signer[2]
    offline = TrustContext([pki.ca.certificate], name="tax service")  # no CRL of its own
    before = add_validation_data(
        _stamped_at(pki, revoked_signer, NOW - datetime.timedelta(days=10)),
        certificates=[pki.ca.certificate],
        crls=[crl],
    )
    assert len(cms.ContentInfo.load(before)["content"]["crls"]) == 1
    report = verify(before, DOC, trust=offline)
    assert report.valid, report.errors
    assert report.revocation is not None and "later" in report.revocation
    after = add_validation_data(
        _stamped_at(pki, revoked_signer, NOW - datetime.timedelta(days=1)), crls=[crl]
    )
    late = verify(after, DOC, trust=offline)
    assert not late.valid and "revoked" in {e.code for e in late.errors}
    # Adding validation data twice changes nothing.
    assert add_validation_data(before, crls=[crl], certificates=[pki.ca.certificate]) == before


def test_embedded_crl_from_another_ca_is_ignored(pki: Pki, other_pki: Pki, revoked_signer) -> None:  # type: ignore[no-untyped-def]
    from esign.signing.sign import add_validation_data

    key, cert, _ = revoked_signer
    # A CRL "revoking" the serial, but signed by an unrelated CA: no evidence at all.
    forged = _revoke(other_pki.ca, cert, NOW - datetime.timedelta(days=30))
    sig = add_validation_data(sign(DOC, signer=(key, cert)), crls=[forged])
    assert verify(sig, DOC, trust=pki.trust).valid


def test_openssl_reads_b_lt(openssl: str, pki: Pki, revoked_signer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from esign.signing.sign import add_validation_data

    from .conftest import run

    sig = add_validation_data(
        sign(DOC, signer=(pki.ivanov_key, pki.ivanov_cert), detached=False),
        crls=[revoked_signer[2]],
    )
    (tmp_path / "s.der").write_bytes(sig)
    (tmp_path / "ca.pem").write_bytes(pki.ca.certificate.public_bytes(serialization.Encoding.PEM))
    result = run(
        openssl,
        "cms",
        "-verify",
        "-inform",
        "DER",
        "-in",
        tmp_path / "s.der",
        "-CAfile",
        tmp_path / "ca.pem",
        "-crl_check",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == DOC


def test_command_line_names_a_bad_tsa_url_in_one_line(pki: Pki, tmp_path: Path) -> None:
    from .test_cli import assert_clean_failure, esign

    files = pki.write(tmp_path)
    (tmp_path / "doc").write_bytes(DOC)
    result = esign(
        "sign", tmp_path / "doc", "--key", files["ivanov_key"], "--cert", files["ivanov_cert"],
        "--tsa", "ftp://example.invalid/", "--out", tmp_path / "s.p7s",
    )  # fmt: skip
    assert_clean_failure(result, 2)
    assert "http" in result.stderr


# --- the TSA's own policy OID (RFC 3161 §2.4.2), not pyHanko's test arc -----------------------


def _tst_policy(signature: bytes) -> str:
    signer = cms.ContentInfo.load(signature)["content"]["signer_infos"][0]
    token = signer["unsigned_attrs"][0]["values"][0]
    return str(token["content"]["encap_content_info"]["content"].parsed["policy"].dotted)


def test_tsa_writes_its_own_policy_oid(pki: Pki) -> None:
    key, cert = helpers.tsa(pki.ca)
    default = TimeStampAuthority(key, cert)
    own = TimeStampAuthority(key, cert, policy="1.2.643.100.999.1")
    signer = (pki.ivanov_key, pki.ivanov_cert)
    assert _tst_policy(sign(DOC, signer=signer, timestamper=default.timestamper)) == (
        "0.4.0.2023.1.1"
    )
    stamped = sign(DOC, signer=signer, timestamper=own.timestamper)
    assert _tst_policy(stamped) == "1.2.643.100.999.1"
    assert verify(stamped, DOC, trust=pki.trust).timestamp is not None
    with pytest.raises(ValueError, match="object identifier"):  # the caller's mistake
        TimeStampAuthority(key, cert, policy="not-an-oid")


def test_cli_tsa_serve_with_policy(pki: Pki, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    key, cert = helpers.tsa(pki.ca)
    (tmp_path / "tsa.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (tmp_path / "tsa.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    command = [sys.executable, "-m", "esign", "tsa", "serve", "--key", str(tmp_path / "tsa.key")]
    command += ["--cert", str(tmp_path / "tsa.pem"), "--policy", "1.2.3.4.5", "--port", "0"]
    server = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        assert "policy 1.2.3.4.5" in line, line
        url = line.rsplit(" at ", 1)[1].strip()
        stamped = sign(
            DOC, signer=(pki.ivanov_key, pki.ivanov_cert), timestamper=HttpTimeStamper(url)
        )
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert _tst_policy(stamped) == "1.2.3.4.5"
