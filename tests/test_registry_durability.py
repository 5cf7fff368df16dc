"""A certificate is on disk before ``issue`` returns it, whatever happens to the process next.

Three things are checked on a real SQLite file:

* a process killed with SIGKILL right after ``issue`` returned (it told the parent so)
  leaves that certificate in the registry file, from many threads at once;
* the write-ahead log holding the commit was synced by a sync that *began after* the
  commit and *ended before* ``issue`` returned (what makes it survive a power cut, which a
  test cannot cause);
* threads of two processes issuing on one file get unique serials and lose nothing.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)

from esign.certs import CertificateAuthority
from esign.certs.registry import SqliteRegistry
from esign.keys import generate_key

CHILD = r"""
import sys, threading
from pathlib import Path
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from esign.certs import CertificateAuthority
from esign.certs.registry import SqliteRegistry
from esign.keys import generate_key

folder = Path(sys.argv[1])
threads = int(sys.argv[2])
key = load_pem_private_key((folder / "ca.key").read_bytes(), None)
cert = x509.load_pem_x509_certificate((folder / "ca.pem").read_bytes())
ca = CertificateAuthority(key, cert, registry=SqliteRegistry(folder / "registry.db"))
subject_key = generate_key("ec-p256").public_key()
out = threading.Lock()

def work(t):
    for n in range(10**6):
        issued = ca.issue(subject_key, subject=f"CN=t{t}-{n}")
        with out:  # the parent may kill us the moment this line arrives
            sys.stdout.write(f"{issued.serial_number:x}\n")
            sys.stdout.flush()

for t in range(threads):
    threading.Thread(target=work, args=(t,), daemon=True).start()
threading.Event().wait()
"""


def _ca_files(folder: Path) -> CertificateAuthority:
    """A root CA whose (test-only, unencrypted) key a child process can load quickly."""
    ca = CertificateAuthority.create_root("CN=Durability CA", key=generate_key("ec-p256"))
    folder.mkdir(exist_ok=True)
    key_pem = ca.key.private_bytes(  # type: ignore[union-attr]
        Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
    )
    (folder / "ca.key").write_bytes(key_pem)
    (folder / "ca.pem").write_bytes(ca.certificate.public_bytes(Encoding.PEM))
    return ca


def _kill_after(folder: Path, threads: int, lines: int) -> list[int]:
    """Run the child, SIGKILL it as soon as ``lines`` serials were reported; the serials."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(folder), str(threads)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert child.stdout is not None
    serials: list[int] = []
    try:
        while len(serials) < lines:
            line = child.stdout.readline()
            assert line, f"the child died: {child.stderr.read().decode()[-800:]}"  # type: ignore[union-attr]
            serials.append(int(line, 16))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        serials += [int(line, 16) for line in child.stdout.read().split()]  # a last few
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
        child.stderr.close()  # type: ignore[union-attr]
    assert child.returncode == -signal.SIGKILL
    return serials


@pytest.mark.parametrize("threads", [1, 8])
def test_a_certificate_survives_sigkill_right_after_issue_returns(
    tmp_path: Path, threads: int
) -> None:
    ca = _ca_files(tmp_path)
    reported = _kill_after(tmp_path, threads, lines=40)
    registry = SqliteRegistry(tmp_path / "registry.db")
    for serial in reported:
        record = registry.get(serial)
        assert record is not None, f"certificate {serial:x} was returned but is not recorded"
        record.certificate.verify_directly_issued_by(ca.certificate)
    assert len(set(reported)) == len(reported)
    # A certificate the child issued but had not reported yet may be there too; nothing else.
    assert registry.count() >= len(reported)


class _SyncWatch:
    """Wraps ``os.fdatasync``: at each sync of the log, which serials were committed."""

    def __init__(self, path: Path) -> None:
        self.wal = os.path.realpath(f"{path}-wal")
        self.path = path
        self.finished: list[set[str]] = []  # serials committed before a finished sync began
        self.lock = threading.Lock()
        self.real = os.fdatasync

    def __call__(self, fd: int) -> None:
        target = os.path.realpath(f"/proc/self/fd/{fd}")
        committed: set[str] | None = None
        if target == self.wal:
            reader = sqlite3.connect(self.path)  # sees exactly the commits made so far
            committed = {s for (s,) in reader.execute("SELECT serial FROM certificates")}
            reader.close()
        self.real(fd)
        if committed is not None:
            with self.lock:
                self.finished.append(committed)

    def covered(self, serial: int) -> bool:
        with self.lock:
            return any(f"{serial:x}" in done for done in self.finished)


