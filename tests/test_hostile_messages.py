"""Refusals a person can act on: no parser internals, one line, a quiet end on a closed pipe,
an OCSP request for two certificates, and algorithms nobody here knows."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from esign.certs.loading import parse_certificates
from esign.certs.ocsp_server import OcspServer
from esign.certs.revinfo import parse_crl, parse_ocsp_response
from esign.certs.revocation import load_ocsp_request
from esign.cli.main import main
from esign.errors import EsignError
from esign.signing.container import load_content_info
from esign.signing.sign import sign
from esign.signing.verify import verify

from .conftest import Pki

#: What a person must never read: the parsers' own words.
INTERNALS = ("ParseError", "Insufficient data", "BER tag", "asn1crypto", "ShortData", "object is")

PEM_CERT = b"-----BEGIN CERTIFICATE-----\nMIIBAA==\n-----END CERTIFICATE-----\n"

BAD_INPUTS: dict[str, tuple[bytes, str]] = {
    "empty": (b"", "empty"),
    "text": (b"Dear tax office, please find my return.\n", "text"),
    "a SET": (b"\x31\x03\x02\x01\x01", "0x31"),
    "truncated": (b"\x30\x82\xff\xff\x02\x01", "truncated"),
    "huge length": (b"\x30\x88" + b"\x7f" * 8 + b"\x02\x01", "more than 10^12 bytes"),
    "trailing bytes": (b"\x30\x03\x02\x01\x01" + b"\x00" * 7, "follow the end"),
    "one byte": (b"\x30", "truncated"),
}

PARSERS: dict[str, tuple[Callable[[bytes], Any], str]] = {
    "CMS": (load_content_info, "not a CMS signature"),
    "certificate": (parse_certificates, "not a certificate"),
    "CRL": (parse_crl, "not a CRL"),
    "OCSP request": (load_ocsp_request, "not a OCSP request"),
    "OCSP response": (parse_ocsp_response, "not a OCSP response"),
}


def assert_for_people(message: str) -> None:
    assert "\n" not in message.strip(), message
    for word in INTERNALS:
        assert word not in message, message


@pytest.mark.parametrize("parser", sorted(PARSERS))
@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_refusals_say_what_is_wrong(parser: str, case: str) -> None:
    data, expected = BAD_INPUTS[case]
    parse, prefix = PARSERS[parser]
    with pytest.raises(EsignError) as caught:
        parse(data)
    message = str(caught.value)
    assert_for_people(message)
    assert message.startswith(prefix), message
    assert expected in message, message


def test_pem_of_the_wrong_kind_is_named() -> None:
    with pytest.raises(EsignError, match="PEM holding a CERTIFICATE block, not CMS or PKCS7"):
        load_content_info(PEM_CERT)


def test_indefinite_length_certificate_is_named() -> None:
    with pytest.raises(EsignError, match=r"indefinite length \(BER\)"):
        parse_certificates(b"\x30\x80\x02\x01\x01\x00\x00")


def test_cli_verify_says_it_in_one_line(
    pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = pki.write(tmp_path)
    for case, (data, expected) in BAD_INPUTS.items():
        bad = tmp_path / "bad.p7s"
        bad.write_bytes(data)
        code = main(["verify", str(bad), "--trust", str(files["ca"]), "--crl", str(files["crl"])])
        err = capsys.readouterr().err
        assert code == 2, (case, err)
        assert err.startswith("esign: error: not a CMS signature: "), err
        assert expected in err and "not the signed document" in err, err
        assert_for_people(err)


def test_closed_pipe_ends_quietly(pki: Pki, tmp_path: Path) -> None:
    """``esign verify ... | head -0``: the reader left; no "Broken pipe", the real exit code."""
    files = pki.write(tmp_path)
    signature = tmp_path / "s.p7s"
    signature.write_bytes(sign(b"return", signer=(pki.ivanov_key, pki.ivanov_cert)))
    data = tmp_path / "d.txt"
    data.write_bytes(b"return")
    process = subprocess.Popen(
        [sys.executable, "-m", "esign", "verify", str(signature), "--data", str(data),
         "--trust", str(files["ca"]), "--crl", str(files["crl"])],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader is gone before the first line
    err = process.stderr.read()
    assert process.wait(timeout=120) == 0, err
    assert err == b"", err


def _two_certificate_request(pki: Pki) -> bytes:
    """A DER OCSPRequest with two Request entries (openssl writes these with two -cert)."""
    one = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(pki.ivanov_cert, pki.ca.certificate, hashes.SHA256())
        .build()
    )
    parsed = asn1_ocsp_request(one.public_bytes(serialization.Encoding.DER))
    requests = parsed["tbs_request"]["request_list"]
    requests.append(requests[0].copy())
    return bytes(parsed.dump(force=True))


def asn1_ocsp_request(der: bytes) -> Any:
    from asn1crypto import ocsp as asn1_ocsp

    return asn1_ocsp.OCSPRequest.load(der)


def test_ocsp_request_for_two_certificates(
    pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """RFC 5019 profile: one certificate per request; two get malformedRequest, not a crash."""
    request = _two_certificate_request(pki)
    with pytest.raises(EsignError, match="more than one certificate"):
        load_ocsp_request(request)
    answer = ocsp.load_der_ocsp_response(pki.ca.ocsp_response(request))
    assert answer.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    with OcspServer(pki.ca) as server:
        http = urllib.request.Request(
            server.url, data=request, headers={"Content-Type": "application/ocsp-request"}
        )
        with urllib.request.urlopen(http, timeout=30) as reply:
            served = ocsp.load_der_ocsp_response(reply.read())
    assert served.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_cli_ocsp_request_for_two_certificates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from esign.certs.authority import CertificateAuthority

    monkeypatch.setenv("ESIGN_PASSWORD", "pw")
    ca = CertificateAuthority.init_folder(tmp_path / "ca", "CN=OCSP CA", password="pw")
    first = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(ca.certificate, ca.certificate, hashes.SHA1())
        .build()
    )
    parsed = asn1_ocsp_request(first.public_bytes(serialization.Encoding.DER))
    parsed["tbs_request"]["request_list"].append(parsed["tbs_request"]["request_list"][0].copy())
    request = tmp_path / "two.der"
    request.write_bytes(parsed.dump(force=True))
    out = tmp_path / "resp.der"
    code = main(["ca", "ocsp", "--ca", str(tmp_path / "ca"), "--request", str(request),
                 "--out", str(out)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "one per request" in err and "\n" not in err.strip(), err
    assert not out.exists()


GOST_SIGNATURE = "1.2.643.7.1.1.3.3"  # GOST R 34.10-2012 with Streebog-512
GOST_DIGEST = "1.2.643.7.1.1.2.3"  # Streebog-512
GOST_KEY = "1.2.643.7.1.1.1.2"  # GOST R 34.10-2012 512-bit key


def _gost_signer_info(info: cms.ContentInfo) -> None:
    info["content"]["signer_infos"][0]["signature_algorithm"] = {"algorithm": GOST_SIGNATURE}


def _gost_digest(info: cms.ContentInfo) -> None:
    info["content"]["signer_infos"][0]["digest_algorithm"] = {"algorithm": GOST_DIGEST}
    info["content"]["digest_algorithms"] = [{"algorithm": GOST_DIGEST}]


def _gost_certificate(info: cms.ContentInfo) -> None:
    cert = asn1_x509.Certificate.load(info["content"]["certificates"][0].chosen.dump())
    cert["signature_algorithm"] = {"algorithm": GOST_SIGNATURE}
    cert["tbs_certificate"]["signature"] = {"algorithm": GOST_SIGNATURE}
    info["content"]["certificates"] = [cert]


def _gost_key(info: cms.ContentInfo) -> None:
    cert = asn1_x509.Certificate.load(info["content"]["certificates"][0].chosen.dump())
    cert["tbs_certificate"]["subject_public_key_info"]["algorithm"] = {"algorithm": GOST_KEY}
    info["content"]["certificates"] = [cert]


@pytest.mark.parametrize(
    "patch",
    [_gost_signer_info, _gost_digest, _gost_certificate, _gost_key],
    ids=lambda f: f.__name__,
)
def test_unknown_algorithms_are_named_not_tracebacks(
    patch: Callable[[cms.ContentInfo], None],
    pki: Pki,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    info = cms.ContentInfo.load(
        sign(b"return", signer=(pki.ivanov_key, pki.ivanov_cert), detached=False)
    )
    patch(info)
    der = info.dump(force=True)
    try:
        report = verify(der, trust=pki.trust)
    except EsignError as exc:
        assert_for_people(str(exc))
    else:
        assert not report.valid
        assert report.indication in ("TOTAL-FAILED", "INDETERMINATE")
    files = pki.write(tmp_path)
    path = tmp_path / "gost.p7s"
    path.write_bytes(der)
    code = main(["verify", str(path), "--trust", str(files["ca"]), "--crl", str(files["crl"])])
    captured = capsys.readouterr()
    assert code in (1, 2), captured
    assert "Traceback" not in captured.err and "VALID" not in captured.out.replace("NOT VALID", "")


def test_gost_certificate_shows_and_verifies_without_traceback(
    pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cert = asn1_x509.Certificate.load(pki.ivanov_cert.public_bytes(serialization.Encoding.DER))
    cert["signature_algorithm"] = {"algorithm": GOST_SIGNATURE}
    cert["tbs_certificate"]["signature"] = {"algorithm": GOST_SIGNATURE}
    path = tmp_path / "gost.der"
    path.write_bytes(cert.dump(force=True))
    x509.load_der_x509_certificate(path.read_bytes())  # still a readable certificate
    files = pki.write(tmp_path)
    code = main(["cert", "verify", str(path), "--trust", str(files["ca"]),
                 "--crl", str(files["crl"])])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 1, captured
    assert "Traceback" not in captured.err
