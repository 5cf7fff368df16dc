"""Keys wherever they live, in the envelope path: a signer and an identity as a LocalKey
handle or a KeyVault entry seal and open, in memory and streamed, and nothing exports a
private key. (PKCS#11 on SoftHSM2: tests/test_pkcs11.py.)"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from esign import open_envelope, open_stream, seal, seal_stream, verify
from esign.errors import KeyMismatchError
from esign.keys import LocalKey, generate_key
from esign.keys.vault import Argon2Params, KeyVault

from .conftest import Pki
from .test_cli import assert_clean_failure, esign

DOCUMENT = b"Tax return 2026\nIncome: 1 250 000\n"
FAST = Argon2Params(iterations=1, lanes=1, memory_cost=8 * 1024)


class _NoExport:
    """Wraps a handle and fails the test if anything asks for the key's bytes."""

    def __init__(self, handle: object) -> None:
        self._handle = handle

    def __getattr__(self, name: str) -> object:
        if name in ("private_key", "private_bytes", "_key"):
            raise AssertionError(f"{name} was asked for: a private key left its handle")
        return getattr(self._handle, name)


@pytest.fixture
def vault(pki: Pki) -> KeyVault:
    store = KeyVault(":memory:", kdf=FAST)
    store.import_key("ivanov", pki.ivanov_key, "ivanov's password")
    store.import_key("tax", pki.tax_key, "tax password")
    return store


def test_vault_keys_seal_and_open(pki: Pki, vault: KeyVault) -> None:
    with (
        vault.unlock("ivanov", "ivanov's password") as signer,
        vault.unlock("tax", "tax password") as tax,
    ):
        envelope = seal(
            DOCUMENT, signer=(_NoExport(signer), pki.ivanov_cert), recipients=[pki.tax_cert]
        )
        opened = open_envelope(envelope, recipient=(_NoExport(tax), pki.tax_cert), trust=pki.trust)
        assert opened.content == DOCUMENT and opened.report.valid, opened.report.errors
        assert opened.report.signer is not None
        assert opened.report.signer.subject == "CN=Ivan Ivanov"
        assert verify(opened.signature, trust=pki.trust).valid


@pytest.mark.parametrize("cipher", ["aes-256-gcm", "aes-256-cbc"])
def test_local_key_handles_seal_and_open_streamed(pki: Pki, cipher: str) -> None:
    signer = _NoExport(LocalKey(pki.ivanov_key))
    out = io.BytesIO()
    seal_stream(
        io.BytesIO(DOCUMENT),
        out,
        signer=(signer, pki.ivanov_cert),
        recipients=[pki.tax_cert],
        cipher=cipher,  # type: ignore[arg-type]
    )
    dst = io.BytesIO()
    opened = open_stream(
        io.BytesIO(out.getvalue()),
        dst,
        recipient=(_NoExport(LocalKey(pki.tax_key)), None),
        trust=pki.trust,
    )
    assert dst.getvalue() == DOCUMENT and opened.report.valid, opened.report.errors


def test_a_handle_for_another_key_is_refused_before_reading(pki: Pki, other_pki: Pki) -> None:
    with pytest.raises(KeyMismatchError):
        seal(
            DOCUMENT,
            signer=(LocalKey(other_pki.ivanov_key), pki.ivanov_cert),
            recipients=[pki.tax_cert],
        )


@pytest.mark.parametrize("alg", ["ec-p384", "rsa-3072", "ed25519", "ml-dsa-65"])
def test_every_signing_kind_seals_through_a_handle(pki: Pki, alg: str) -> None:
    key = generate_key(alg)
    cert = pki.ca.issue(key.public_key(), subject=f"CN=Signer {alg}", profile="signing")
    envelope = seal(DOCUMENT, signer=(LocalKey(key), cert), recipients=[pki.tax_cert])
    opened = open_envelope(envelope, recipient=(pki.tax_key, pki.tax_cert), trust=pki.trust)
    assert opened.report.valid, opened.report.errors


# --- the command line: --key vault:FILE#NAME ------------------------------------------------


def test_taxpayer_story_with_the_keys_in_a_vault_on_the_command_line(
    pki: Pki, tmp_path: Path
) -> None:
    files = pki.write(tmp_path)
    vault_file = tmp_path / "service.vault"
    with KeyVault(vault_file, kdf=FAST) as store:
        store.import_key("ivanov", pki.ivanov_key, "ivanov pw")
        store.import_key("tax", pki.tax_key, "tax pw")
    (tmp_path / "return.txt").write_bytes(DOCUMENT)
    sealed = esign(
        "seal", tmp_path / "return.txt", "--key", f"vault:{vault_file}#ivanov",
        "--cert", files["ivanov_cert"], "--to", files["tax_cert"], "--out", tmp_path / "e.p7m",
        env={"ESIGN_PASSWORD": "ivanov pw"},
    )  # fmt: skip
    assert sealed.returncode == 0, sealed.stderr
    opened = esign(
        "open", tmp_path / "e.p7m", "--key", f"vault:{vault_file}#tax",
        "--cert", files["tax_cert"], "--trust", files["ca"], "--crl", files["crl"],
        "--out", tmp_path / "out.txt",
        env={"ESIGN_PASSWORD": "tax pw"},
    )  # fmt: skip
    assert opened.returncode == 0, opened.stderr
    assert (tmp_path / "out.txt").read_bytes() == DOCUMENT
    wrong = esign(
        "open", tmp_path / "e.p7m", "--key", f"vault:{vault_file}#tax",
        "--trust", files["ca"], "--crl", files["crl"], env={"ESIGN_PASSWORD": "not it"},
    )  # fmt: skip
    assert_clean_failure(wrong, 2)
    assert "password" in wrong.stderr
    for bad in (f"vault:{vault_file}", f"vault:{tmp_path / 'missing'}#tax"):
        result = esign(
            "open", tmp_path / "e.p7m", "--key", bad, "--trust", files["ca"], "--crl", files["crl"]
        )
        assert_clean_failure(result, 2)


