"""Many issuers at once on one registry: serials never repeat, no record is ever lost."""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from esign.certs import CertificateAuthority
from esign.certs.registry import MemoryRegistry, SqliteRegistry
from esign.errors import RegistryBusyError
from esign.keys import generate_key

PROCESSES = 4
PER_PROCESS = 25
PASSWORD = "concurrency-test"


def issue_with_retry(ca: CertificateAuthority, subject: str) -> tuple[x509.Certificate, int]:
    """What a well-behaved client does: on a busy registry, wait ``retry_after`` and retry."""
    retries = 0
    key = generate_key("ec-p256").public_key()
    while True:
        try:
            return ca.issue(key, subject=subject), retries
        except RegistryBusyError as exc:
            retries += 1
            time.sleep(exc.retry_after)


def _worker(folder: str, index: int, barrier: Any, results: Any) -> None:
    # A short busy timeout, and a client that retries: whether or not a process meets a
    # busy registry in this run, no serial may repeat and no record may go missing.
    # (The busy path itself is forced in test_ca.py::test_busy_registry_...)
    ca = CertificateAuthority.open_folder(folder, password=PASSWORD, busy_timeout=0.05)
    barrier.wait()
    serials, retries = [], 0
    for n in range(PER_PROCESS):
        cert, tries = issue_with_retry(ca, f"CN=p{index}-{n}")
        serials.append(cert.serial_number)
        retries += tries
    results.put((index, serials, retries))


def test_processes_issue_concurrently_from_one_sqlite_registry(tmp_path: Path) -> None:
    folder = tmp_path / "ca"
    ca = CertificateAuthority.init_folder(folder, "CN=Concurrent CA", password=PASSWORD)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    results = context.Queue()
    workers = [
        context.Process(target=_worker, args=(str(folder), i, barrier, results))
        for i in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    collected = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    serials = [s for _, batch, _ in collected for s in batch]
    assert len(serials) == PROCESSES * PER_PROCESS
    assert len(set(serials)) == len(serials), "a serial number was issued twice"
    registry = SqliteRegistry(folder / "registry.sqlite3")
    assert registry.count() == len(serials), "a certificate was lost or half-recorded"
    for serial in serials:
        record = registry.get(serial)
        assert record is not None
        record.certificate.verify_directly_issued_by(ca.certificate)
        assert record.certificate.serial_number == serial


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_threads_issue_concurrently(backend: str, tmp_path: Path) -> None:
    registry = MemoryRegistry() if backend == "memory" else SqliteRegistry(tmp_path / "r.db")
    ca = CertificateAuthority.create_root("CN=Threaded CA", registry=registry)
    issued: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(6)

    def work(index: int) -> None:
        start.wait()
        for n in range(15):
            cert, _ = issue_with_retry(ca, f"CN=t{index}-{n}")
            with lock:
                issued.append(cert.serial_number)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(issued) == 90 and len(set(issued)) == 90
    assert registry.count() == 90
    assert {r.serial for r in registry.records()} == set(issued)
