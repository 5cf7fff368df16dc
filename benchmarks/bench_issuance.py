"""Issuance rate as a ratio to the CA key's raw signing rate and to CertificateBuilder alone.

Baseline: the CA key signing a certificate-sized message with ``cryptography`` alone, in
the same run. Measured: ``CertificateAuthority.issue`` (build, sign, record) with an
in-memory registry and with the SQLite registry, durable (the default: the registry syncs
the write-ahead log after each commit, before ``issue`` returns) and not (``durable=False``:
no sync). Subject keys are generated before timing.

The durable registry syncs every commit, outside SQLite's write lock: concurrent issuers
share one transaction (group commit) and their syncs overlap, one sync serving every
commit made before it began. The "N threads" rows issue from N threads of one process; their ``/builder``
column compares with the builder alone from as many threads (``cryptography`` releases the
GIL while signing, so threads use more than one core): the figure of merit for a CA
server (target >= 0.7). Single-caller rows compare with the single-threaded builder.

    python benchmarks/bench_issuance.py [--count N]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from esign.certs import CertificateAuthority
from esign.certs.authority import IssueRequest, signature_hash
from esign.certs.registry import MemoryRegistry, SqliteRegistry
from esign.keys import generate_key


def rate(action: Callable[[int], object], count: int, rounds: int = 3) -> float:
    """Operations per second: the best of ``rounds`` runs of ``count`` calls (after a warm-up).

    The best round is the least disturbed by other processes on a shared machine.
    """
    action(-1)
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for i in range(count):
            action(i)
        best = min(best, time.perf_counter() - start)
    return count / best


def raw_signing(key: object, count: int) -> float:
    message = b"\x30\x82\x01\xf4" + bytes(500)  # about the size of a TBSCertificate
    digest = signature_hash(key)  # type: ignore[arg-type]
    if isinstance(key, ec.EllipticCurvePrivateKey):
        assert digest is not None
        return rate(lambda _: key.sign(message, ec.ECDSA(digest)), count)
    if isinstance(key, rsa.RSAPrivateKey):
        assert digest is not None
        return rate(lambda _: key.sign(message, padding.PKCS1v15(), digest), count)
    return rate(lambda _: key.sign(message), count)  # type: ignore[attr-defined]


BATCH = 128
THREADS = 16


def threaded_rate(one: Callable[[int, int], object], count: int) -> float:
    """Calls per second of ``one(thread, i)`` from ``THREADS`` threads (best of 3 rounds)."""
    per = max(count // THREADS, 1)
    best = float("inf")
    for _ in range(3):

        def work(t: int) -> None:
            for i in range(per):
                one(t, i)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        best = min(best, time.perf_counter() - start)
    return per * THREADS / best


def _builder_only(ca_key: object, keys: list[object], i: int) -> object:
    """cryptography's CertificateBuilder alone, same extensions: the ceiling for any CA on it."""
    import datetime

    from cryptography import x509

    now = datetime.datetime.now(datetime.timezone.utc)
    public = keys[i % len(keys)]
    name = x509.Name.from_rfc4514_string(f"CN=Taxpayer {i}")
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)  # type: ignore[arg-type]
        .add_extension(
            x509.SubjectAlternativeName([x509.RFC822Name("t@example.org")]), critical=False
        )
    )
    return builder.sign(ca_key, signature_hash(ca_key))  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=300)
    args = parser.parse_args()
    subject_keys = [generate_key("ec-p256").public_key() for _ in range(64)]
    print(
        f"{'CA key':<10} {'registry':<26} {'issued/s':>10} {'signs/s':>10} {'ratio':>7}"
        f" {'/builder':>9}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for alg in ("ec-p256", "ed25519", "rsa-3072"):
            ca_key = generate_key(alg)
            count = args.count if not alg.startswith("rsa") else max(args.count // 4, 20)
            baseline = raw_signing(ca_key, count)
            builder_only = rate(
                lambda i, k=ca_key: _builder_only(k, subject_keys, i),  # type: ignore[misc]
                count,
            )
            print(
                f"{alg:<10} {'(builder only)':<26} {builder_only:>10.0f} {baseline:>10.0f} "
                f"{builder_only / baseline:>7.2f} {1:>9.2f}"
            )
            builder_threads = threaded_rate(
                lambda t, i, k=ca_key: _builder_only(k, subject_keys, i),  # type: ignore[misc]
                count * 4,
            )
            print(
                f"{alg:<10} {f'(builder only, {THREADS} thr.)':<26} {builder_threads:>10.0f} "
                f"{baseline:>10.0f} {builder_threads / baseline:>7.2f} {1:>9.2f}"
            )
            registries = {
                "memory": MemoryRegistry(),
                "sqlite-durable": SqliteRegistry(Path(tmp) / f"{alg}-full.db"),
                "sqlite-normal": SqliteRegistry(Path(tmp) / f"{alg}-normal.db", durable=False),
            }
            for label, registry in registries.items():
                ca = CertificateAuthority.create_root(
                    f"CN=Bench {alg}",
                    key=ca_key,
                    registry=registry,
                    crl_url="http://127.0.0.1/ca.crl",
                    ocsp_url="http://127.0.0.1/ocsp",
                )

                def issue(i: int, ca: CertificateAuthority = ca) -> object:
                    key = subject_keys[i % len(subject_keys)]
                    return ca.issue(key, subject=f"CN=Taxpayer {i}", email="t@example.org")

                issued = rate(issue, count)
                print(
                    f"{alg:<10} {label:<26} {issued:>10.0f} {baseline:>10.0f} "
                    f"{issued / baseline:>7.2f} {issued / builder_only:>9.2f}"
                )
                threaded = threaded_rate(
                    lambda t, i, ca=ca: ca.issue(
                        subject_keys[i % len(subject_keys)],  # type: ignore[arg-type]
                        subject=f"CN=T{t} {i}",
                        email="t@example.org",
                    ),
                    count * 4,
                )
                print(
                    f"{alg:<10} {label + f', {THREADS} threads':<26} {threaded:>10.0f} "
                    f"{baseline:>10.0f} {threaded / baseline:>7.2f}"
                    f" {threaded / builder_threads:>9.2f}"
                )
                if label == "memory":
                    continue
                batch = [
                    IssueRequest(k, f"CN=Batch {i}", emails=("t@example.org",))
                    for i, k in enumerate(subject_keys * (BATCH // len(subject_keys)))
                ]
                batches = max(count // BATCH, 2)
                per_batch = rate(lambda _, ca=ca, batch=batch: ca.issue_batch(batch), batches)
                issued = per_batch * len(batch)
                print(
                    f"{alg:<10} {label + f' batch {BATCH}':<26} {issued:>10.0f} {baseline:>10.0f} "
                    f"{issued / baseline:>7.2f} {issued / builder_only:>9.2f}"
                )


if __name__ == "__main__":
    main()