# --- the whole story on the command line, every key named by reference ----------------------


def command_line_story(
    tmp_path: Path,
    refs: dict[str, str],
    public_keys: dict[str, object],
    secret: str,
    openssl: str,
) -> None:
    """``ca init --key``, ``cert issue``, ``crl``, ``sign --key``, ``verify``, ``seal
    --key``, ``open --key``: the CA's, the taxpayer's and the tax service's keys are all
    named by ``refs`` (vault entries or token URIs), unlocked by ``secret`` from
    $ESIGN_PASSWORD. openssl accepts the certificates and the CRL."""
    from cryptography.hazmat.primitives import serialization

    from .conftest import run

    env = {"ESIGN_PASSWORD": secret}
    ca_dir = tmp_path / "ca"

    def ok(*args: object) -> str:
        result = esign(*args, env=env)  # type: ignore[arg-type]
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result.stdout

    ok("ca", "init", "--subject", "CN=Tax Service CA", "--out-dir", ca_dir, "--key", refs["ca"])
    assert not (ca_dir / "ca.key.pem").exists()  # the key stayed where it lives
    for name, profile, subject in (
        ("ivanov", "signing", "CN=Ivan Ivanov"),
        ("tax", "encryption", "CN=Tax Service"),
    ):
        public = public_keys[name]
        pem = public.public_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        (tmp_path / f"{name}.pub").write_bytes(pem)
        ok(
            "cert", "issue", "--ca", ca_dir, "--public-key", tmp_path / f"{name}.pub",
            "--subject", subject, "--profile", profile, "--out", tmp_path / f"{name}.pem",
        )  # fmt: skip
    ok("crl", "--ca", ca_dir, "--out", tmp_path / "ca.crl")
    checked = run(
        openssl, "verify", "-crl_check", "-CAfile", ca_dir / "ca.pem",
        "-CRLfile", tmp_path / "ca.crl", tmp_path / "ivanov.pem", tmp_path / "tax.pem",
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    (tmp_path / "return.txt").write_bytes(DOCUMENT)
    trust = ("--trust", ca_dir / "ca.pem", "--crl", tmp_path / "ca.crl")
    ok(
        "sign", tmp_path / "return.txt", "--key", refs["ivanov"], "--cert",
        tmp_path / "ivanov.pem", "--out", tmp_path / "return.p7s",
    )  # fmt: skip
    # detached by default, like openssl cms -sign: the document is given to verify
    verified = ok("verify", tmp_path / "return.p7s", "--data", tmp_path / "return.txt", *trust)
    assert "Ivan Ivanov" in verified  # exit 0: valid
    ok(
        "seal", tmp_path / "return.txt", "--key", refs["ivanov"], "--cert",
        tmp_path / "ivanov.pem", "--to", tmp_path / "tax.pem", "--out", tmp_path / "e.p7m",
    )  # fmt: skip
    ok(
        "open", tmp_path / "e.p7m", "--key", refs["tax"], "--cert", tmp_path / "tax.pem",
        *trust, "--out", tmp_path / "opened.txt",
    )  # fmt: skip
    assert (tmp_path / "opened.txt").read_bytes() == DOCUMENT
    wrong = esign(
        "cert", "issue", "--ca", ca_dir, "--public-key", tmp_path / "tax.pub",
        "--subject", "CN=Nobody", "--profile", "signing", "--out", tmp_path / "x.pem",
        env={"ESIGN_PASSWORD": "not the secret"},
    )  # fmt: skip
    assert_clean_failure(wrong, 2)


def test_taxpayer_story_with_every_key_in_the_vault_on_the_command_line(
    tmp_path: Path, openssl: str
) -> None:
    vault_file = tmp_path / "service.vault"
    keys = {"ca": generate_key("ec-p384"), "ivanov": generate_key("ec-p256")}
    keys["tax"] = generate_key("ec-p256")
    with KeyVault(vault_file, kdf=FAST) as store:
        for name, key in keys.items():
            store.import_key(name, key, "service secret")
    command_line_story(
        tmp_path,
        {name: f"vault:{vault_file}#{name}" for name in keys},
        {name: key.public_key() for name, key in keys.items()},
        "service secret",
        openssl,
    )
