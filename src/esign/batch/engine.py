"""Run a batch in this process, on a local process pool (every core), or on a Dask cluster.

Items go out in chunks (so the per-task cost of the pool or the scheduler is paid once per
chunk, not per item), at most a few chunks per worker in flight (so a million items never
sit in memory as futures), and rows are appended to the output as chunks come back.
"""

from __future__ import annotations

import datetime
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from esign.batch import worker
from esign.batch.items import BatchItem
from esign.batch.results import ResultWriter, done_paths, write_parquet
from esign.batch.trustspec import TrustSpec
from esign.certs import TrustContext
from esign.errors import EsignError
from esign.keys.algorithms import PrivateKey
from esign.progress import Progress

#: Chunks in flight per worker: enough to keep it busy while results travel back.
IN_FLIGHT = 4
#: Largest chunk: big enough to hide a scheduler's per-task cost (about 1 ms on Dask).
MAX_CHUNK = 64


@dataclass
class BatchSummary:
    """What a run did. ``failed``: items that could not be processed at all."""

    total: int
    skipped: int
    valid: int
    not_valid: int
    failed: int
    seconds: float
    out: Path
    parquet: Path | None
    engine: str

    @property
    def processed(self) -> int:
        return self.valid + self.not_valid + self.failed

    @property
    def rate(self) -> float:
        return self.processed / self.seconds if self.seconds > 0 else 0.0


def _spec(trust: TrustContext | TrustSpec) -> TrustSpec:
    return trust if isinstance(trust, TrustSpec) else TrustSpec.from_context(trust)


def verify_many(
    items: Iterable[BatchItem | str | os.PathLike[str]],
    *,
    trust: TrustContext | TrustSpec,
    out: str | os.PathLike[str],
    at: datetime.datetime | None = None,
    jurisdiction: str = "eidas",
    workers: int | None = None,
    scheduler: Any = None,
    chunk_size: int | None = None,
    progress: bool | None = None,
    resume: bool = True,
    parquet: bool | str | os.PathLike[str] = True,
) -> BatchSummary:
    """Verify many signatures; one JSON line per item in ``out``.

    ``workers``: processes on this machine (default: every core; 1 runs in this process).
    ``scheduler``: a Dask scheduler address (``tcp://HOST:PORT``) or a
    ``dask.distributed.Client``; the items' paths must be readable on the workers. The
    trust context travels to each worker once (as a :class:`TrustSpec`) and is built
    there once. Items already in ``out`` are skipped (``resume``). ``parquet``: also write
    ``out`` as Parquet (True: next to it, as ``.parquet``) when pyarrow is installed.
    """
    job = worker.VerifyJob(_spec(trust), at=at, jurisdiction=jurisdiction)
    return _run(job, items, out, workers, scheduler, chunk_size, progress, resume, parquet)


def open_many(
    items: Iterable[BatchItem | str | os.PathLike[str]],
    *,
    key: PrivateKey,
    cert: x509.Certificate | None = None,
    trust: TrustContext | TrustSpec,
    out_dir: str | os.PathLike[str],
    out: str | os.PathLike[str],
    at: datetime.datetime | None = None,
    jurisdiction: str = "eidas",
    workers: int | None = None,
    scheduler: Any = None,
    chunk_size: int | None = None,
    progress: bool | None = None,
    resume: bool = True,
    parquet: bool | str | os.PathLike[str] = True,
) -> BatchSummary:
    """Open many envelopes with one recipient key: contents to ``out_dir``, rows to ``out``.

    The key travels to the workers as PKCS#8 (unencrypted, in memory): on a Dask cluster,
    run the scheduler and workers with TLS. Otherwise as :func:`verify_many`.
    """
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    key_der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    job = worker.OpenJob(
        _spec(trust),
        key_der=key_der,
        cert_der=None if cert is None else cert.public_bytes(serialization.Encoding.DER),
        out_dir=os.fspath(out_dir),
        at=at,
        jurisdiction=jurisdiction,
    )
    return _run(job, items, out, workers, scheduler, chunk_size, progress, resume, parquet)


