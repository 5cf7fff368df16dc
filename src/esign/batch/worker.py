"""What runs in a worker: chunks of items against the job's trust context, built once.

A job (:class:`VerifyJob` / :class:`OpenJob`) reaches each worker once: as the process
pool's initializer argument, or as one object scattered to every Dask worker. The worker
builds its state (trust context, recipient key) on first use and keeps it for every chunk.
"""

from __future__ import annotations

import datetime
import gc
import hashlib
import json
import os
import pickle
from dataclasses import dataclass
from typing import Any

from esign.batch.items import BatchItem
from esign.batch.trustspec import TrustSpec
from esign.errors import (
    DecryptionError,
    EsignError,
    MalformedInputError,
    NoMatchingRecipientError,
)

Row = dict[str, Any]

#: Largest item a worker reads (a signature or envelope file).
MAX_ITEM_BYTES = 256 << 20


@dataclass(frozen=True)
class VerifyJob:
    """Verify signatures: trust, validation time, level rules."""

    trust: TrustSpec
    at: datetime.datetime | None = None
    jurisdiction: str = "eidas"


@dataclass(frozen=True)
class OpenJob:
    """Open envelopes with one recipient key (PKCS#8 DER) and write their content."""

    trust: TrustSpec
    key_der: bytes
    cert_der: bytes | None
    out_dir: str
    at: datetime.datetime | None = None
    jurisdiction: str = "eidas"


Job = VerifyJob | OpenJob

_STATE: dict[str, Any] = {}  # job token -> built state, per worker process
_TOKENS: dict[int, tuple[Job, str]] = {}  # id(job) -> (job, token): no re-hash per chunk
_CURRENT: Job | None = None  # the process pool's job (set by the initializer)
_WORKER = False  # True in a pool or cluster worker process


def _token(job: Job) -> str:
    known = _TOKENS.get(id(job))
    if known is not None and known[0] is job:
        return known[1]
    token = hashlib.sha256(pickle.dumps(job, protocol=5)).hexdigest()
    _TOKENS[id(job)] = (job, token)
    return token


def _state(job: Job) -> Any:
    token = _token(job)
    state = _STATE.get(token)
    if state is None:
        state = _build(job)
        _STATE[token] = state
        if _WORKER:
            # What exists now in a worker process (its machinery, the trust context) lives
            # as long as the worker: keep it out of the cyclic GC's scans. Never done in a
            # caller's own process (workers=1), whose objects are not ours to pin.
            gc.freeze()
    return state


def _build(job: Job) -> Any:
    trust = job.trust.build()
    if isinstance(job, VerifyJob):
        return trust
    from cryptography import x509

    from esign.keys.storage import parse_key

    key = parse_key(job.key_der, None)
    cert = None if job.cert_der is None else x509.load_der_x509_certificate(job.cert_der)
    return trust, key, cert


def init_pool(job: Job) -> None:
    """Process-pool initializer: receive the job once and build its state now."""
    global _CURRENT, _WORKER
    _CURRENT, _WORKER = job, True
    _state(job)


def run_current(items: list[BatchItem]) -> Chunk:
    """A process-pool task: a chunk against the job the initializer received."""
    assert _CURRENT is not None, "init_pool was not run in this worker"
    return run_chunk(_CURRENT, items)


def run_rows(job: Job, items: list[BatchItem]) -> list[Row]:
    """Run every item of a chunk; a bad item becomes a failed row, never an exception."""
    state = _state(job)
    if isinstance(job, VerifyJob):
        return [_guarded(_verify_one, job, state, item) for item in items]
    return [_guarded(_open_one, job, state, item) for item in items]


def run_chunk(job: Job, items: list[BatchItem]) -> Chunk:
    """A chunk's rows as JSON lines, encoded here: the collecting process only appends
    text (one string crosses the wire, not a tree of dicts to unpickle and encode)."""
    rows = run_rows(job, items)
    text = "".join(json.dumps(r, default=str) + "\n" for r in rows)
    return Chunk(text, [(bool(r.get("processed")), bool(r.get("valid"))) for r in rows])


def run_on_cluster(job: Job, items: list[BatchItem]) -> Chunk:
    """A Dask task: ``job`` is the object scattered to this worker once."""
    global _WORKER
    _WORKER = True
    return run_chunk(job, items)


