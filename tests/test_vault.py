"""The hosted vault: the password unlocks, 3 wrong ones lock for 24 hours, nothing in clear."""

from __future__ import annotations

import datetime
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from esign.errors import (
    KeyLockedError,
    KeyNotFoundError,
    KeyStorageError,
    PasswordRequiredError,
    WrongPasswordError,
)
from esign.keys import KeyHandle, KeyVault, generate_key
from esign.keys.vault import Argon2Params

START = datetime.datetime(2026, 11, 24, 9, 0, tzinfo=datetime.timezone.utc)
#: Small Argon2id cost so the tests are quick; the default is RFC 9106's (t=3, p=4, 64 MiB).
FAST = Argon2Params(iterations=1, lanes=1, memory_cost=8 * 1024)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def vault(clock: Clock) -> KeyVault:
    return KeyVault(":memory:", clock=clock, kdf=FAST)


def test_create_unlock_sign(vault: KeyVault) -> None:
    public = vault.create_key("ivanov", "ec-p256", "s3cret")
    assert vault.public_key("ivanov") == public
    with vault.unlock("ivanov", "s3cret") as handle:
        assert isinstance(handle, KeyHandle) and handle.algorithm == "ec-p256"
        signature = handle.sign(b"tax return")
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(signature, b"tax return", ec.ECDSA(hashes.SHA256()))
    with pytest.raises(KeyStorageError, match="closed"):
        handle.sign(b"after close")
    assert not hasattr(handle, "private_key"), "a vault handle never hands out the key"


@pytest.mark.parametrize("name", ["ed25519", "rsa-3072", "x25519", "ml-dsa-65", "ml-kem-768"])
def test_every_kind_of_key_lives_in_the_vault(vault: KeyVault, name: str) -> None:
    vault.create_key(name, name, "pw")
    with vault.unlock(name, "pw") as handle:
        assert handle.algorithm == name
        assert handle.public_key() == vault.public_key(name)


def test_three_wrong_passwords_lock_for_24_hours(vault: KeyVault, clock: Clock) -> None:
    vault.create_key("ivanov", "ec-p256", "right")
    with pytest.raises(WrongPasswordError, match="2 attempts left"):
        vault.unlock("ivanov", "wrong-1")
    with pytest.raises(WrongPasswordError, match="1 attempt left"):
        vault.unlock("ivanov", "wrong-2")
    with pytest.raises(KeyLockedError, match="now locked") as third:
        vault.unlock("ivanov", "wrong-3")
    until = START + datetime.timedelta(hours=24)
    assert third.value.locked_until == until
    assert vault.status("ivanov").locked_until == until
    # Locked: even the right password is refused, and not even tried.
    clock.now = START + datetime.timedelta(hours=23, minutes=59, seconds=59)
    with pytest.raises(KeyLockedError):
        vault.unlock("ivanov", "right")
    clock.now = until
    with vault.unlock("ivanov", "right") as handle:
        handle.sign(b"x")
    assert vault.status("ivanov").attempts_left == 3


def test_success_resets_the_counter(vault: KeyVault) -> None:
    vault.create_key("k", "ec-p256", "right")
    for _ in range(2):
        with pytest.raises(WrongPasswordError):
            vault.unlock("k", "wrong")
    vault.unlock("k", "right").close()
    for _ in range(2):
        with pytest.raises(WrongPasswordError):
            vault.unlock("k", "wrong")
    assert vault.status("k").attempts_left == 1


def test_lockout_is_configurable(clock: Clock) -> None:
    vault = KeyVault(clock=clock, kdf=FAST, max_attempts=5, lockout=datetime.timedelta(minutes=10))
    vault.create_key("k", "ed25519", "right")
    for _ in range(4):
        with pytest.raises(WrongPasswordError):
            vault.unlock("k", "wrong")
    with pytest.raises(KeyLockedError):
        vault.unlock("k", "wrong")
    clock.now = START + datetime.timedelta(minutes=10)
    vault.unlock("k", "right").close()


def test_lockout_is_per_key(vault: KeyVault) -> None:
    vault.create_key("a", "ec-p256", "pa")
    vault.create_key("b", "ec-p256", "pb")
    for _ in range(3):
        with pytest.raises((WrongPasswordError, KeyLockedError)):
            vault.unlock("a", "wrong")
    vault.unlock("b", "pb").close()
    assert vault.key_ids() == ["a", "b"]


def test_concurrent_guesses_cannot_overrun_the_counter(vault: KeyVault) -> None:
    vault.create_key("k", "ec-p256", "right")
    outcomes: list[str] = []

    def guess() -> None:
        try:
            vault.unlock("k", "wrong")
        except (WrongPasswordError, KeyLockedError) as exc:
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=guess) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("WrongPasswordError") == 2
    assert outcomes.count("KeyLockedError") == 6


def test_change_password_needs_the_old_one_and_there_is_no_reset(vault: KeyVault) -> None:
    vault.create_key("k", "ec-p256", "old")
    with pytest.raises(WrongPasswordError):
        vault.change_password("k", "guess", "new")
    vault.change_password("k", "old", "new")
    with pytest.raises(WrongPasswordError):
        vault.unlock("k", "old")
    vault.unlock("k", "new").close()
    for name in ("reset_password", "export_key", "private_key", "recover"):
        assert not hasattr(vault, name)


