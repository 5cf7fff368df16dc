"""The command line as a user runs it: real processes, real files, exit codes 0/1/2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from esign.keys import save_key

from .conftest import Pki, run

DOCUMENT = b"Tax return 2026\nIncome: 1 250 000\n"


def esign(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "ESIGN_PASSWORD"}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "esign", *map(str, args)],
        capture_output=True,
        text=True,
        env=full_env,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def assert_clean_failure(result: subprocess.CompletedProcess[str], code: int) -> None:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0, f"one line, not a dump: {result.stderr}"


def test_demo_runs_the_story(tmp_path: Path) -> None:
    result = esign("demo", "--workdir", tmp_path)
    assert result.returncode == 0, result.stderr
    for step in ("keys", "certificates", "signed", "sealed", "opened", "verified", "tampered"):
        assert f"] {step}" in result.stdout
    assert "signature: VALID" in result.stdout and "level: advanced" in result.stdout
    assert "opening failed, as it must: DecryptionError" in result.stdout
    assert (tmp_path / "return.p7m").exists() and (tmp_path / "ivanov.key.pem").exists()
    assert b"ENCRYPTED PRIVATE KEY" in (tmp_path / "ivanov.key.pem").read_bytes()


@pytest.fixture
def files(pki: Pki, tmp_path: Path) -> dict[str, Path]:
    paths = pki.write(tmp_path)
    paths["doc"] = tmp_path / "return.txt"
    paths["doc"].write_bytes(DOCUMENT)
    return paths


def test_sign_then_verify_exit_codes(files: dict[str, Path], tmp_path: Path) -> None:
    sig = tmp_path / "return.p7s"
    result = esign(
        "sign",
        files["doc"],
        "--key",
        files["ivanov_key"],
        "--cert",
        files["ivanov_cert"],
        "--detached",
        "--out",
        sig,
    )
    assert result.returncode == 0, result.stderr
    ok = esign(
        "verify",
        sig,
        "--data",
        files["doc"],
        "--trust",
        files["ca"],
        "--crl",
        files["crl"],
        "--json",
    )
    assert ok.returncode == 0, ok.stderr
    report = json.loads(ok.stdout)
    assert report["valid"] is True and report["level"] == "advanced"
    assert report["signer"]["subject"] == "CN=Ivan Ivanov"
    assert report["errors"] == [] and report["signing_time"]

    changed = tmp_path / "changed.txt"
    changed.write_bytes(DOCUMENT.replace(b"1 250", b"1 050"))
    bad = esign(
        "verify", sig, "--data", changed, "--trust", files["ca"], "--crl", files["crl"], "--json"
    )
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["errors"][0]["code"] == "content_modified"

    untrusted = esign("verify", sig, "--data", files["doc"], "--trust", files["tax_cert"])
    assert untrusted.returncode == 1 and "no_path" in untrusted.stdout


def test_attached_pem_signature_and_repeated_trust(files: dict[str, Path], tmp_path: Path) -> None:
    sig = tmp_path / "return.p7s"
    assert (
        esign(
            "sign",
            files["doc"],
            "--key",
            files["ivanov_key"],
            "--cert",
            files["ivanov_cert"],
            "--pem",
            "--attached",
            "--out",
            sig,
        ).returncode
        == 0
    )
    assert sig.read_bytes().startswith(b"-----BEGIN CMS-----")
    # --trust repeats and also takes several files at once
    ok = esign(
        "verify", sig, "--trust", files["tax_cert"], "--trust", files["ca"], "--crl", files["crl"]
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    ok = esign("verify", sig, "--trust", files["tax_cert"], files["ca"], "--crl", files["crl"])
    assert ok.returncode == 0, ok.stdout + ok.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["verify", "missing.p7s", "--trust", "missing.pem"],
        ["verify"],
        ["sign", "missing.txt", "--key", "k", "--cert", "c", "--out", "o"],
        ["frobnicate"],
        ["verify", "{garbage}", "--trust", "{ca}"],
        ["verify", "{doc}", "--trust", "{doc}"],
        ["verify", "{garbage}", "--trust", "{ca}", "--at", "yesterday"],
        ["open", "{garbage}", "--key", "{tax_key}", "--trust", "{ca}"],
        [
            "seal",
            "{doc}",
            "--key",
            "{garbage}",
            "--cert",
            "{ivanov_cert}",
            "--to",
            "{tax_cert}",
            "--out",
            "{out}",
        ],
    ],
)
def test_bad_input_exits_2_without_traceback(
    files: dict[str, Path], tmp_path: Path, args: list[str]
) -> None:
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"\x30\x82\x01\x00 this is not DER")
    names = {
        **{k: str(v) for k, v in files.items()},
        "garbage": str(garbage),
        "out": str(tmp_path / "out"),
    }
    result = esign(*(a.format(**names) for a in args))
    assert_clean_failure(result, 2)


def test_encrypted_key_password_sources(pki: Pki, files: dict[str, Path], tmp_path: Path) -> None:
    key = tmp_path / "ivanov.enc.pem"
    save_key(pki.ivanov_key, key, "s3cret pass")
    common = [
        "sign",
        files["doc"],
        "--key",
        key,
        "--cert",
        files["ivanov_cert"],
        "--out",
        tmp_path / "s.p7s",
        "--force",  # the same output each time
    ]
    no_password = esign(*common)
    assert_clean_failure(no_password, 2)
    assert "password" in no_password.stderr
    assert esign(*common, env={"ESIGN_PASSWORD": "s3cret pass"}).returncode == 0
    password_file = tmp_path / "pw"
    password_file.write_text("s3cret pass\n")
    assert esign(*common, "--password-file", password_file).returncode == 0
    password_file.write_text("wrong\n")
    wrong = esign(*common, "--password-file", password_file)
    assert_clean_failure(wrong, 2)
    assert "wrong password" in wrong.stderr
    assert "s3cret" not in wrong.stderr + wrong.stdout


def test_seal_then_open(files: dict[str, Path], tmp_path: Path, other_pki: Pki) -> None:
    envelope = tmp_path / "return.p7m"
    sealed = esign(
        "seal",
        files["doc"],
        "--key",
        files["ivanov_key"],
        "--cert",
        files["ivanov_cert"],
        "--to",
        files["tax_cert"],
        "--out",
        envelope,
    )
    assert sealed.returncode == 0, sealed.stderr
    out = tmp_path / "opened.txt"
    opened = esign(
        "open",
        envelope,
        "--key",
        files["tax_key"],
        "--cert",
        files["tax_cert"],
        "--trust",
        files["ca"],
        "--crl",
        files["crl"],
        "--out",
        out,
        "--json",
    )
    assert opened.returncode == 0, opened.stderr
    assert out.read_bytes() == DOCUMENT
    assert json.loads(opened.stdout)["signer"]["subject"] == "CN=Ivan Ivanov"

    # Wrong key: processed, not valid -> 1, and nothing written.
    other_key = tmp_path / "other.pem"
    other_key.write_bytes(other_pki.write(tmp_path / "..")["tax_key"].read_bytes())
    wrong = esign(
        "open", envelope, "--key", other_key, "--trust", files["ca"], "--crl", files["crl"]
    )
    assert_clean_failure(wrong, 1)
    # Tampered envelope -> 1 with the uniform reason.
    tampered = tmp_path / "tampered.p7m"
    data = bytearray(envelope.read_bytes())
    data[-20] ^= 1
    tampered.write_bytes(bytes(data))
    result = esign(
        "open",
        tampered,
        "--key",
        files["tax_key"],
        "--trust",
        files["ca"],
        "--crl",
        files["crl"],
        "--out",
        tmp_path / "never.txt",
    )
    assert_clean_failure(result, 1)
    assert "cannot be decrypted" in result.stderr
    assert not (tmp_path / "never.txt").exists()
    # Untrusted signer: decrypts, but the report is not valid -> 1 and no output file.
    untrusted = esign(
        "open",
        envelope,
        "--key",
        files["tax_key"],
        "--trust",
        files["tax_cert"],
        "--out",
        tmp_path / "no.txt",
    )
    assert untrusted.returncode == 1 and not (tmp_path / "no.txt").exists()


def test_keys_and_certificates_made_by_openssl(openssl: str, tmp_path: Path) -> None:
    """A CA, a signer and a recipient made entirely with openssl work with every command."""

    def ok(*args: str | Path) -> None:
        result = run(openssl, *args)
        assert result.returncode == 0, result.stderr

    ok(
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        tmp_path / "ca.key",
        "-out",
        tmp_path / "ca.pem",
        "-subj",
        "/CN=OpenSSL CA",
        "-days",
        "30",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    )
    ext = tmp_path / "ext.cnf"
    ext.write_text(
        "[s]\nkeyUsage=critical,digitalSignature,nonRepudiation\n"
        "[e]\nkeyUsage=critical,keyAgreement\n"
    )
    for name, section in (("signer", "s"), ("recipient", "e")):
        ok("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", tmp_path / f"{name}.key")
        ok(
            "req",
            "-new",
            "-key",
            tmp_path / f"{name}.key",
            "-subj",
            f"/CN={name}",
            "-out",
            tmp_path / f"{name}.csr",
        )
        ok(
            "x509",
            "-req",
            "-in",
            tmp_path / f"{name}.csr",
            "-CA",
            tmp_path / "ca.pem",
            "-CAkey",
            tmp_path / "ca.key",
            "-CAcreateserial",
            "-days",
            "10",
            "-extfile",
            ext,
            "-extensions",
            section,
            "-out",
            tmp_path / f"{name}.pem",
        )
    doc = tmp_path / "doc.txt"
    doc.write_bytes(DOCUMENT)
    envelope = tmp_path / "doc.p7m"
    sealed = esign(
        "seal",
        doc,
        "--key",
        tmp_path / "signer.key",
        "--cert",
        tmp_path / "signer.pem",
        "--to",
        tmp_path / "recipient.pem",
        "--out",
        envelope,
    )
    assert sealed.returncode == 0, sealed.stderr
    opened = esign(
        "open",
        envelope,
        "--key",
        tmp_path / "recipient.key",
        "--cert",
        tmp_path / "recipient.pem",
        "--trust",
        tmp_path / "ca.pem",
        "--no-revocation-check",  # openssl's CA here publishes no CRL
        "--json",
    )
    assert opened.returncode == 0, opened.stdout + opened.stderr
    assert json.loads(opened.stdout)["signer"]["subject"] == "CN=signer"


def test_sign_is_detached_by_default_and_verify_out_extracts_attached_content(
    files: dict[str, Path], tmp_path: Path, openssl: str
) -> None:
    """Like the library and ``openssl cms -sign``; ``verify --out`` like ``cms -verify -out``."""
    signer = ["--key", files["ivanov_key"], "--cert", files["ivanov_cert"]]
    trust = ["--trust", files["ca"], "--crl", files["crl"]]
    detached, attached = tmp_path / "d.p7s", tmp_path / "a.p7s"
    result = esign("sign", files["doc"], *signer, "--out", detached)
    assert result.returncode == 0 and "(detached)" in result.stdout, result.stderr
    assert DOCUMENT not in detached.read_bytes()
    ok = run(openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", detached,
             "-content", files["doc"], "-CAfile", files["ca"], "-out", tmp_path / "o")  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert esign("sign", files["doc"], *signer, "--attached", "--out", attached).returncode == 0
    assert DOCUMENT in attached.read_bytes()
    both = esign("sign", files["doc"], *signer, "--attached", "--detached", "--out", attached)
    assert_clean_failure(both, 2)

    # --out FILE: the content, once verified; the report still on stdout.
    out = esign("verify", attached, *trust, "--out", tmp_path / "content.txt")
    assert out.returncode == 0 and "VALID" in out.stdout, out.stderr
    assert (tmp_path / "content.txt").read_bytes() == DOCUMENT
    # --out -: the content alone on stdout, the report on stderr.
    piped = subprocess.run(
        [sys.executable, "-m", "esign", "verify", str(attached), *map(str, trust), "--out", "-"],
        capture_output=True,
        check=False,
    )
    assert piped.returncode == 0 and piped.stdout == DOCUMENT
    assert b"VALID" in piped.stderr
    # Not trusted: nothing written. Detached: nothing to write, said so.
    untrusted = esign("verify", attached, "--trust", files["tax_cert"], "--out", tmp_path / "n")
    assert untrusted.returncode == 1 and not (tmp_path / "n").exists()
    assert "not written" in untrusted.stderr
    nothing = esign("verify", detached, *trust, "--data", files["doc"], "--out", tmp_path / "n")
    assert_clean_failure(nothing, 2)