@dataclass(frozen=True)
class Chunk:
    """A finished chunk: its JSON lines, and (processed, valid) per item for the tally."""

    lines: str
    status: list[tuple[bool, bool]]


def _guarded(run: Any, job: Job, state: Any, item: BatchItem) -> Row:
    try:
        row: Row = run(job, state, item)
    except (DecryptionError, NoMatchingRecipientError) as exc:  # processed: the answer is no
        row = failure_row(item, exc.code, str(exc))
        row["processed"] = True
        return row
    except EsignError as exc:
        return failure_row(item, exc.code, str(exc), malformed=isinstance(exc, MalformedInputError))
    except OSError as exc:
        return failure_row(item, "unreadable", f"{exc.strerror or exc}: {item.path}")
    except Exception as exc:  # a bug must not stop a million-item batch; it is reported
        return failure_row(item, "internal_error", f"{type(exc).__name__}: {exc}")
    return row


def failure_row(item: BatchItem, code: str, message: str, *, malformed: bool = False) -> Row:
    """The row of an item that could not be processed (unreadable, malformed, ...)."""
    return {
        "path": item.path,
        "data": item.data,
        "valid": False,
        # EN 319 102-1: input the validation cannot parse fails with FORMAT_FAILURE.
        "indication": "TOTAL-FAILED" if malformed else None,
        "subindication": "FORMAT_FAILURE" if malformed else None,
        "level": None,
        "signer": None,
        "errors": [{"code": code, "message": message}],
        "processed": False,
    }


def _read(path: str) -> bytes:
    size = os.path.getsize(path)
    if size > MAX_ITEM_BYTES:
        raise MalformedInputError(f"{path}: {size} bytes, more than {MAX_ITEM_BYTES}")
    with open(path, "rb") as handle:
        return handle.read()


def _row(item: BatchItem, report_dict: dict[str, Any], **extra: Any) -> Row:
    row: Row = {"path": item.path, "data": item.data}
    row.update(report_dict)  # whatever the report says (new fields flow through)
    row.update(extra)
    row["processed"] = True
    return row


def _verify_one(job: VerifyJob, trust: Any, item: BatchItem) -> Row:
    from esign.signing.smime import is_smime, read_smime
    from esign.signing.verify import verify

    signature = _read(item.path)
    options: dict[str, Any] = {"trust": trust, "at": job.at, "jurisdiction": job.jurisdiction}
    if signature.startswith(b"%PDF-"):
        from esign.signing.pdf import verify_pdf

        options.pop("at")
        reports = verify_pdf(signature, **options)
        payload = reports[0].to_dict()
        payload["valid"] = all(r.valid for r in reports)
        payload["signatures"] = [r.to_dict() for r in reports]
        return _row(item, payload)
    if is_smime(signature):
        message = read_smime(signature)
        report = verify(message.signature, message.content, **options)
    else:
        data = None if item.data is None else _read(item.data)
        report = verify(signature, data, **options)
    return _row(item, report.to_dict())


def output_name(item: BatchItem) -> str:
    """Where ``batch open`` writes an envelope's content: its name without the suffix."""
    name = os.path.basename(item.path)
    stem, suffix = os.path.splitext(name)
    return stem if suffix.lower() in (".p7m", ".p7e", ".cms", ".env") and stem else name + ".out"


def _open_one(job: OpenJob, state: Any, item: BatchItem) -> Row:
    from esign.envelope import open_envelope

    trust, key, cert = state
    envelope = _read(item.path)
    opened = open_envelope(
        envelope, recipient=(key, cert), trust=trust, at=job.at, jurisdiction=job.jurisdiction
    )
    target: str | None = None
    if opened.report.valid:  # as ``esign open``: content comes out only under a valid signature
        target = os.path.join(job.out_dir, output_name(item))
        partial = f"{target}.partial-{os.getpid()}"
        with open(partial, "wb") as handle:
            handle.write(opened.content)
        os.replace(partial, target)  # a crash never leaves a half-written content file
    return _row(
        item,
        opened.report.to_dict(),
        content=target,
        intended_recipients=list(opened.intended_recipients or []),
    )