def _run(
    job: worker.Job,
    items: Iterable[BatchItem | str | os.PathLike[str]],
    out: str | os.PathLike[str],
    workers: int | None,
    scheduler: Any,
    chunk_size: int | None,
    progress: bool | None,
    resume: bool,
    parquet: bool | str | os.PathLike[str],
) -> BatchSummary:
    out_path = Path(out)
    if not resume and out_path.exists():
        out_path.unlink()
    done = done_paths(out_path) if resume else set()
    todo = [
        i if isinstance(i, BatchItem) else BatchItem(os.fspath(i))
        for i in items
    ]  # fmt: skip
    total = len(todo)
    todo = [i for i in todo if i.path not in done]
    workers = workers or os.cpu_count() or 1
    if workers < 1:
        raise ValueError("workers must be at least 1")
    counts = {"valid": 0, "not_valid": 0, "failed": 0}
    label = "opening" if isinstance(job, worker.OpenJob) else "verifying"
    bar = Progress(len(todo), label=label, enabled=progress)
    start = time.perf_counter()
    with ResultWriter(out_path) as writer:

        def collect(chunk: worker.Chunk) -> None:
            writer.write_text(chunk.lines)
            for processed, valid in chunk.status:
                key = "failed" if not processed else ("valid" if valid else "not_valid")
                counts[key] += 1
            bar.advance(len(chunk.status))

        if not todo:
            engine = "none"
        elif scheduler is not None:
            engine = _on_dask(job, todo, scheduler, chunk_size, collect)
        elif workers == 1:
            engine = "in-process"
            size = chunk_size or MAX_CHUNK
            for chunk in _chunks(todo, size):
                collect(worker.run_chunk(job, chunk))
        else:
            engine = f"process pool ({workers})"
            _on_pool(job, todo, workers, chunk_size, collect)
    bar.close()
    seconds = time.perf_counter() - start
    parquet_path: Path | None = None
    if parquet:
        target = out_path.with_suffix(".parquet") if parquet is True else Path(parquet)
        parquet_path = write_parquet(out_path, target)
    return BatchSummary(
        total=total,
        skipped=total - len(todo),
        seconds=seconds,
        out=out_path,
        parquet=parquet_path,
        engine=engine,
        **counts,
    )


def _chunks(items: list[BatchItem], size: int) -> Iterator[list[BatchItem]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _chunk_size(count: int, slots: int, chunk_size: int | None) -> int:
    """Chunks of at most ``MAX_CHUNK``, small enough that every slot gets several."""
    if chunk_size:
        return chunk_size
    return max(1, min(MAX_CHUNK, count // (slots * IN_FLIGHT) or 1))


def _on_pool(
    job: worker.Job,
    todo: list[BatchItem],
    workers: int,
    chunk_size: int | None,
    collect: Callable[[worker.Chunk], None],
) -> None:
    context = _pool_context()
    size = _chunk_size(len(todo), workers, chunk_size)
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=worker.init_pool, initargs=(job,)
    ) as pool:
        _window(
            (lambda chunk: pool.submit(worker.run_current, chunk)),
            _chunks(todo, size),
            workers * IN_FLIGHT,
            collect,
        )


def _pool_context() -> multiprocessing.context.BaseContext:
    """``fork`` when this process runs no other thread (workers start at once, with esign
    already imported); otherwise ``forkserver`` (forking a threaded process is unsafe),
    which imports esign once in its server. Either way the job arrives by initializer."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["esign.batch.worker", "esign.signing.verify"])
        return context
    return multiprocessing.get_context("spawn")


def _window(
    submit: Callable[[list[BatchItem]], Any],
    chunks: Iterator[list[BatchItem]],
    limit: int,
    collect: Callable[[worker.Chunk], None],
    wait_any: Callable[[set[Any]], set[Any]] | None = None,
) -> None:
    """Keep at most ``limit`` chunks in flight; collect each as it finishes."""

    def first_done(pending: set[Any]) -> set[Any]:
        finished, _ = wait(pending, return_when=FIRST_COMPLETED)
        return finished

    wait_any = wait_any or first_done
    pending: set[Future[worker.Chunk]] = set()
    queue = deque(chunks)
    while queue or pending:
        while queue and len(pending) < limit:
            pending.add(submit(queue.popleft()))
        for future in wait_any(pending):
            pending.discard(future)
            collect(future.result())


def _on_dask(
    job: worker.Job,
    todo: list[BatchItem],
    scheduler: Any,
    chunk_size: int | None,
    collect: Callable[[worker.Chunk], None],
) -> str:
    try:
        from distributed import Client
        from distributed import wait as dask_wait
    except ImportError as exc:
        raise EsignError("a Dask scheduler needs: pip install 'esign[dask]'") from exc
    own = not isinstance(scheduler, Client)
    try:
        client = Client(scheduler, timeout="10s") if own else scheduler
    except (OSError, TimeoutError, ValueError) as exc:
        raise EsignError(f"cannot reach the Dask scheduler {scheduler!r}: {exc}") from exc
    try:
        slots = max(1, sum(client.nthreads().values()))
        # The job goes to every worker once; tasks refer to it by its future.
        shared = client.scatter(job, broadcast=True, hash=False)
        size = _chunk_size(len(todo), slots, chunk_size)

        def first_done(pending: set[Any]) -> set[Any]:
            return set(dask_wait(list(pending), return_when="FIRST_COMPLETED").done)

        _window(
            (lambda chunk: client.submit(worker.run_on_cluster, shared, chunk, pure=False)),
            _chunks(todo, size),
            slots * IN_FLIGHT,
            collect,
            first_done,
        )
        return f"dask ({slots} slots)"
    finally:
        if own:
            client.close()