def test_forgotten_password_means_a_new_key(vault: KeyVault) -> None:
    first = vault.create_key("ivanov", "ec-p256", "forgotten")
    vault.delete_key("ivanov")
    with pytest.raises(KeyNotFoundError):
        vault.unlock("ivanov", "forgotten")
    assert vault.create_key("ivanov", "ec-p256", "new") != first
    with pytest.raises(KeyNotFoundError):
        vault.delete_key("nobody")


def test_misuse_is_named(vault: KeyVault) -> None:
    with pytest.raises(PasswordRequiredError):
        vault.create_key("k", "ec-p256", "")
    vault.create_key("k", "ec-p256", "pw")
    with pytest.raises(KeyStorageError, match="already holds"):
        vault.create_key("k", "ec-p256", "pw")
    with pytest.raises(KeyNotFoundError):
        vault.status("absent")


def test_database_file_holds_no_key_material_in_clear(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "vault.sqlite"
    key = generate_key("ec-p256")
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    with KeyVault(path, clock=clock, kdf=FAST) as vault:
        vault.import_key("ivanov", key, "s3cret")
        vault.unlock("ivanov", "s3cret").close()
        vault.change_password("ivanov", "s3cret", "n3w")
    secrets = {
        "scalar": key.private_numbers().private_value.to_bytes(32, "big"),
        "pkcs8": key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        "password": b"s3cret",
        "new password": b"n3w",
    }
    files = [p for p in tmp_path.iterdir() if p.name.startswith("vault.sqlite")]
    assert files
    for file in files:
        content = file.read_bytes()
        for label, secret in secrets.items():
            assert secret not in content, f"{label} found in clear in {file.name}"
    # The row is there, and reopening with the right password works.
    with KeyVault(path, clock=clock, kdf=FAST) as vault, vault.unlock("ivanov", "n3w") as handle:
        assert handle.public_key() == key.public_key()


def test_tampered_row_does_not_unlock(tmp_path: Path, clock: Clock) -> None:
    import sqlite3

    path = tmp_path / "vault.sqlite"
    with KeyVault(path, clock=clock, kdf=FAST) as vault:
        vault.create_key("a", "ec-p256", "pw")
        vault.create_key("b", "ec-p256", "pw")
    db = sqlite3.connect(path)
    # Copy b's whole sealed blob (salt, nonce, ciphertext; same password) over a's: only
    # the associated data, which binds each blob to its own row, can notice.
    sealed = db.execute(
        "SELECT salt, nonce, ciphertext FROM esign_vault_keys WHERE key_id='b'"
    ).fetchone()
    db.execute("UPDATE esign_vault_keys SET salt=?, nonce=?, ciphertext=? WHERE key_id='a'", sealed)
    db.commit()
    db.close()
    with KeyVault(path, clock=clock, kdf=FAST) as vault, pytest.raises(WrongPasswordError):
        vault.unlock("a", "pw")


def test_default_kdf_is_rfc9106_second_option() -> None:
    assert Argon2Params() == Argon2Params(iterations=3, lanes=4, memory_cost=64 * 1024)


def test_pepper_and_stored_parameters(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "vault.sqlite"
    with KeyVault(path, clock=clock, kdf=FAST, pepper=b"service secret") as vault:
        vault.create_key("k", "ec-p256", "pw")
    assert path.stat().st_mode & 0o077 == 0, "the vault file is private to the service"
    # Another pepper (a stolen database without the service's configuration) cannot open it.
    with (
        KeyVault(path, clock=clock, kdf=FAST, pepper=b"guess") as vault,
        pytest.raises(WrongPasswordError),
    ):
        vault.unlock("k", "pw")
    # KDF parameters are stored per key: a vault configured with new ones opens old keys.
    stronger = Argon2Params(iterations=2, lanes=2, memory_cost=16 * 1024)
    with KeyVault(path, clock=clock, kdf=stronger, pepper=b"service secret") as vault:
        vault.unlock("k", "pw").close()


def test_vault_key_opens_an_envelope_sealed_to_its_certificate() -> None:
    """The hosted-vault choice end to end: the tax service's key lives in the vault."""
    from esign import open_envelope, seal
    from esign.certs import CertificateAuthority, TrustContext
    from esign.keys import generate_key
    from esign.keys.vault import KeyVault

    ca = CertificateAuthority.create_root("CN=Root")
    signer = generate_key("ec-p256")
    signer_cert = ca.issue(signer.public_key(), subject="CN=Ivanov", profile="signing")
    vault = KeyVault(":memory:")
    for alg in ("ec-p256", "x25519", "rsa-3072", "ml-kem-768"):
        public = vault.create_key(f"tax-{alg}", alg, "vault password")
        cert = ca.issue(public, subject=f"CN=Tax {alg}", profile="encryption")
        envelope = seal(b"return", signer=(signer, signer_cert), recipients=[cert])
        handle = vault.unlock(f"tax-{alg}", "vault password")
        opened = open_envelope(
            envelope,
            recipient=(handle, cert),
            trust=TrustContext([ca.certificate], crls=[ca.crl()]),
        )
        assert opened.content == b"return" and opened.report.valid, (alg, opened.report.errors)
