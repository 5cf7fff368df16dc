"""What durable issuance costs on this disk: the sync against the signature, and how sharing helps.

Prints, measured in one run in a folder on the disk under test:

- the latency of one ``fdatasync`` (the registry syncs its write-ahead log once per commit)
  and the rate of syncs from 1, 2, 4 and 16 threads at once (overlapping syncs);
- the time of ``CertificateBuilder.sign`` alone (ec-p256 CA key), hence the best ratio any
  single caller can reach when every certificate waits for its own sync:
  ``builder / (builder + sync)``;
- ``CertificateAuthority.issue`` into the durable SQLite registry from 1, 4, 16 and 64
  threads: certificates per second, and syncs per certificate (how many certificates one
  sync served);
- the same from two processes on one registry file (1 and 8 threads each), and a check
  that every certificate handed out is recorded.

    python benchmarks/bench_registry_sync.py [--dir PATH] [--count N]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from esign.certs import CertificateAuthority
from esign.certs.registry import SqliteRegistry
from esign.keys import generate_key


def sync_rate(folder: Path, threads: int, per_thread: int = 60) -> float:
    """Syncs per second of ``threads`` threads each rewriting a block and syncing it."""
    path = folder / "sync-probe.bin"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.write(fd, bytes(1 << 20))
        os.fsync(fd)

        def work(t: int) -> None:
            for i in range(per_thread):
                os.pwrite(fd, b"x" * 512, ((t * per_thread + i) % 2048) * 512)
                os.fdatasync(fd)

        workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
        start = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return threads * per_thread / (time.perf_counter() - start)
    finally:
        os.close(fd)
        path.unlink()


def _process(
    path: str, ca: CertificateAuthority, index: int, threads: int, per: int, start: object
) -> None:
    """One issuing process (forked): its own registry connection, ``threads`` issuers."""
    mine = CertificateAuthority(ca.key, ca.certificate, registry=SqliteRegistry(path))
    keys = [generate_key("ec-p256").public_key() for _ in range(8)]

    def work(t: int) -> None:
        for i in range(per):
            mine.issue(keys[i % 8], subject=f"CN=p{index}t{t}-{i}")

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    start.wait()  # type: ignore[attr-defined]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def processes_rate(folder: Path, ca_key: object, threads: int, total: int) -> tuple[float, bool]:
    """Certificates per second from two forked processes on one file; all recorded?"""
    path = str(folder / f"procs-{threads}.db")
    ca = CertificateAuthority.create_root(
        "CN=Two Processes",
        key=ca_key,
        registry=SqliteRegistry(path),  # type: ignore[arg-type]
    )
    per = max(total // (2 * threads), 10)
    context = multiprocessing.get_context("fork")
    start = context.Barrier(3)
    children = [
        context.Process(target=_process, args=(path, ca, i, threads, per, start)) for i in range(2)
    ]
    for child in children:
        child.start()
    start.wait()
    began = time.perf_counter()
    for child in children:
        child.join()
    elapsed = time.perf_counter() - began
    complete = all(c.exitcode == 0 for c in children) and SqliteRegistry(path).count() == (
        2 * threads * per
    )
    return 2 * threads * per / elapsed, complete


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", default=".", help="a folder on the disk to measure")
    parser.add_argument("--count", type=int, default=1200)
    args = parser.parse_args()
    print(f"load {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp)
        rates = {n: sync_rate(folder, n) for n in (1, 2, 4, 16)}
        sync = 1 / rates[1]
        print("fdatasync: " + ", ".join(f"{n} thr. {r:,.0f}/s" for n, r in rates.items()))
        keys = [generate_key("ec-p256").public_key() for _ in range(32)]
        ca_key = generate_key("ec-p256")
        ca = CertificateAuthority.create_root(
            "CN=Sync Probe", key=ca_key, registry=SqliteRegistry(folder / "r.db")
        )
        memory = CertificateAuthority.create_root("CN=Sync Probe", key=ca_key)
        for i in range(200):
            memory.issue(keys[i % 32], subject=f"CN=w{i}")
        start = time.perf_counter()
        for i in range(1000):
            memory.issue(keys[i % 32], subject=f"CN=m{i}")
        build = (time.perf_counter() - start) / 1000
        print(
            f"one sync {sync * 1e3:.2f} ms; issue in memory (build + sign) {build * 1e3:.3f} ms;"
            f" a lone durable issuer can reach at most {build / (build + sync):.2f} of that"
        )
        calls = [0]
        real = os.fdatasync

        def counted(fd: int) -> None:
            calls[0] += 1
            real(fd)

        for threads in (1, 8):
            rate, complete = processes_rate(folder, ca_key, threads, args.count)
            print(
                f"2 processes x {threads} threads: {rate:,.0f} certificates/s,"
                f" {'all recorded' if complete else 'RECORDS MISSING'}"
            )
        os.fdatasync = counted
        try:
            for threads in (1, 4, 16, 64):
                per = max(args.count // threads, 10) if threads > 1 else 200
                pool = ThreadPoolExecutor(threads)
                barrier = threading.Barrier(threads)

                def work(t: int, per: int = per, barrier: threading.Barrier = barrier) -> None:
                    barrier.wait()
                    for i in range(per):
                        ca.issue(keys[i % 32], subject=f"CN=t{t}-{i}")

                list(pool.map(work, range(threads)))  # warm: threads and connections exist
                calls[0] = 0
                start = time.perf_counter()
                list(pool.map(work, range(threads)))
                elapsed = time.perf_counter() - start
                pool.shutdown()
                issued = threads * per
                print(
                    f"{threads:>3} threads: {issued / elapsed:>6,.0f} certificates/s,"
                    f" {calls[0] / issued:.2f} syncs per certificate"
                )
        finally:
            os.fdatasync = real


if __name__ == "__main__":
    main()
