"""``esign seal`` / ``esign open`` with the new recipient kinds, ciphers and failure modes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import Pki, openssl_decrypt_verify, run
from .test_cli import DOCUMENT, assert_clean_failure, esign


@pytest.fixture
def files(pki: Pki, tmp_path: Path) -> dict[str, Path]:
    paths = pki.write(tmp_path)
    paths["doc"] = tmp_path / "return.txt"
    paths["doc"].write_bytes(DOCUMENT)
    return paths


def seal_args(files: dict[str, Path], out: Path, *extra: str | Path) -> list[str | Path]:
    return [
        "seal",
        files["doc"],
        "--key",
        files["ivanov_key"],
        "--cert",
        files["ivanov_cert"],
        "--out",
        out,
        *extra,
    ]


def test_password_recipient_round_trip(files: dict[str, Path], tmp_path: Path) -> None:
    envelope = tmp_path / "p.p7m"
    env = {"ESIGN_ENVELOPE_PASSWORD": "shared secret"}
    sealed = esign(*seal_args(files, envelope, "--to-password"), env=env)
    assert sealed.returncode == 0, sealed.stderr
    assert sealed.stderr == ""  # no progress bar when stderr is not a terminal
    out = tmp_path / "doc.out"
    opened = esign(
        "open",
        envelope,
        "--with-password",
        "--trust",
        files["ca"],
        "--crl",
        files["crl"],
        "--out",
        out,
        "--json",
        env=env,
    )
    assert opened.returncode == 0, opened.stderr
    assert out.read_bytes() == DOCUMENT
    assert len(json.loads(opened.stdout)["intended_recipients"]) == 1
    wrong = esign(
        "open",
        envelope,
        "--with-password",
        "--trust",
        files["ca"],
        "--crl",
        files["crl"],
        "--out",
        out,
        "--force",
        env={"ESIGN_ENVELOPE_PASSWORD": "guess"},
    )
    assert_clean_failure(wrong, 1)
    assert "cannot be decrypted" in wrong.stderr


def test_cbc_envelope_opens_in_openssl(
    openssl: str, files: dict[str, Path], tmp_path: Path
) -> None:
    envelope = tmp_path / "c.p7m"
    sealed = esign(
        *seal_args(files, envelope, "--to", files["tax_cert"], "--cipher", "aes-256-cbc")
    )
    assert sealed.returncode == 0, sealed.stderr
    document = openssl_decrypt_verify(openssl, envelope, files, tmp_path)
    assert document == DOCUMENT


def test_forwarded_envelope_exits_1_with_the_reason(
    openssl: str, files: dict[str, Path], tmp_path: Path, other_pki: Pki
) -> None:
    envelope = tmp_path / "e.p7m"
    assert esign(*seal_args(files, envelope, "--to", files["tax_cert"])).returncode == 0
    signed = run(
        openssl,
        "cms",
        "-decrypt",
        "-inform",
        "DER",
        "-in",
        envelope,
        "-recip",
        files["tax_cert"],
        "-inkey",
        files["tax_key"],
    )
    other = other_pki.write(tmp_path / "..")
    forwarded = run(
        openssl,
        "cms",
        "-encrypt",
        "-binary",
        "-aes-256-gcm",
        "-outform",
        "DER",
        "-recip",
        other["tax_cert"],
        input=signed.stdout,
    )
    (tmp_path / "fwd.p7m").write_bytes(forwarded.stdout)
    out = tmp_path / "never.txt"
    result = esign(
        "open",
        tmp_path / "fwd.p7m",
        "--key",
        other["tax_key"],
        "--trust",
        files["ca"],
        "--crl",
        files["crl"],
        "--out",
        out,
        "--json",
    )
    assert result.returncode == 1
    codes = [e["code"] for e in json.loads(result.stdout)["errors"]]
    assert codes == ["not_an_intended_recipient"]
    assert not out.exists()


@pytest.mark.parametrize(
    "args",
    [
        ["open", "{envelope}", "--trust", "{ca}"],  # neither --key nor --with-password
        ["seal", "{doc}", "--key", "{ivanov_key}", "--cert", "{ivanov_cert}", "--out", "{out}"],
        ["open", "{envelope}", "--with-password", "--trust", "{ca}"],  # no password source
        [
            "seal",
            "{doc}",
            "--key",
            "{ivanov_key}",
            "--cert",
            "{ivanov_cert}",
            "--to",
            "{ivanov_cert}",
            "--cipher",
            "rc2",
            "--out",
            "{out}",
        ],
    ],
)
def test_usage_errors_exit_2(files: dict[str, Path], tmp_path: Path, args: list[str]) -> None:
    envelope = tmp_path / "e.p7m"
    envelope.write_bytes(b"\x30\x80")
    values = {
        **{k: str(v) for k, v in files.items()},
        "envelope": str(envelope),
        "out": str(tmp_path / "o"),
    }
    result = esign(*[a.format(**values) for a in args])
    assert_clean_failure(result, 2)


def test_truncated_envelope_exits_2(files: dict[str, Path], tmp_path: Path) -> None:
    envelope = tmp_path / "e.p7m"
    assert esign(*seal_args(files, envelope, "--to", files["tax_cert"])).returncode == 0
    cut = tmp_path / "cut.p7m"
    cut.write_bytes(envelope.read_bytes()[:-30])
    result = esign(
        "open", cut, "--key", files["tax_key"], "--trust", files["ca"], "--crl", files["crl"]
    )
    assert_clean_failure(result, 2)
    assert "truncated" in result.stderr


def test_open_out_dash_is_stdout_and_no_out_says_so(files: dict[str, Path], tmp_path: Path) -> None:
    """The document is never dropped silently; recipients are named by their own subject."""
    import subprocess
    import sys

    envelope = tmp_path / "r.p7m"
    assert esign(*seal_args(files, envelope, "--to", files["tax_cert"])).returncode == 0
    key = ["open", envelope, "--key", files["tax_key"], "--cert", files["tax_cert"]]
    opener = [*key, "--trust", files["ca"], "--crl", files["crl"]]
    checked = esign(*opener)
    assert checked.returncode == 0, checked.stderr
    assert "checked, not written" in checked.stderr and "--out -" in checked.stderr
    assert "sealed by the signer for: CN=Tax Service" in checked.stdout
    assert "from " not in checked.stdout.split("sealed by the signer for:")[1]
    piped = subprocess.run(
        [sys.executable, "-m", "esign", *map(str, opener), "--out", "-", "--json"],
        capture_output=True,
        check=False,
    )
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == DOCUMENT
    report = json.loads(piped.stderr)
    assert report["valid"] and report["intended_recipients"][0].startswith("CN=Tax Service (")
    # Not valid (untrusted): nothing on stdout.
    untrusted = subprocess.run(
        [
            sys.executable,
            "-m",
            "esign",
            *map(str, key),
            "--trust",
            str(files["tax_cert"]),
            "--out",
            "-",
        ],
        capture_output=True,
        check=False,
    )
    assert untrusted.returncode == 1 and untrusted.stdout == b""
    assert b"not writing stdout" in untrusted.stderr
