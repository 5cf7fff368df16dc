"""Batch verification throughput: one process vs every local core vs a 2-worker Dask cluster.

    python benchmarks/bench_batch.py [--count 10000] [--corpus DIR]

The corpus (``--count`` detached ec-p256 signatures over ~100-byte documents, one CA and
its CRL: revocation is checked, as by default) is made once, in parallel, and cached in
``--corpus``. Then, in one run and on the same items:

* ``esign.verify`` in a plain loop (files read, no engine): the work itself;
* ``verify_many`` with ``workers=1`` (the engine in this process);
* ``verify_many`` on a local process pool of every core (pool start-up included);
* ``verify_many`` on a Dask ``LocalCluster`` of 2 single-threaded worker processes
  (started, and warmed up on 20 items before timing, as a long-lived cluster is; the
  workers' statistical profiler off, as docs/scale.md advises).

Ratios are to the one-process engine (wall time). The engine's per-item overhead is given
two ways: CPU time per item (every process of the engine: this one, the pool's children,
the Dask workers) beyond the plain loop's, which other load on the machine does not move;
and wall time, ``W * wall / N - loop / N`` for W workers, which it does. The load average
is printed before and after: on a shared machine, wall-time ratios taken under load say
more about the neighbours than about esign.
"""

from __future__ import annotations

import argparse
import datetime
import os
import resource
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

import esign
from esign.batch import collect_items, verify_many
from esign.certs import CertificateAuthority, TrustContext
from esign.keys import generate_key
from esign.keys.storage import parse_key

_SIGNER: tuple[object, x509.Certificate] | None = None


def _cpu(who: int = resource.RUSAGE_SELF) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _init_signer(key_der: bytes, cert_der: bytes) -> None:
    global _SIGNER
    _SIGNER = (parse_key(key_der, None), x509.load_der_x509_certificate(cert_der))


def _sign_range(folder: str, start: int, stop: int) -> int:
    assert _SIGNER is not None
    for i in range(start, stop):
        doc = Path(folder, f"{i // 1000:03}", f"return-{i:06}.txt")
        doc.parent.mkdir(exist_ok=True)
        data = f"tax return {i}: income {i * 37 % 100000} RUB, tax {i * 13 % 13000} RUB".encode()
        doc.write_bytes(data)
        sig = esign.sign(data, signer=_SIGNER, detached=True)  # type: ignore[arg-type]
        doc.with_name(doc.name + ".p7s").write_bytes(sig)
    return stop - start


