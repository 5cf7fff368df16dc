"""Nothing lost: no command replaces an existing file without ``--force``; secrets are 0600."""

from __future__ import annotations

import argparse
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from esign.certs.authority import CertificateAuthority
from esign.cli.main import build_parser, main

from .conftest import Pki

PASSWORD = "overwrite-guard"
PRECIOUS = b"precious: an existing key or certificate\n"


@pytest.fixture(scope="module")
def world(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real inputs for every writing command: keys, certificates, a CA folder, a signature,
    an envelope and an OCSP request."""
    folder = tmp_path_factory.mktemp("world")
    files = pki.write(folder)
    ca = CertificateAuthority.init_folder(folder / "ca", "CN=Guard CA", password=PASSWORD)
    files["ca_dir"] = folder / "ca"
    files["doc"] = folder / "doc.txt"
    files["doc"].write_bytes(b"tax return 2026\n")
    files["pub"] = folder / "pub.pem"
    files["pub"].write_bytes(
        pki.ivanov_cert.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(ca.certificate, ca.certificate, hashes.SHA1())
        .build()
    )
    files["ocsp_req"] = folder / "req.der"
    files["ocsp_req"].write_bytes(request.public_bytes(serialization.Encoding.DER))
    files["envelope"] = folder / "doc.p7m"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ESIGN_PASSWORD", PASSWORD)
        assert main(["seal", str(files["doc"]), "--key", str(files["ivanov_key"]),
                     "--cert", str(files["ivanov_cert"]), "--to", str(files["tax_cert"]),
                     "--out", str(files["envelope"])]) == 0  # fmt: skip
    return files


Scenario = Callable[[dict[str, Path], Path], list[str]]

SCENARIOS: dict[str, Scenario] = {
    "key generate": lambda w, out: [
        "key", "generate", "--alg", "ec-p256", "--unencrypted", "--out", str(out)
    ],
    "key generate --public-out": lambda w, out: [
        "key", "generate", "--alg", "ec-p256", "--unencrypted",
        "--out", str(out.with_suffix(".new")), "--public-out", str(out),
    ],
    "key pkcs12": lambda w, out: [
        "key", "pkcs12", "--key", str(w["ivanov_key"]), "--cert", str(w["ivanov_cert"]),
        "--out", str(out),
    ],
    "cert issue": lambda w, out: [
        "cert", "issue", "--ca", str(w["ca_dir"]), "--public-key", str(w["pub"]),
        "--subject", "CN=New", "--profile", "signing", "--out", str(out),
    ],
    "crl": lambda w, out: ["crl", "--ca", str(w["ca_dir"]), "--out", str(out)],
    "ca ocsp": lambda w, out: [
        "ca", "ocsp", "--ca", str(w["ca_dir"]), "--request", str(w["ocsp_req"]),
        "--out", str(out),
    ],
    "sign": lambda w, out: [
        "sign", str(w["doc"]), "--key", str(w["ivanov_key"]), "--cert", str(w["ivanov_cert"]),
        "--out", str(out),
    ],
    "seal": lambda w, out: [
        "seal", str(w["doc"]), "--key", str(w["ivanov_key"]), "--cert", str(w["ivanov_cert"]),
        "--to", str(w["tax_cert"]), "--out", str(out),
    ],
    "open --out": lambda w, out: [
        "open", str(w["envelope"]), "--key", str(w["tax_key"]), "--trust", str(w["ca"]),
        "--crl", str(w["crl"]), "--out", str(out),
    ],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_existing_output_needs_force(
    name: str,
    world: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ESIGN_PASSWORD", PASSWORD)
    out = tmp_path / "existing.out"
    out.write_bytes(PRECIOUS)
    args = SCENARIOS[name](world, out)
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(out) in err and "--force" in err, err
    assert out.read_bytes() == PRECIOUS
    assert not out.with_suffix(".new").exists(), "refused before any work"
    assert main([*args, "--force"]) == 0, capsys.readouterr().err
    assert out.read_bytes() != PRECIOUS


def test_every_command_that_writes_has_force() -> None:
    """The guard covers commands added later, not only the ones listed above."""
    writing: list[str] = []

    def walk(parser: argparse.ArgumentParser, path: str) -> None:
        dests = {action.dest for action in parser._actions}
        if dests & {"out", "public_out"}:
            writing.append(path)
            assert "force" in dests, path
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, f"{path} {name}".strip())

    walk(build_parser(), "")
    assert {"key generate", "key pkcs12", "sign", "seal", "open", "crl", "ca ocsp"} <= set(writing)


def test_ca_init_never_replaces_a_ca(
    world: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ESIGN_PASSWORD", "another")
    key_before = (world["ca_dir"] / "ca.key.pem").read_bytes()
    code = main(["ca", "init", "--subject", "CN=Usurper", "--out-dir", str(world["ca_dir"])])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(world["ca_dir"]) in err
    assert (world["ca_dir"] / "ca.key.pem").read_bytes() == key_before


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_secret_files_are_owner_only(
    request: pytest.FixtureRequest,
    world: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Keys, PKCS#12, a CA key, the vault, the credential store and a decrypted document."""
    monkeypatch.setenv("ESIGN_PASSWORD", PASSWORD)
    old_umask = os.umask(0o022)
    request.addfinalizer(lambda: os.umask(old_umask))
    key, p12, doc = tmp_path / "k.pem", tmp_path / "k.p12", tmp_path / "doc.txt"
    assert main(["key", "generate", "--alg", "ec-p256", "--out", str(key)]) == 0
    assert main(["key", "pkcs12", "--key", str(world["ivanov_key"]),
                 "--cert", str(world["ivanov_cert"]), "--out", str(p12)]) == 0  # fmt: skip
    assert main(["open", str(world["envelope"]), "--key", str(world["tax_key"]),
                 "--trust", str(world["ca"]), "--crl", str(world["crl"]),
                 "--out", str(doc)]) == 0  # fmt: skip
    from esign.keys.vault import KeyVault
    from esign.simple.credentials import CredentialStore

    vault = KeyVault(tmp_path / "vault.db")
    vault.close()
    store = CredentialStore(tmp_path / "accounts.db", secret_key=bytes(32))
    store.close()
    for path in (key, p12, doc, world["ca_dir"] / "ca.key.pem", tmp_path / "vault.db",
                 tmp_path / "accounts.db"):  # fmt: skip
        assert _mode(path) == 0o600, (path, oct(_mode(path)))
    # Still a working database after the early create.
    assert sqlite3.connect(tmp_path / "accounts.db").execute("select 1").fetchone() == (1,)


def test_credential_store_mode_attack_on_old_code(tmp_path: Path) -> None:
    """The credential store used to be created 0644 under umask 022 (readable hashes)."""
    from esign.simple.credentials import CredentialStore

    old = os.umask(0o022)
    try:
        CredentialStore(tmp_path / "c.db", secret_key=bytes(32)).close()
    finally:
        os.umask(old)
    assert _mode(tmp_path / "c.db") == 0o600