@pytest.mark.parametrize("threads", [1, 6])
def test_issue_returns_only_after_a_sync_that_began_after_its_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threads: int
) -> None:
    path = tmp_path / "registry.db"
    ca = CertificateAuthority.create_root("CN=Sync CA", registry=SqliteRegistry(path))
    watch = _SyncWatch(path)
    monkeypatch.setattr(os, "fdatasync", watch)
    key = generate_key("ec-p256").public_key()
    uncovered: list[int] = []

    def work(t: int) -> None:
        for n in range(10):
            cert = ca.issue(key, subject=f"CN=s{t}-{n}")
            if not watch.covered(cert.serial_number):  # checked the moment issue returned
                uncovered.append(cert.serial_number)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert watch.finished, "the write-ahead log was never synced"
    assert uncovered == [], "issue returned before its commit was synced"


def test_a_registry_that_is_not_durable_does_not_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The watch above can fail: without the sync, nothing is covered."""
    path = tmp_path / "registry.db"
    ca = CertificateAuthority.create_root(
        "CN=Fast CA", registry=SqliteRegistry(path, durable=False)
    )
    watch = _SyncWatch(path)
    monkeypatch.setattr(os, "fdatasync", watch)
    cert = ca.issue(generate_key("ec-p256").public_key(), subject="CN=x")
    assert not watch.covered(cert.serial_number)


PASSWORD = "durability-test"


def _process(
    folder: str, index: int, threads: int, per_thread: int, barrier: Any, out: Any
) -> None:
    ca = CertificateAuthority.open_folder(folder, password=PASSWORD)
    key = generate_key("ec-p256").public_key()
    serials: list[int] = []
    lock = threading.Lock()

    def work(t: int) -> None:
        for n in range(per_thread):
            cert = ca.issue(key, subject=f"CN=p{index}-t{t}-{n}")
            with lock:
                serials.append(cert.serial_number)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    barrier.wait()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    out.put(serials)


def test_threads_of_two_processes_issue_on_one_file(tmp_path: Path) -> None:
    folder = tmp_path / "ca"
    ca = CertificateAuthority.init_folder(folder, "CN=Two Processes CA", password=PASSWORD)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    out = context.Queue()
    threads, per_thread = 8, 15
    processes = [
        context.Process(target=_process, args=(str(folder), i, threads, per_thread, barrier, out))
        for i in range(2)
    ]
    for process in processes:
        process.start()
    serials = [s for _ in processes for s in out.get(timeout=180)]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    assert len(serials) == 2 * threads * per_thread
    assert len(set(serials)) == len(serials), "a serial number was issued twice"
    registry = SqliteRegistry(folder / "registry.sqlite3")
    assert registry.count() == len(serials), "a certificate was lost or recorded twice"
    recorded = {r.serial: r for r in registry.records()}
    assert set(recorded) == set(serials)
    for serial in serials[:: len(serials) // 10]:
        certificate = recorded[serial].certificate
        certificate.verify_directly_issued_by(ca.certificate)
        assert isinstance(certificate, x509.Certificate)


def test_a_failed_sync_is_a_named_retryable_error_and_nothing_is_handed_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from esign.errors import RegistryUnavailableError

    ca = CertificateAuthority.create_root("CN=EIO CA", registry=SqliteRegistry(tmp_path / "r.db"))

    def broken(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fdatasync", broken)
    key = generate_key("ec-p256").public_key()
    failures: list[BaseException] = []
    returned: list[x509.Certificate] = []

    def work(n: int) -> None:
        try:
            returned.append(ca.issue(key, subject=f"CN=e{n}"))
        except Exception as exc:
            failures.append(exc)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert returned == []
    assert len(failures) == 6
    for failure in failures:
        assert isinstance(failure, RegistryUnavailableError)
        assert failure.retry_after > 0
        assert "synced to disk" in str(failure)
