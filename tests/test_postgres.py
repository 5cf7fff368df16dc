"""The stores on a real PostgreSQL server (and the same races on SQLite): serials stay unique,
revocations and CRL numbers exact, lockout counters exact, contention a retryable error."""

from __future__ import annotations

import datetime
import multiprocessing
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from esign.certs import CertificateAuthority
from esign.certs.registry import (
    IssuedRecord,
    PostgresRegistry,
    Revocation,
    SerialInUseError,
    SqliteRegistry,
    open_registry,
)
from esign.cli.main import main
from esign.errors import (
    AccountLockedError,
    AuthenticationError,
    KeyLockedError,
    RegistryBusyError,
    RegistryError,
    WrongPasswordError,
)
from esign.keys import generate_key
from esign.keys.vault import Argon2Params, KeyVault
from esign.simple.credentials import CredentialPolicy, CredentialStore
from tests._postgres import fresh_schema_url

FAST_KDF = Argon2Params(iterations=1, lanes=1, memory_cost=8 * 1024)
FAST_POLICY = CredentialPolicy(argon2_iterations=1, argon2_lanes=1, argon2_memory_kib=8 * 1024)
SECRET = bytes(range(32))
WORKERS = 8
FORK = multiprocessing.get_context("fork")


@pytest.fixture(params=["postgresql", "sqlite"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same tests on both engines: a fresh PostgreSQL schema, or a fresh SQLite file."""
    if request.param == "postgresql":
        return fresh_schema_url()
    return f"sqlite:///{tmp_path / 'store.db'}"


def _in_processes(target: Callable[..., Any], args_list: list[tuple[Any, ...]]) -> list[Any]:
    """Run ``target(*args)`` in one process per entry, all released at once; their results."""
    with FORK.Manager() as manager:
        results = manager.list()
        start = manager.Event()
        procs = [
            FORK.Process(target=_worker, args=(target, args, start, results)) for args in args_list
        ]
        for p in procs:
            p.start()
        start.set()
        for p in procs:
            p.join(120)
            assert p.exitcode == 0
        return list(results)


def _worker(target: Callable[..., Any], args: tuple[Any, ...], start: Any, results: Any) -> None:
    start.wait()
    results.extend(target(*args))


# -- the CA registry ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def issued() -> tuple[CertificateAuthority, list[x509.Certificate]]:
    """Real certificates with serials 1..40, all signed by one CA."""
    ca = CertificateAuthority.create_root("CN=PG Root")
    subject = generate_key("ec-p256").public_key()
    now = datetime.datetime.now(datetime.timezone.utc)
    certs = [
        x509.CertificateBuilder(
            issuer_name=ca.certificate.subject,
            subject_name=x509.Name.from_rfc4514_string(f"CN=Taxpayer {s}"),
            public_key=subject,
            serial_number=s,
            not_valid_before=now,
            not_valid_after=now + datetime.timedelta(days=30),
        ).sign(ca.key, hashes.SHA256())  # type: ignore[arg-type]
        for s in range(1, 41)
    ]
    return ca, certs


def _add_all(url: str, certs: list[x509.Certificate]) -> list[str]:
    registry = open_registry(url)
    outcomes = []
    for cert in certs:
        try:
            registry.add(IssuedRecord.of(cert, "signing"))
            outcomes.append("added")
        except SerialInUseError:
            outcomes.append("taken")
    return outcomes


def test_the_same_serials_from_many_processes_are_recorded_once(
    store_url: str, issued: tuple[CertificateAuthority, list[x509.Certificate]]
) -> None:
    ca, certs = issued
    open_registry(store_url).bind(ca.certificate)
    outcomes = Counter(_in_processes(_add_all, [(store_url, certs)] * WORKERS))
    assert outcomes == {"added": len(certs), "taken": (WORKERS - 1) * len(certs)}
    registry = open_registry(store_url)
    assert [r.serial for r in registry.records()] == list(range(1, 41))


def test_group_commit_threads_share_commits_and_refuse_taken_serials(
    tmp_path: Path, issued: tuple[CertificateAuthority, list[x509.Certificate]]
) -> None:
    """Threads of one process: every add durable and reported on its own, serials once."""
    _, certs = issued
    registry = SqliteRegistry(tmp_path / "r.db")
    outcomes: list[str] = []
    lock = threading.Lock()

    def run() -> None:
        for cert in certs:
            try:
                registry.add(IssuedRecord.of(cert, "signing"))
                result = "added"
            except SerialInUseError:
                result = "taken"
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=run) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Counter(outcomes) == {"added": 40, "taken": 200}
    assert SqliteRegistry(tmp_path / "r.db").count() == 40  # on disk, seen by a new reader


def _revoke_all(url: str, serials: list[int]) -> list[str]:
    registry = open_registry(url)
    outcomes = []
    for serial in serials:
        try:
            registry.revoke(
                Revocation(serial, x509.ReasonFlags.key_compromise, datetime.datetime.now())
            )
            outcomes.append("revoked")
        except RegistryError:
            outcomes.append("refused")
        outcomes.append(f"crl {registry.next_crl_number(datetime.datetime.now(), delta_base=None)}")
    return outcomes


def test_revocations_and_crl_numbers_stay_exact_under_processes(
    store_url: str, issued: tuple[CertificateAuthority, list[x509.Certificate]]
) -> None:
    ca, certs = issued
    registry = open_registry(store_url)
    registry.bind(ca.certificate)
    registry.add_many([IssuedRecord.of(c, "signing") for c in certs])
    outcomes = _in_processes(_revoke_all, [(store_url, list(range(1, 21)))] * 4)
    counts = Counter(o for o in outcomes if not o.startswith("crl"))
    assert counts == {"revoked": 20, "refused": 60}
    crls = sorted(int(o.split()[1]) for o in outcomes if o.startswith("crl"))
    assert crls == list(range(1, 81))  # one number each, none twice
    assert {r.serial for r in registry.revoked()} == set(range(1, 21))


def test_add_many_is_all_or_nothing(
    issued: tuple[CertificateAuthority, list[x509.Certificate]],
) -> None:
    _, certs = issued
    registry = PostgresRegistry(fresh_schema_url())
    registry.add(IssuedRecord.of(certs[5], "signing"))
    with pytest.raises(SerialInUseError) as caught:
        registry.add_many([IssuedRecord.of(c, "signing") for c in certs[:10]])
    assert caught.value.serials == {6}
    assert registry.count() == 1


def test_a_locked_registry_is_a_retryable_busy_error(
    issued: tuple[CertificateAuthority, list[x509.Certificate]],
) -> None:
    import psycopg

    _, certs = issued
    url = fresh_schema_url()
    registry = PostgresRegistry(url, busy_timeout=0.2)
    with psycopg.connect(url) as other:
        other.execute("LOCK TABLE certificates IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(RegistryBusyError) as caught:
            registry.add(IssuedRecord.of(certs[0], "signing"))
    assert caught.value.retry_after > 0
    registry.add(IssuedRecord.of(certs[0], "signing"))  # the retry succeeds
    assert registry.count() == 1


def test_an_unreachable_server_is_a_named_error() -> None:
    with pytest.raises(RegistryError, match="unavailable"):
        PostgresRegistry("postgresql://nobody@127.0.0.1:1/none", busy_timeout=1)


def test_store_urls_are_checked() -> None:
    with pytest.raises(RegistryError, match="unknown store URL"):
        open_registry("mysql://host/db")


# -- a CA folder whose registry is on the server ------------------------------------------


def test_ca_folder_records_its_registry_url_for_every_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = fresh_schema_url()
    monkeypatch.setenv("ESIGN_PASSWORD", "ca-password")
    folder = tmp_path / "ca"
    assert main(["ca", "init", "--subject", "CN=PG CA", "--out-dir", str(folder),
                 "--registry", url]) == 0  # fmt: skip
    assert not (folder / "registry.sqlite3").exists()
    key = tmp_path / "k.pub"
    assert main(["key", "generate", "--alg", "ec-p256", "--out", str(tmp_path / "k.pem")]) == 0
    from cryptography.hazmat.primitives import serialization

    from esign.keys import load_key

    public = load_key(tmp_path / "k.pem", "ca-password").public_key()
    key.write_bytes(
        public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    code = main(["cert", "issue", "--ca", str(folder), "--public-key", str(key),
                 "--subject", "CN=Ivanov", "--profile", "signing", "--out",
                 str(tmp_path / "c.pem")])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    cert = x509.load_pem_x509_certificate((tmp_path / "c.pem").read_bytes())
    assert main(["cert", "revoke", "--ca", str(folder), f"{cert.serial_number:x}",
                 "--reason", "keyCompromise"]) == 0  # fmt: skip
    record = open_registry(url).get(cert.serial_number)
    assert record is not None and record.revoked  # the server holds the state


def test_a_password_in_the_registry_url_is_not_written_to_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ESIGN_PASSWORD", "ca-password")
    code = main(["ca", "init", "--subject", "CN=X", "--out-dir", str(tmp_path / "ca"),
                 "--registry", "postgresql://u:secret@127.0.0.1/db"])  # fmt: skip
    assert code == 2
    assert "PGPASSWORD" in capsys.readouterr().err
    assert not (tmp_path / "ca").exists()


# -- lockout counters under concurrent guessers ----------------------------------------------


def _guess_vault(url: str, guesses: int) -> list[str]:
    vault = KeyVault(url, kdf=FAST_KDF)
    outcomes = []
    for _ in range(guesses):
        try:
            vault.unlock("ivanov", "wrong password")
            outcomes.append("unlocked")
        except WrongPasswordError:
            outcomes.append("wrong")
        except KeyLockedError as exc:
            outcomes.append("locked now" if "now locked" in str(exc) else "refused")
    return outcomes


def test_vault_locks_exactly_after_three_guesses_from_eight_processes(store_url: str) -> None:
    vault = KeyVault(store_url, kdf=FAST_KDF)
    vault.create_key("ivanov", "ec-p256", "right password")
    outcomes = Counter(_in_processes(_guess_vault, [(store_url, 3)] * WORKERS))
    assert outcomes == {"wrong": 2, "locked now": 1, "refused": 3 * WORKERS - 3}
    with pytest.raises(KeyLockedError):
        vault.unlock("ivanov", "right password")
    assert vault.status("ivanov").failed_attempts == 3


def _guess_account(url: str, guesses: int) -> list[str]:
    store = CredentialStore(url, secret_key=SECRET, policy=FAST_POLICY)
    outcomes = []
    for _ in range(guesses):
        try:
            store.authenticate("ivanov", "wrong password")
            outcomes.append("in")
        except AccountLockedError:
            outcomes.append("locked")
        except AuthenticationError:
            outcomes.append("wrong")
    return outcomes


def test_account_locks_exactly_after_three_guesses_from_eight_processes(store_url: str) -> None:
    store = CredentialStore(store_url, secret_key=SECRET, policy=FAST_POLICY)
    store.register("ivanov", "right password", tin="7707083893", email="i@x.ru", control_word="w")
    outcomes = Counter(_in_processes(_guess_account, [(store_url, 3)] * WORKERS))
    assert outcomes == {"wrong": 2, "locked": 3 * WORKERS - 2}
    with pytest.raises(AccountLockedError):
        store.authenticate("ivanov", "right password")


def test_vault_and_credentials_work_on_postgres() -> None:
    url = fresh_schema_url()
    vault = KeyVault(url, kdf=FAST_KDF)
    vault.create_key("k", "ed25519", "pw")
    with vault.unlock("k", "pw") as key:
        assert key.algorithm == "ed25519"
    assert vault.key_ids() == ["k"]
    store = CredentialStore(url, secret_key=SECRET, policy=FAST_POLICY)
    store.register("a", "password-1", tin="7707083893", email="a@x.ru", control_word="w")
    link = store.start_recovery(tin="7707083893", email="a@x.ru", control_word="w")
    assert store.complete_recovery(link.token, "password-2") == "a"
    assert store.authenticate("a", "password-2").account == "a"


def test_a_held_vault_key_is_a_retryable_busy_error() -> None:
    import psycopg

    url = fresh_schema_url()
    vault = KeyVault(url, kdf=FAST_KDF, busy_timeout=0.2)
    vault.create_key("k", "ec-p256", "pw")
    with psycopg.connect(url) as other:
        other.execute("SELECT pg_advisory_xact_lock(hashtextextended('esign-vault:k', 0))")
        with pytest.raises(RegistryBusyError):
            vault.unlock("k", "wrong")
    assert vault.status("k").failed_attempts == 0  # the refused call counted nothing


def _use_inherited(vault: KeyVault) -> list[str]:
    return vault.key_ids()  # the child opens its own connection


def test_a_forked_child_does_not_break_the_parents_connection() -> None:
    vault = KeyVault(fresh_schema_url(), kdf=FAST_KDF)
    vault.create_key("k", "ed25519", "pw")
    assert _in_processes(_use_inherited, [(vault,)] * 2) == ["k", "k"]
    assert vault.key_ids() == ["k"]  # the parent's connection still works


def test_ca_folder_with_an_sqlite_registry_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ESIGN_PASSWORD", "ca-password")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "shared").mkdir()
    assert main(["ca", "init", "--subject", "CN=S", "--out-dir", "ca",
                 "--registry", "sqlite:///shared/reg.db"]) == 0  # fmt: skip
    config = (tmp_path / "ca" / "ca.json").read_text()
    assert str(tmp_path / "shared" / "reg.db") in config  # recorded absolute
    ca = CertificateAuthority.open_folder(tmp_path / "ca", password="ca-password")
    ca.issue(generate_key("ec-p256").public_key(), subject="CN=A", profile="signing")
    assert open_registry(tmp_path / "shared" / "reg.db").count() == 1
