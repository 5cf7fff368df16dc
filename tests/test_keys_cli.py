"""``esign key``: generate, info, pkcs12 — real processes, passwords never in arguments."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from esign.keys import ALGORITHMS, algorithm_name, load_key, load_pkcs12
from esign.keys.pkcs8 import inspect_encrypted

from .conftest import Pki, run
from .test_cli import assert_clean_failure, esign

PASSWORD = "Ivanov-2026!"


@pytest.mark.parametrize("name", ["ec-p256", "ed25519", "ml-dsa-65", "ml-kem-768", "x25519"])
def test_generate_with_env_password(tmp_path: Path, name: str) -> None:
    out, pub = tmp_path / "k.pem", tmp_path / "k.pub"
    result = esign(
        "key", "generate", "--alg", name, "--out", out, "--public-out", pub,
        env={"ESIGN_PASSWORD": PASSWORD},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    assert b"ENCRYPTED PRIVATE KEY" in out.read_bytes()
    assert out.stat().st_mode & 0o077 == 0
    key = load_key(out, PASSWORD)
    assert algorithm_name(key) == name
    assert load_pem_public_key(pub.read_bytes()) == key.public_key()


def test_generate_with_password_file_der_pbkdf2(tmp_path: Path) -> None:
    secret = tmp_path / "pw.txt"
    secret.write_text(PASSWORD + "\n")
    out = tmp_path / "k.der"
    result = esign(
        "key", "generate", "--alg", "rsa-3072", "--out", out, "--der", "--kdf", "pbkdf2",
        "--password-file", secret,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert inspect_encrypted(out.read_bytes()).kdf == "pbkdf2"
    assert algorithm_name(load_key(out, PASSWORD)) == "rsa-3072"


def test_generate_refuses_without_a_password_and_has_no_password_argument(tmp_path: Path) -> None:
    out = tmp_path / "k.pem"
    assert_clean_failure(esign("key", "generate", "--alg", "ec-p256", "--out", out), 2)
    assert not out.exists()
    assert_clean_failure(
        esign("key", "generate", "--alg", "ec-p256", "--out", out, "--password", PASSWORD), 2
    )
    assert_clean_failure(esign("key", "generate", "--alg", "ec-p999", "--out", out), 2)
    result = esign("key", "generate", "--alg", "ec-p256", "--out", out, "--unencrypted")
    assert result.returncode == 0 and b"BEGIN PRIVATE KEY" in out.read_bytes()


def test_info_with_and_without_password(tmp_path: Path) -> None:
    out = tmp_path / "k.pem"
    esign("key", "generate", "--alg", "ec-p384", "--out", out, env={"ESIGN_PASSWORD": PASSWORD})
    outside = esign("key", "info", out)
    assert outside.returncode == 0, outside.stderr
    assert "protection: PBES2 scrypt (N=16384, r=8, p=5), aes256_cbc" in outside.stdout
    assert "algorithm: (encrypted" in outside.stdout
    inside = esign("key", "info", out, env={"ESIGN_PASSWORD": PASSWORD})
    assert "algorithm: ec-p384" in inside.stdout and "uses: sign, agree" in inside.stdout
    wrong = esign("key", "info", out, env={"ESIGN_PASSWORD": "nope"})
    assert_clean_failure(wrong, 2)
    assert "wrong password" in wrong.stderr


@pytest.mark.parametrize("content", [b"", b"garbage", b"\x30\x82\x01\x00" + b"\x00" * 10])
def test_info_on_bad_files_is_one_line(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.key"
    path.write_bytes(content)
    assert_clean_failure(esign("key", "info", path, env={"ESIGN_PASSWORD": "x"}), 2)
    assert_clean_failure(esign("key", "info", tmp_path / "absent.key"), 2)


@pytest.mark.interop
def test_pkcs12_bundle_is_read_by_openssl_and_signs(pki: Pki, openssl: str, tmp_path: Path) -> None:
    files = pki.write(tmp_path)
    p12 = tmp_path / "ivanov.p12"
    result = esign(
        "key", "pkcs12", "--key", files["ivanov_key"], "--cert", files["ivanov_cert"],
        "--chain", files["ca"], "--name", "Ivan Ivanov", "--out", p12,
        env={"ESIGN_PASSWORD": PASSWORD},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    bundle = load_pkcs12(p12, PASSWORD)
    assert bundle.certificate == pki.ivanov_cert and bundle.friendly_name == "Ivan Ivanov"
    check = run(openssl, "pkcs12", "-in", p12, "-passin", f"pass:{PASSWORD}", "-noout")
    assert check.returncode == 0, check.stderr
    info = esign("key", "info", p12, env={"ESIGN_PASSWORD": PASSWORD})
    assert "certificate: CN=Ivan Ivanov" in info.stdout
    # The .p12 works wherever a key file does.
    doc = tmp_path / "doc.txt"
    doc.write_bytes(b"tax return")
    signed = esign(
        "sign", doc, "--key", p12, "--cert", files["ivanov_cert"], "--detached",
        "--out", tmp_path / "doc.p7s", env={"ESIGN_PASSWORD": PASSWORD},
    )  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    verified = esign(
        "verify", tmp_path / "doc.p7s", "--data", doc, "--trust", files["ca"], "--crl", files["crl"]
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_every_algorithm_is_offered() -> None:
    result = esign("key", "generate", "--help")
    text = "".join(result.stdout.split())  # argparse wraps lines at hyphens
    for name in ALGORITHMS:
        assert name in text


def _on_a_terminal(args: list[str], answers: list[str]) -> tuple[int, str]:
    """Run esign with a pseudo-terminal as its controlling terminal, typing ``answers``."""
    import os
    import pty
    import sys
    import time

    env = {k: v for k, v in os.environ.items() if k != "ESIGN_PASSWORD"}
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child process
        os.execve(sys.executable, [sys.executable, "-m", "esign", *args], env)
    output = b""
    for answer in answers:
        while b"password" not in output.split(b"\n")[-1].lower():
            output += os.read(fd, 1024)
        os.write(fd, answer.encode() + b"\n")
        output += b"\n"
        time.sleep(0.05)
    while True:
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


def test_generate_prompts_twice_on_a_terminal_and_echoes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "k.pem"
    code, screen = _on_a_terminal(
        ["key", "generate", "--alg", "ed25519", "--out", str(out)], [PASSWORD, PASSWORD]
    )
    assert code == 0, screen
    assert PASSWORD not in screen, "the password must not be echoed"
    assert algorithm_name(load_key(out, PASSWORD)) == "ed25519"
    code, screen = _on_a_terminal(
        ["key", "generate", "--alg", "ed25519", "--out", str(tmp_path / "x.pem")],
        [PASSWORD, PASSWORD + "typo"],
    )
    assert code == 2 and "the two passwords differ" in screen
    assert not (tmp_path / "x.pem").exists()
