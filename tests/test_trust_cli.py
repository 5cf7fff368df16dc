"""``esign cert verify`` end to end, against OpenSSL-made CAs, CRLs and OCSP responses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from esign.cli.main import main
from tests.conftest import Pki, run

pytestmark = pytest.mark.interop


@pytest.fixture
def openssl_pki(openssl: str, tmp_path: Path) -> Path:
    """A CA, a leaf with an OCSP URL (serial 0x1234) and a second leaf, all by openssl."""
    d = tmp_path

    def ok(*args: str | Path) -> None:
        done = run(openssl, *args)
        assert done.returncode == 0, done.stderr

    ok(
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        d / "ca.key",
        "-out",
        d / "ca.pem",
        "-subj",
        "/CN=OpenSSL Test CA",
        "-days",
        "30",
    )
    (d / "ext.cnf").write_text(
        "authorityInfoAccess=OCSP;URI:http://127.0.0.1:9/\nkeyUsage=critical,digitalSignature\n"
    )
    for name, serial in (("leaf", "4660"), ("other", "4661")):
        ok(
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            d / f"{name}.key",
            "-out",
            d / f"{name}.csr",
            "-subj",
            f"/CN={name}",
        )
        ok(
            "x509",
            "-req",
            "-in",
            d / f"{name}.csr",
            "-CA",
            d / "ca.pem",
            "-CAkey",
            d / "ca.key",
            "-set_serial",
            serial,
            "-days",
            "10",
            "-extfile",
            d / "ext.cnf",
            "-out",
            d / f"{name}.pem",
        )
    return d


def _ocsp(openssl: str, d: Path, line: str, out: str) -> Path:
    (d / "index.txt").write_text(line)
    done = run(
        openssl,
        "ocsp",
        "-index",
        d / "index.txt",
        "-CA",
        d / "ca.pem",
        "-rsigner",
        d / "ca.pem",
        "-rkey",
        d / "ca.key",
        "-issuer",
        d / "ca.pem",
        "-cert",
        d / "leaf.pem",
        "-respout",
        d / out,
        "-ndays",
        "7",
    )
    assert done.returncode == 0, done.stderr
    return d / out


def _crl(openssl: str, d: Path, revoked_serial: str | None) -> Path:
    """A CRL made by `openssl ca -gencrl` (optionally revoking one serial)."""
    (d / "db.txt").write_text(
        f"R\t301231000000Z\t250101000000Z,keyCompromise\t{revoked_serial}\tunknown\t/CN=leaf\n"
        if revoked_serial
        else ""
    )
    (d / "ca.cnf").write_text(
        "[ca]\ndefault_ca=x\n[x]\n"
        f"database={d / 'db.txt'}\ncrlnumber={d / 'crlnumber'}\n"
        "default_md=sha256\ndefault_crl_days=7\n"
    )
    (d / "crlnumber").write_text("01\n")
    done = run(
        openssl,
        "ca",
        "-gencrl",
        "-config",
        d / "ca.cnf",
        "-keyfile",
        d / "ca.key",
        "-cert",
        d / "ca.pem",
        "-out",
        d / "ca.crl",
    )
    assert done.returncode == 0, done.stderr
    return d / "ca.crl"


def test_openssl_ocsp_revoked_and_good(
    openssl: str, openssl_pki: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = openssl_pki
    revoked = _ocsp(
        openssl,
        d,
        "R\t301231000000Z\t250101000000Z,keyCompromise\t1234\tunknown\t/CN=leaf\n",
        "revoked.der",
    )
    code = main(
        [
            "cert",
            "verify",
            str(d / "leaf.pem"),
            "--trust",
            str(d / "ca.pem"),
            "--ocsp",
            str(revoked),
            "--json",
        ]
    )
    payload = json.loads(capsys.readouterr().out)
    assert code == 1 and not payload["valid"]
    assert [e["code"] for e in payload["errors"]] == ["revoked"]
    assert payload["revocation_reason"] == "key_compromise"
    assert payload["revoked_at"].startswith("2025-01-01")
    good = _ocsp(openssl, d, "V\t301231000000Z\t\t1234\tunknown\t/CN=leaf\n", "good.der")
    code = main(
        [
            "cert",
            "verify",
            str(d / "leaf.pem"),
            "--trust",
            str(d / "ca.pem"),
            "--ocsp",
            str(good),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and out.startswith("valid: trusted in domain 'default'")


def test_openssl_crl_agrees(
    openssl: str, openssl_pki: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """esign and `openssl verify -crl_check` reach the same verdict on the same CRL."""
    d = openssl_pki
    crl = _crl(openssl, d, "1234")
    for leaf, expected in (("leaf", 1), ("other", 0)):
        code = main(
            [
                "cert",
                "verify",
                str(d / f"{leaf}.pem"),
                "--trust",
                str(d / "ca.pem"),
                "--crl",
                str(crl),
                "--domain",
                "tax service",
            ]
        )
        out = capsys.readouterr().out
        assert code == expected, out
        peer = run(
            openssl,
            "verify",
            "-crl_check",
            "-CAfile",
            d / "ca.pem",
            "-CRLfile",
            crl,
            d / f"{leaf}.pem",
        )
        assert (peer.returncode == 0) == (expected == 0), peer.stdout + peer.stderr
        if expected:
            assert b"revoked" in peer.stdout + peer.stderr
            assert "error [revoked]" in out and "not valid in domain 'tax service'" in out


def test_esign_pki_domains(
    pki: Pki, other_pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = pki.write(tmp_path)
    (tmp_path / "other").mkdir()
    other = other_pki.write(tmp_path / "other")
    code = main(
        [
            "cert",
            "verify",
            str(paths["ivanov_cert"]),
            "--trust",
            str(paths["ca"]),
            "--crl",
            str(paths["crl"]),
            "--json",
            "--domain",
            "tax service",
        ]
    )
    payload = json.loads(capsys.readouterr().out)
    assert code == 0 and payload["accepted_by"] == "tax service"
    assert payload["chain"][0]["subject"] == "CN=Ivan Ivanov"
    code = main(
        [
            "cert",
            "verify",
            str(paths["ivanov_cert"]),
            "--trust",
            str(other["ca"]),
            "--json",
            "--domain",
            "bank",
        ]
    )
    payload = json.loads(capsys.readouterr().out)
    assert code == 1 and [e["code"] for e in payload["errors"]] == ["no_path"]
    code = main(
        [
            "cert", "verify", str(paths["tax_cert"]), "--trust", str(paths["ca"]),
            "--crl", str(paths["crl"]), "--json",
        ]
    )  # fmt: skip
    payload = json.loads(capsys.readouterr().out)
    assert code == 1 and [e["code"] for e in payload["errors"]] == ["wrong_usage"]
    assert (
        main(
            [
                "cert",
                "verify",
                str(paths["tax_cert"]),
                "--trust",
                str(paths["ca"]),
                "--crl",
                str(paths["crl"]),
                "--usage",
                "encryption",
            ]
        )
        == 0
    )


@pytest.mark.parametrize(
    "extra",
    [
        ["--at", "yesterday"],
        ["--crl", "__garbage__"],
        ["--ocsp", "__garbage__"],
        ["--crl", "/nonexistent.crl"],
        ["--trusted-list", "__garbage__"],
    ],
)
def test_unprocessable_input_exit_2(
    pki: Pki, tmp_path: Path, extra: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    paths = pki.write(tmp_path)
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"\x30\x82garbage")
    argv = ["cert", "verify", str(paths["ivanov_cert"]), "--trust", str(paths["ca"])]
    argv += [str(garbage) if a == "__garbage__" else a for a in extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_unreadable_certificate_exit_2(
    pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = pki.write(tmp_path)
    bad = tmp_path / "bad.pem"
    bad.write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    assert main(["cert", "verify", str(bad), "--trust", str(paths["ca"])]) == 2
    assert capsys.readouterr().err.count("\n") == 1
