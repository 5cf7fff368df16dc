"""``esign ca`` / ``esign cert`` / ``esign crl``: a CA in a folder, driven like a user would."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from esign.cli import ca_cmds
from esign.cli.main import main
from esign.keys import generate_key
from tests.conftest import run

PASSWORD = "ca-password"


def esign(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def ca_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Path:
    monkeypatch.setenv("ESIGN_PASSWORD", PASSWORD)
    folder = tmp_path / "ca"
    code, out, err = esign(
        capsys, "ca", "init", "--subject", "CN=CLI Root CA,O=Tax Service", "--out-dir", folder,
        "--crl-url", "http://127.0.0.1/ca.crl",
        "--pds", "https://ca.example/pds.pdf,en",
        "--issuer-sign-tool", "CSP 5.0", "UC 2.0", "SF/124-3966", "SF/128-3868",
        "--subject-sign-tool", "CSP 5.0",
    )  # fmt: skip
    assert code == 0, err
    assert "created root CA" in out
    return folder


def public_key_file(folder: Path, alg: str = "ec-p256") -> Path:
    path = folder / f"{alg}.pub.pem"
    path.write_bytes(
        generate_key(alg)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return path


def test_init_intermediate_under_a_parent(
    ca_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], openssl: str
) -> None:
    sub = tmp_path / "sub"
    code, out, err = esign(
        capsys, "ca", "init", "--subject", "CN=CLI Issuing CA", "--out-dir", sub,
        "--parent", ca_dir, "--alg", "ec-p384",
    )  # fmt: skip
    assert code == 0, err
    assert "created intermediate CA" in out
    leaf = tmp_path / "leaf.pem"
    code, _, err = esign(
        capsys, "cert", "issue", "--ca", sub, "--public-key", public_key_file(tmp_path),
        "--subject", "CN=Leaf", "--profile", "signing", "--out", leaf,
    )  # fmt: skip
    assert code == 0, err
    check = run(
        openssl, "verify", "-CAfile", ca_dir / "ca.pem", "-untrusted", sub / "chain.pem",
        "-untrusted", sub / "ca.pem", leaf,
    )  # fmt: skip
    assert check.returncode == 0, check


def test_init_writes_the_folder(ca_dir: Path) -> None:
    assert {p.name for p in ca_dir.iterdir()} >= {
        "ca.pem", "ca.key.pem", "registry.sqlite3", "ca.json",
    }  # fmt: skip
    assert b"ENCRYPTED PRIVATE KEY" in (ca_dir / "ca.key.pem").read_bytes()
    assert json.loads((ca_dir / "ca.json").read_text())["qualified"]["pds"] == [
        ["https://ca.example/pds.pdf", "en"]
    ]


def test_issue_revoke_crl_and_openssl_agrees(
    ca_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], openssl: str
) -> None:
    result = run(
        openssl, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", tmp_path / "u.key", "-out", tmp_path / "u.csr", "-subj", "/CN=Sidorov",
    )  # fmt: skip
    assert result.returncode == 0
    for name in ("keep", "drop"):
        code, out, err = esign(
            capsys, "cert", "issue", "--ca", ca_dir, "--csr", tmp_path / "u.csr",
            "--subject", f"CN={name}", "--profile", "signing", "--out", tmp_path / f"{name}.pem",
        )  # fmt: skip
        assert code == 0, err
        assert f"CN={name}" in out
    drop = x509.load_pem_x509_certificate((tmp_path / "drop.pem").read_bytes())
    code, out, err = esign(
        capsys, "cert", "revoke", "--ca", ca_dir, f"{drop.serial_number:X}", "--reason",
        "keyCompromise",
    )  # fmt: skip
    assert code == 0, err
    assert "keyCompromise" in out
    code, out, err = esign(capsys, "crl", "--ca", ca_dir, "--out", tmp_path / "ca.crl")
    assert code == 0, err
    assert "CRL number 1 with 1 revoked" in out
    verify = ["verify", "-crl_check", "-CAfile", ca_dir / "ca.pem", "-CRLfile", tmp_path / "ca.crl"]
    assert run(openssl, *verify, tmp_path / "keep.pem").returncode == 0
    bad = run(openssl, *verify, tmp_path / "drop.pem")
    assert bad.returncode != 0 and b"certificate revoked" in bad.stdout + bad.stderr
    # a delta CRL after one more revocation
    code, _, err = esign(
        capsys, "cert", "revoke", "--ca", ca_dir, "--cert", tmp_path / "keep.pem",
        "--reason", "superseded",
    )  # fmt: skip
    assert code == 0, err
    code, out, err = esign(capsys, "crl", "--ca", ca_dir, "--delta", "--out", tmp_path / "d.crl")
    assert code == 0 and "delta CRL number 2 with 1 revoked" in out, err


def test_ocsp_through_the_cli(
    ca_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], openssl: str
) -> None:
    cert = tmp_path / "c.pem"
    code, _, err = esign(
        capsys, "cert", "issue", "--ca", ca_dir, "--public-key", public_key_file(tmp_path),
        "--subject", "CN=OCSP subject", "--profile", "signing", "--out", cert,
    )  # fmt: skip
    assert code == 0, err
    req, resp = tmp_path / "r.der", tmp_path / "s.der"
    run(openssl, "ocsp", "-issuer", ca_dir / "ca.pem", "-cert", cert, "-reqout", req)
    code, _, err = esign(capsys, "ca", "ocsp", "--ca", ca_dir, "--request", req, "--out", resp)
    assert code == 0, err
    check = run(
        openssl, "ocsp", "-respin", resp, "-issuer", ca_dir / "ca.pem", "-cert", cert,
        "-CAfile", ca_dir / "ca.pem", "-no_nonce",
    )  # fmt: skip
    assert f"{cert}: good".encode() in check.stdout, check


def test_show_summarises_qualified_certificates(
    ca_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pub = public_key_file(tmp_path)
    for profile, subject in (
        ("qualified-eidas", "serialNumber=PNODE-1,GN=Max,SN=Muster,CN=Max Muster,C=DE"),
        ("qualified-ru", "SNILS=11223344595,INN=500100732259,CN=Ivan Ivanov,C=RU"),
    ):
        out_file = tmp_path / f"{profile}.pem"
        code, _, err = esign(
            capsys, "cert", "issue", "--ca", ca_dir, "--public-key", pub, "--subject", subject,
            "--profile", profile, "--out", out_file,
        )  # fmt: skip
        assert code == 0, err
        code, text, _ = esign(capsys, "cert", "show", out_file)
        assert code == 0
        assert f"profile:     {profile}" in text
        assert "key usage:   digitalSignature, nonRepudiation" in text
        code, raw, _ = esign(capsys, "cert", "show", out_file, "--json")
        summary = json.loads(raw)
        assert summary["issuer"] == "CN=CLI Root CA,O=Tax Service"
        if profile == "qualified-eidas":
            assert "qualified:   QcSSCD" in text
            assert "qualified:   QcPDS https://ca.example/pds.pdf (en)" in text
            assert summary["policies"] == ["QCP-n-qscd"]
        else:
            assert "qualified:   INN 500100732259" in text
            assert summary["qualified"]["ru"]["subject_sign_tool"] == "CSP 5.0"
            assert summary["policies"] == ["KC1"]


def test_reissue_is_the_forgotten_password_flow(
    ca_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = tmp_path / "old.pem"
    esign(
        capsys, "cert", "issue", "--ca", ca_dir, "--public-key", public_key_file(tmp_path),
        "--subject", "CN=Forgetful", "--profile", "signing", "--out", old,
    )  # fmt: skip
    new_key = public_key_file(tmp_path, "ed25519")
    code, out, err = esign(
        capsys, "cert", "reissue", "--ca", ca_dir, "--cert", old, "--public-key", new_key,
        "--reason", "keyCompromise", "--out", tmp_path / "new.pem",
    )  # fmt: skip
    assert code == 0, err
    assert "revoked serial" in out and "issued serial" in out
    new = x509.load_pem_x509_certificate((tmp_path / "new.pem").read_bytes())
    assert new.subject.rfc4514_string() == "CN=Forgetful"
    code, _, err = esign(capsys, "crl", "--ca", ca_dir, "--out", tmp_path / "c.crl")
    crl = x509.load_pem_x509_crl((tmp_path / "c.crl").read_bytes())
    old_serial = x509.load_pem_x509_certificate(old.read_bytes()).serial_number
    assert crl.get_revoked_certificate_by_serial_number(old_serial) is not None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cert", "revoke", "--ca", "{ca}", "abcdef", "--reason", "keyCompromise"],
         "no certificate"),
        (["cert", "revoke", "--ca", "{ca}", "xyz", "--reason", "keyCompromise"], "hexadecimal"),
        (["cert", "revoke", "--ca", "{ca}", "--reason", "keyCompromise"], "exactly one"),
        (["cert", "revoke", "--ca", "{ca}", "ab", "--reason", "certificateHold"], "unsupported"),
        (["cert", "issue", "--ca", "{ca}", "--csr", "{junk}", "--profile", "signing",
          "--out", "{out}"], "PKCS#10"),
        (["cert", "issue", "--ca", "{ca}", "--public-key", "{junk}", "--subject", "CN=x",
          "--profile", "signing", "--out", "{out}"], "public key"),
        (["cert", "issue", "--ca", "{ca}", "--public-key", "{x25519}", "--subject", "CN=x",
          "--profile", "signing", "--out", "{out}"], "cannot sign"),
        (["cert", "issue", "--ca", "{ca}", "--public-key", "{x25519}", "--profile", "encryption",
          "--out", "{out}"], "--subject is required"),
        (["cert", "issue", "--ca", "{tmp}", "--public-key", "{x25519}", "--subject", "CN=x",
          "--profile", "encryption", "--out", "{out}"], "not a CA folder"),
        (["cert", "show", "{junk}"], "not a certificate"),
        (["crl", "--ca", "{ca}", "--delta", "--out", "{out}"], "complete CRL first"),
        (["ca", "init", "--subject", "CN=again", "--out-dir", "{ca}"], "already holds a CA"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(
    ca_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00not a thing")
    values = {
        "ca": ca_dir,
        "junk": junk,
        "out": tmp_path / "out.pem",
        "tmp": tmp_path,
        "x25519": public_key_file(tmp_path, "x25519"),
    }
    code, _, err = esign(capsys, *[a.format(**values) for a in args])
    assert code == 2
    assert message in err, err
    assert err.strip().count("\n") == 0


def test_wrong_password_and_traceback_free_process(ca_dir: Path, tmp_path: Path) -> None:
    env = {"ESIGN_PASSWORD": "wrong", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "esign", "crl", "--ca", str(ca_dir), "--out", str(tmp_path / "x")],
        capture_output=True, text=True, env=env, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 2
    assert "wrong password" in result.stderr and "Traceback" not in result.stderr


def test_cert_group_accepts_subcommands_from_other_modules(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def add_hello(sub: ca_cmds.SubParsers) -> None:
        p = sub.add_parser("hello")
        p.set_defaults(func=lambda args: print("hello from a hook") or 0)

    monkeypatch.setattr(ca_cmds, "CERT_SUBCOMMAND_HOOKS", [add_hello])
    code, out, _ = esign(capsys, "cert", "hello")
    assert code == 0 and "hello from a hook" in out


def test_serve_ocsp_answers_openssl(ca_dir: Path, tmp_path: Path, openssl: str) -> None:
    cert = tmp_path / "c.pem"
    assert main(
        ["cert", "issue", "--ca", str(ca_dir), "--public-key", str(public_key_file(tmp_path)),
         "--subject", "CN=Served", "--profile", "signing", "--out", str(cert)]
    ) == 0  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "esign", "ca", "serve-ocsp", "--ca", str(ca_dir), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={"ESIGN_PASSWORD": PASSWORD, "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        assert "OCSP responder for CN=CLI Root CA" in line, server.stderr
        url = line.rsplit(" ", 1)[-1].strip()
        result = run(
            openssl, "ocsp", "-url", url, "-issuer", ca_dir / "ca.pem", "-cert", cert,
            "-CAfile", ca_dir / "ca.pem", "-timeout", "20",
        )  # fmt: skip
        assert f"{cert}: good".encode() in result.stdout, result
        assert b"Response verify OK" in result.stderr
    finally:
        server.terminate()
        server.wait(timeout=20)


@pytest.mark.parametrize(
    "bad", [["--subject", "garbage"], ["--subject", "CN=x", "--alg", "x25519"]]
)
def test_failed_init_leaves_nothing_behind_and_can_be_retried(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    bad: list[str],
) -> None:
    monkeypatch.setenv("ESIGN_PASSWORD", PASSWORD)
    folder = tmp_path / "ca"
    code, _, err = esign(capsys, "ca", "init", *bad, "--out-dir", folder)
    assert code == 2 and err.count("\n") == 1
    assert not folder.exists(), "a failed init must not leave a half-made CA"
    (tmp_path / "existing").mkdir()
    (tmp_path / "existing" / "notes.txt").write_text("keep me")
    code, _, _ = esign(capsys, "ca", "init", *bad, "--out-dir", tmp_path / "existing")
    assert code == 2
    assert [p.name for p in (tmp_path / "existing").iterdir()] == ["notes.txt"]
    code, _, err = esign(capsys, "ca", "init", "--subject", "CN=Retry CA", "--out-dir", folder)
    assert code == 0, err


def test_issue_from_csr_keeps_email_uri_and_path_length(
    ca_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--email, --uri and --path-length were silently dropped with --csr; now they count."""
    from cryptography.hazmat.primitives import hashes

    key = generate_key("ec-p256")
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name.from_rfc4514_string("CN=Petrov"))
        .add_extension(
            x509.SubjectAlternativeName([x509.RFC822Name("petrov@csr.example")]), critical=False
        )
        .sign(key, hashes.SHA256())  # type: ignore[arg-type]
    )
    (tmp_path / "p.csr").write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    code, _, err = esign(
        capsys, "cert", "issue", "--ca", ca_dir, "--csr", tmp_path / "p.csr", "--profile",
        "signing", "--email", "petrov@ca.example", "--uri", "https://petrov.example/",
        "--out", tmp_path / "p.pem",
    )  # fmt: skip
    assert code == 0, err
    cert = x509.load_pem_x509_certificate((tmp_path / "p.pem").read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == ["petrov@csr.example", "petrov@ca.example"]
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == ["https://petrov.example/"]
    code, _, err = esign(
        capsys, "cert", "issue", "--ca", ca_dir, "--csr", tmp_path / "p.csr", "--profile", "ca",
        "--subject", "CN=Sub CA", "--path-length", "0", "--out", tmp_path / "sub.pem",
    )  # fmt: skip
    assert code == 0, err
    sub = x509.load_pem_x509_certificate((tmp_path / "sub.pem").read_bytes())
    assert sub.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0
    # A path length on a leaf profile is refused, not ignored.
    code, _, err = esign(
        capsys, "cert", "issue", "--ca", ca_dir, "--csr", tmp_path / "p.csr", "--profile",
        "signing", "--path-length", "1", "--out", tmp_path / "x.pem",
    )  # fmt: skip
    assert code == 2 and "path length applies only to the ca profile" in err
    assert not (tmp_path / "x.pem").exists()