def make_corpus(folder: Path, count: int) -> TrustContext:
    """``count`` signatures under ``folder`` (reused when already there) and their trust."""
    anchor, crl = folder / "ca.pem", folder / "ca.crl"
    done = folder / f"complete-{count}"
    if not done.exists() or not crl.exists():
        folder.mkdir(parents=True, exist_ok=True)
        ca = CertificateAuthority.create_root("CN=Bench Tax Root CA")
        key = generate_key("ec-p256")
        cert = ca.issue(key.public_key(), subject="CN=Ivanov", profile="signing")
        anchor.write_bytes(ca.certificate.public_bytes(Encoding.PEM))
        # Revocation is checked by default: the corpus comes with the CA's CRL (a year).
        crl.write_bytes(ca.crl(next_update=datetime.timedelta(days=365)).public_bytes(Encoding.DER))
        key_der = key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
        step = 250
        with ProcessPoolExecutor(
            initializer=_init_signer, initargs=(key_der, cert.public_bytes(Encoding.DER))
        ) as pool:
            jobs = [
                pool.submit(_sign_range, str(folder), s, min(s + step, count))
                for s in range(0, count, step)
            ]
            made = sum(j.result() for j in jobs)
        assert made == count
        done.touch()
    return TrustContext(
        [x509.load_pem_x509_certificate(anchor.read_bytes())], crls=[crl.read_bytes()]
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--corpus", type=Path)
    parser.add_argument("--dask-workers", type=int, default=2)
    args = parser.parse_args()
    corpus = args.corpus or Path(tempfile.gettempdir()) / f"esign-batch-corpus-{args.count}"
    trust = make_corpus(corpus, args.count)
    items = list(collect_items([corpus], suffixes=(".p7s",)))
    assert len(items) == args.count, f"{len(items)} items in {corpus}"
    n = len(items)
    cores = os.cpu_count() or 1
    print(f"{n} signatures, {cores} cores; load average before: {os.getloadavg()}")

    # The work itself: read and verify in a plain loop, with the trust context warm.
    esign.verify(Path(items[0].path).read_bytes(), Path(items[0].data or "").read_bytes(),
                 trust=trust)  # fmt: skip
    start, cpu = time.perf_counter(), _cpu()
    for item in items:
        report = esign.verify(
            Path(item.path).read_bytes(), Path(item.data or "").read_bytes(), trust=trust
        )
        assert report.valid
    loop, loop_cpu = time.perf_counter() - start, _cpu() - cpu

    results: dict[str, tuple[float, int, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:

        def run(label: str, slots: int, remote_cpu: object = None, **engine: object) -> None:
            out = Path(tmp, f"{len(results)}.jsonl")
            before = (_cpu(), _cpu(resource.RUSAGE_CHILDREN), remote_cpu() if remote_cpu else 0)  # type: ignore[operator]
            summary = verify_many(items, trust=trust, out=out, parquet=False, **engine)  # type: ignore[arg-type]
            after = (_cpu(), _cpu(resource.RUSAGE_CHILDREN), remote_cpu() if remote_cpu else 0)  # type: ignore[operator]
            assert summary.valid == n, summary
            cpu = sum(a - b for a, b in zip(after, before, strict=True))
            results[label] = (summary.seconds, slots, cpu)

        run("engine, 1 process", 1, workers=1)
        run(f"engine, local pool ({cores} processes)", cores, workers=cores)
        import dask
        from distributed import Client, LocalCluster

        # As docs/scale.md advises for batch workers: no statistical profiler sampling
        # every worker's stacks every 10 ms (it competes with the verification for the GIL).
        with (
            dask.config.set({"distributed.worker.profile.enabled": False}),
            LocalCluster(
                n_workers=args.dask_workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            # A long-lived cluster has imported esign and verified before: warm it up.
            verify_many(items[:20], trust=trust, out=Path(tmp, "warm.jsonl"), parquet=False,
                        scheduler=client, chunk_size=1)  # fmt: skip

            def workers_cpu() -> float:
                return sum(client.run(_cpu).values())

            run(f"engine, Dask LocalCluster ({args.dask_workers} workers)", args.dask_workers,
                remote_cpu=workers_cpu, scheduler=client)  # fmt: skip

    one = results["engine, 1 process"][0]
    print(
        f"{'':<40} {'items/s':>9} {'vs 1 proc':>9} {'CPU/item':>9} {'CPU overhead':>13}"
        f" {'wall overhead':>14}"
    )
    print(
        f"{'esign.verify loop (no engine)':<40} {n / loop:>9.0f} {one / loop:>9.2f}"
        f" {loop_cpu / n * 1e3:>6.2f} ms {'-':>13} {'-':>14}"
    )
    for label, (seconds, slots, cpu) in results.items():
        wall_over = (slots * seconds - loop) / n * 1e6
        cpu_over = (cpu - loop_cpu) / n * 1e6
        print(
            f"{label:<40} {n / seconds:>9.0f} {one / seconds:>9.2f} {cpu / n * 1e3:>6.2f} ms"
            f" {cpu_over:>10.0f} µs {wall_over:>11.0f} µs"
        )
    pool = next(s for k, (s, _, _) in results.items() if "pool" in k)
    dask = next(s for k, (s, _, _) in results.items() if "Dask" in k)
    print(f"Dask / local pool throughput: {pool / dask:.2f}")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
