"""The CA's registry: every certificate it issued, and every revocation, behind one interface.

Two implementations: :class:`MemoryRegistry` (a CA that lives in one process: tests, demos)
and :class:`SqliteRegistry` (the default for a CA in a folder: one SQLite file per CA,
shared safely by many threads and processes).

The registry is the source of truth for serial numbers: ``add`` refuses a serial already
recorded, so a CA redraws instead of ever issuing two certificates with one serial. A CA
returns a certificate only after ``add`` committed it, so a busy or unreachable registry
(:class:`~esign.errors.RegistryBusyError`, :class:`~esign.errors.RegistryUnavailableError`)
leaves nothing half-issued: the caller retries after ``retry_after`` seconds.

CRL numbers share one sequence for complete and delta CRLs (RFC 5280 §5.2.3). Each
revocation remembers the last CRL number issued before it, so a delta CRL on base ``n``
lists exactly the revocations a complete CRL ``n`` could not yet contain.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import os
import random
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from esign._repr import readable_repr
from esign.errors import (
    CertificateNotFoundError,
    RegistryBusyError,
    RegistryError,
    RegistryUnavailableError,
)

T = TypeVar("T")

#: Reasons a CA accepts (RFC 5280 §5.3.1). certificateHold is left out on purpose: esign's
#: revocation is final, and removeFromCRL exists only in delta CRLs to undo a hold.
REVOCATION_REASONS: dict[str, x509.ReasonFlags] = {
    r.value: r
    for r in x509.ReasonFlags
    if r not in (x509.ReasonFlags.certificate_hold, x509.ReasonFlags.remove_from_crl)
}


def parse_reason(reason: str | x509.ReasonFlags) -> x509.ReasonFlags:
    """A revocation reason by RFC name (``keyCompromise``) or enum value."""
    name = reason.value if isinstance(reason, x509.ReasonFlags) else reason.strip()
    found = REVOCATION_REASONS.get(name) or next(
        (r for r in REVOCATION_REASONS.values() if r.name.replace("_", "") == name.lower()), None
    )
    if found is None:
        raise RegistryError(
            f"unknown or unsupported revocation reason {reason!r}; "
            f"known: {', '.join(REVOCATION_REASONS)}"
        )
    return found


class SerialInUseError(RegistryError):
    """Serial numbers already recorded (the CA draws others); ``serials`` names them."""

    code = "serial_in_use"

    def __init__(self, message: str, serials: frozenset[int] = frozenset()) -> None:
        super().__init__(message)
        self.serials = serials


@dataclass(frozen=True)
class IssuedRecord:
    """One issued certificate as the registry knows it."""

    __repr__ = readable_repr

    serial: int
    subject: str
    profile: str
    not_before: datetime.datetime
    not_after: datetime.datetime
    der: bytes
    revoked_at: datetime.datetime | None = None
    reason: x509.ReasonFlags | None = None
    invalidity_date: datetime.datetime | None = None
    after_crl: int | None = None  # the last CRL number issued before the revocation

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.der)

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    @classmethod
    def of(
        cls, certificate: x509.Certificate, profile: str, *, subject: x509.Name | None = None
    ) -> IssuedRecord:
        """The record of ``certificate``; ``subject`` is the name it was built with, if known
        (parsing it back out of the certificate costs a third of an ECDSA signature)."""
        return cls(
            serial=certificate.serial_number,
            subject=(certificate.subject if subject is None else subject).rfc4514_string(),
            profile=profile,
            not_before=certificate.not_valid_before_utc,
            not_after=certificate.not_valid_after_utc,
            der=certificate.public_bytes(Encoding.DER),
        )


@dataclass(frozen=True)
class Revocation:
    """A revocation to record: when, why, and (optionally) since when the key was unsafe."""

    __repr__ = readable_repr

    serial: int
    reason: x509.ReasonFlags
    at: datetime.datetime
    invalidity_date: datetime.datetime | None = None


class Registry(Protocol):
    """What a CA needs from its registry. Every method is atomic."""

    def bind(self, issuer: x509.Certificate) -> None:
        """Tie the registry to one CA; a registry of another CA is refused."""

    def add(self, record: IssuedRecord, *, revoke: Revocation | None = None) -> None:
        """Record an issued certificate (and, atomically, a revocation it replaces).

        Raises :class:`SerialInUseError` if the serial is taken, leaving nothing changed.
        """

    def add_many(self, records: Sequence[IssuedRecord]) -> None:
        """Record several certificates in one transaction: all of them, or none.

        Raises :class:`SerialInUseError` naming every serial already taken.
        """

    def get(self, serial: int) -> IssuedRecord | None: ...

    def revoke(self, revocation: Revocation) -> IssuedRecord:
        """Mark a certificate revoked; unknown or already revoked serials are refused."""

    def revoked(self, *, after_crl: int | None = None) -> list[IssuedRecord]:
        """Revoked certificates; with ``after_crl``, only those revoked after that CRL."""

    def next_crl_number(self, this_update: datetime.datetime, *, delta_base: int | None) -> int:
        """Allocate the next CRL number (shared by complete and delta CRLs)."""

    def last_complete_crl(self) -> int | None:
        """The number of the last complete CRL, the base of the next delta CRL."""

    def count(self) -> int: ...

    def records(self) -> Iterator[IssuedRecord]: ...


def _fingerprint(issuer: x509.Certificate) -> str:
    return hashlib.sha256(issuer.public_bytes(Encoding.DER)).hexdigest()


class MemoryRegistry:
    """A registry in memory, safe across threads of one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[int, IssuedRecord] = {}
        self._crls: list[tuple[int, int | None]] = []
        self._issuer: str | None = None

    def bind(self, issuer: x509.Certificate) -> None:
        with self._lock:
            fp = _fingerprint(issuer)
            if self._issuer not in (None, fp):
                raise RegistryError("this registry belongs to another CA")
            self._issuer = fp

    def add(self, record: IssuedRecord, *, revoke: Revocation | None = None) -> None:
        with self._lock:
            if record.serial in self._records:
                raise SerialInUseError(f"serial {record.serial:x} is already recorded")
            if revoke is not None:
                self._records[revoke.serial] = self._revoked(revoke)
            self._records[record.serial] = record

    def add_many(self, records: Sequence[IssuedRecord]) -> None:
        with self._lock:
            taken = frozenset(r.serial for r in records if r.serial in self._records)
            if taken:
                raise SerialInUseError("serial numbers already recorded", taken)
            for record in records:
                self._records[record.serial] = record

    def get(self, serial: int) -> IssuedRecord | None:
        with self._lock:
            return self._records.get(serial)

    def _revoked(self, revocation: Revocation) -> IssuedRecord:
        record = self._records.get(revocation.serial)
        if record is None:
            raise CertificateNotFoundError(f"no certificate with serial {revocation.serial:x}")
        if record.revoked:
            raise RegistryError(f"certificate {revocation.serial:x} is already revoked")
        last = max((n for n, _ in self._crls), default=0)
        return replace(
            record,
            revoked_at=revocation.at,
            reason=revocation.reason,
            invalidity_date=revocation.invalidity_date,
            after_crl=last,
        )

    def revoke(self, revocation: Revocation) -> IssuedRecord:
        with self._lock:
            record = self._revoked(revocation)
            self._records[revocation.serial] = record
            return record

    def revoked(self, *, after_crl: int | None = None) -> list[IssuedRecord]:
        with self._lock:
            return sorted(
                (
                    r
                    for r in self._records.values()
                    if r.revoked
                    and (
                        after_crl is None or (r.after_crl is not None and r.after_crl >= after_crl)
                    )
                ),
                key=lambda r: r.serial,
            )

    def next_crl_number(self, this_update: datetime.datetime, *, delta_base: int | None) -> int:
        with self._lock:
            number = max((n for n, _ in self._crls), default=0) + 1
            self._crls.append((number, delta_base))
            return number

    def last_complete_crl(self) -> int | None:
        with self._lock:
            return max((n for n, base in self._crls if base is None), default=None)

    def count(self) -> int:
        with self._lock:
            return len(self._records)

    def records(self) -> Iterator[IssuedRecord]:
        with self._lock:
            return iter(sorted(self._records.values(), key=lambda r: r.serial))


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS certificates (
    serial TEXT PRIMARY KEY,          -- lowercase hex, no leading zeros
    subject TEXT NOT NULL,
    profile TEXT NOT NULL,
    not_before TEXT NOT NULL,
    not_after TEXT NOT NULL,
    der BLOB NOT NULL,
    revoked_at TEXT,
    reason TEXT,
    invalidity_date TEXT,
    after_crl INTEGER
);
CREATE TABLE IF NOT EXISTS crls (
    number INTEGER PRIMARY KEY,
    this_update TEXT NOT NULL,
    delta_base INTEGER
);
"""


def _ts(moment: datetime.datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(datetime.timezone.utc).isoformat()


def _dt(value: str | None) -> datetime.datetime | None:
    return None if value is None else datetime.datetime.fromisoformat(value)


def _row(record: IssuedRecord) -> tuple[str, str, str, str | None, str | None, bytes]:
    """The certificates-table columns of a new record."""
    return (
        f"{record.serial:x}",
        record.subject,
        record.profile,
        _ts(record.not_before),
        _ts(record.not_after),
        record.der,
    )


#: Descriptors of write-ahead logs that were replaced, kept open (never reused by another
#: file while a sync in another thread may still hold the number).
_retired_fds: list[int] = []

#: Windows syncs only descriptors open for writing; POSIX any.
_SYNC_FLAGS = os.O_RDWR if os.name == "nt" else os.O_RDONLY


def _datasync(fd: int) -> None:
    """``fdatasync`` where there is one (Linux), ``fsync`` elsewhere (macOS, Windows)."""
    sync = getattr(os, "fdatasync", None) or os.fsync
    sync(fd)


#: Rows in one multi-row INSERT (6 parameters each, within SQLite's 32,766).
_MAX_ROWS = 1000


@dataclass
class _Pending:
    """One ``add`` waiting for a group commit; ``wake`` is set when done or made leader."""

    record: IssuedRecord
    revoke: Revocation | None
    done: bool = False
    error: BaseException | None = None
    seq: int = 0  # the commit that holds the record (see _Syncs)
    wake: threading.Event = field(default_factory=threading.Event)


@dataclass
class _GroupCommit:
    """Callers of one process waiting to share a commit; ``busy`` while one leads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    queue: list[_Pending] = field(default_factory=list)
    busy: bool = False


@dataclass
class _Syncs:
    """Commits of one process and the disk syncs that made them durable.

    ``committed`` numbers the commits; a sync that starts when ``committed`` is ``n``
    covers commits 1..n (their pages were written before it began), so a caller whose
    commit is ``n`` waits for such a sync if one is running and starts its own otherwise.
    Syncs run outside SQLite's write lock and may overlap one another.
    """

    lock: threading.Lock = field(default_factory=threading.Lock)
    committed: int = 0
    synced: int = 0
    #: Each running sync: the ``committed`` it started at, and the event set when it ends
    #: (a waiter sleeps on one sync's event, so an ending sync wakes only its own waiters).
    running: list[tuple[int, threading.Event]] = field(default_factory=list)
    wal: tuple[int, int] | None = None  # (descriptor, inode) of the write-ahead log


class SqliteRegistry:
    """A registry in one SQLite file: WAL journal, ``BEGIN IMMEDIATE`` writes, busy timeout.

    Many threads and processes may issue at once: writers queue on SQLite's lock for up
    to ``busy_timeout`` seconds, then get :class:`~esign.errors.RegistryBusyError` with a
    suggested (jittered) ``retry_after``.

    ``durable=True`` (the default): every write returns only after its commit is on disk,
    so an issued certificate survives a crash or a power cut the moment ``issue`` returns.
    SQLite runs with ``synchronous=NORMAL`` (it syncs around checkpoints only) and the
    registry itself syncs the write-ahead log (``fdatasync``) after each commit, once
    SQLite's write lock is released: the same guarantee as ``synchronous=FULL`` (which
    syncs the same file at the same point, but while holding the lock), except that the
    syncs of concurrent writers (threads, and processes on the same file) overlap instead of
    queueing one behind another, and one sync covers every commit made before it began.
    ``durable=False`` skips that sync: a process crash loses nothing (the data is in the
    kernel), a power cut may lose the last commits.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout: float = 5.0,
        retry_after: float = 0.5,
        durable: bool = True,
    ) -> None:
        self.path = os.fspath(path)
        self.busy_timeout = busy_timeout
        self.retry_after = retry_after
        self.durable = durable
        self._local = threading.local()
        self._groups: dict[int, _GroupCommit] = {}
        self._groups_lock = threading.Lock()
        self._syncs: dict[int, _Syncs] = {}
        self._connect()  # creates the file and the schema, or fails now with a named error

    # -- connections and transactions ------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and getattr(self._local, "pid", None) == os.getpid():
            return conn
        try:
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL: SQLite syncs around checkpoints; commits are synced by _durable.
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise self._translate(exc, "open") from exc
        self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def _translate(self, exc: sqlite3.Error, what: str) -> RegistryError:
        message = str(exc).lower()
        jitter = self.retry_after * (1 + random.random())
        if "locked" in message or "busy" in message:
            return RegistryBusyError(
                f"the certificate registry is busy ({what}): too many requests at once",
                retry_after=round(jitter, 2),
            )
        return RegistryUnavailableError(
            f"the certificate registry {self.path!r} is unavailable ({what}: {exc})",
            retry_after=round(4 * jitter, 2),
        )

    def _write(self, what: str, body: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``body(conn)`` in one ``BEGIN IMMEDIATE`` transaction; all or nothing."""
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._translate(exc, what) from exc
        try:
            result = body(conn)
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.IntegrityError):
                raise SerialInUseError("a serial number is already recorded") from exc
            if isinstance(exc, sqlite3.Error):
                raise self._translate(exc, what) from exc
            raise
        self._durable(self._committed(), what)
        return result

    # -- durability ---------------------------------------------------------------------------

    def _sync_state(self) -> _Syncs:
        """This process's sync bookkeeping (a forked child starts its own)."""
        state = self._syncs.get(os.getpid())
        if state is None:
            with self._groups_lock:
                state = self._syncs.setdefault(os.getpid(), _Syncs())
        return state

    def _committed(self) -> int:
        """Number the commit that just returned (call right after ``COMMIT``)."""
        state = self._sync_state()
        with state.lock:
            state.committed += 1
            return state.committed

    def _durable(self, seq: int, what: str) -> None:
        """Return once commit ``seq`` of this process is on disk.

        Joins a running sync that began after the commit; otherwise starts one, even
        while older syncs still run (they overlap in the kernel instead of queueing).
        """
        if not self.durable or self.path == ":memory:":
            return
        state = self._sync_state()
        while True:
            with state.lock:
                if state.synced >= seq:
                    return
                covering = next((e for start, e in state.running if start >= seq), None)
                if covering is None:
                    mine = (state.committed, threading.Event())
                    state.running.append(mine)
                    break
            covering.wait()  # then look again: that sync may have failed
        try:
            self._sync_files(state)
        except OSError as exc:
            raise RegistryUnavailableError(
                f"the certificate registry {self.path!r} could not be synced to disk"
                f" ({what}: {exc})",
                retry_after=round(4 * self.retry_after, 2),
            ) from exc
        else:
            with state.lock:
                state.synced = max(state.synced, mine[0])
        finally:
            with state.lock:
                state.running.remove(mine)
            mine[1].set()

    def _sync_files(self, state: _Syncs) -> None:
        """``fdatasync`` the write-ahead log (SQLite's ``PATH-wal``), where commits land.

        The log keeps its inode while any connection is open (ours is); if it was
        checkpointed and removed, the commit is in the database file, which the
        checkpoint synced, and the file is synced once more all the same.
        """
        wal = self.path + "-wal"
        try:
            inode = os.stat(wal).st_ino
        except FileNotFoundError:
            fd = os.open(self.path, _SYNC_FLAGS)
            try:
                _datasync(fd)
            finally:
                os.close(fd)
            return
        with state.lock:
            cached = state.wal
            if cached is None or cached[1] != inode:
                if cached is not None:
                    _retired_fds.append(cached[0])  # a sync may still be using it
                state.wal = cached = (os.open(wal, _SYNC_FLAGS), inode)
        _datasync(cached[0])

    def _read(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            return list(self._connect().execute(sql, params).fetchall())
        except sqlite3.Error as exc:
            raise self._translate(exc, "read") from exc

    # -- the Registry interface -------------------------------------------------------------

    def bind(self, issuer: x509.Certificate) -> None:
        fp = _fingerprint(issuer)

        def body(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT value FROM meta WHERE key='issuer'").fetchone()
            if row is None:
                conn.execute("INSERT INTO meta VALUES ('issuer', ?)", (fp,))
            elif row[0] != fp:
                raise RegistryError(f"{self.path} is the registry of another CA")

        self._write("bind", body)

    def add(self, record: IssuedRecord, *, revoke: Revocation | None = None) -> None:
        """Record one certificate, durably, sharing the commit with concurrent callers.

        Group commit: the first caller to find no commit under way becomes the leader and
        writes every pending record of this process in one transaction; a taken serial
        fails only its own caller. Once it committed, the lead passes to the first caller
        that arrived meanwhile, and the leader syncs the log (one sync for the group,
        overlapping the next group's write and sync) before it wakes its group. Each
        waiter sleeps on its own event, so a group wakes only its own callers.
        """
        item = _Pending(record, revoke)
        group = self._group()
        with group.lock:
            group.queue.append(item)
            lead = not group.busy
            group.busy = True
        if not lead:
            item.wake.wait()  # woken when committed and synced, or when handed the lead
        if not item.done:
            with group.lock:
                batch, group.queue = group.queue, []
            try:
                try:
                    self._commit_group(batch)
                finally:
                    with group.lock:
                        if group.queue:  # hand the lead to the first caller still waiting
                            group.queue[0].wake.set()
                        else:
                            group.busy = False
                # The next group writes while this one's sync runs.
                seq = max((other.seq for other in batch if other.error is None), default=0)
                if seq:
                    try:
                        self._durable(seq, "issue")
                    except BaseException as exc:  # no caller of the group may return
                        failed = exc
                        if not isinstance(exc, RegistryError):
                            failed = RegistryUnavailableError(
                                "the certificate registry's sync was interrupted",
                                retry_after=round(4 * self.retry_after, 2),
                            )
                        for other in batch:
                            other.error = other.error or failed
                        if failed is not exc:
                            raise
            finally:
                for other in batch:
                    if other is not item:
                        other.wake.set()
        if item.error is not None:
            raise item.error

    def _group(self) -> _GroupCommit:
        """This process's group-commit state (a forked child starts its own)."""
        group = self._groups.get(os.getpid())
        if group is None:
            with self._groups_lock:
                group = self._groups.setdefault(os.getpid(), _GroupCommit())
        return group

    def _commit_group(self, batch: list[_Pending]) -> None:
        """Write ``batch`` in one transaction; every item ends done, with or without error.

        The common case (new certificates, no taken serial) is one multi-row INSERT: every
        statement releases and retakes the GIL, and the leader retaking it behind busy
        issuer threads is what a group commit would otherwise spend its time on. A taken
        serial or a revocation falls back to one savepoint per item.
        """
        try:
            conn = self._connect()
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            self._fail_all(batch, self._translate(exc, "issue"))
            return
        except RegistryError as exc:
            self._fail_all(batch, exc)
            return
        if len(batch) <= _MAX_ROWS and all(item.revoke is None for item in batch):
            try:
                conn.execute(
                    "INSERT INTO certificates (serial, subject, profile, not_before, not_after,"
                    " der) VALUES " + ",".join(["(?, ?, ?, ?, ?, ?)"] * len(batch)),
                    [value for item in batch for value in _row(item.record)],
                )
                conn.execute("COMMIT")
                seq = self._committed()
            except sqlite3.IntegrityError:
                conn.execute("ROLLBACK")  # a taken serial: redo item by item, below
            except BaseException as exc:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                error = self._translate(exc, "issue") if isinstance(exc, sqlite3.Error) else exc
                self._fail_all(batch, error)
                if not isinstance(exc, Exception):
                    raise
                return
            else:
                for item in batch:
                    item.done, item.seq = True, seq
                return
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                self._fail_all(batch, self._translate(exc, "issue"))
                return
        try:
            for item in batch:
                conn.execute("SAVEPOINT item")
                try:
                    if item.revoke is not None:
                        self._revoke_in(conn, item.revoke)
                    conn.execute(
                        "INSERT INTO certificates"
                        " (serial, subject, profile, not_before, not_after, der)"
                        " VALUES (?, ?, ?, ?, ?, ?)",
                        _row(item.record),
                    )
                except (sqlite3.IntegrityError, RegistryError) as exc:
                    conn.execute("ROLLBACK TO item")
                    item.error = (
                        SerialInUseError(f"serial {item.record.serial:x} is already recorded")
                        if isinstance(exc, sqlite3.IntegrityError)
                        else exc
                    )
                conn.execute("RELEASE item")
            conn.execute("COMMIT")
            seq = self._committed()
        except BaseException as exc:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            error = self._translate(exc, "issue") if isinstance(exc, sqlite3.Error) else exc
            self._fail_all(batch, error)
            if not isinstance(exc, Exception):
                raise
            return
        for item in batch:
            item.done, item.seq = True, seq

    @staticmethod
    def _fail_all(batch: list[_Pending], error: BaseException) -> None:
        for item in batch:
            item.error = item.error or error
            item.done = True

    def add_many(self, records: Sequence[IssuedRecord]) -> None:
        rows = [_row(r) for r in records]

        def body(conn: sqlite3.Connection) -> None:
            taken: set[int] = set()
            for start in range(0, len(rows), 500):
                chunk = [row[0] for row in rows[start : start + 500]]
                marks = ",".join("?" * len(chunk))
                found = conn.execute(
                    f"SELECT serial FROM certificates WHERE serial IN ({marks})", chunk
                ).fetchall()
                taken.update(int(s, 16) for (s,) in found)
            if taken:
                raise SerialInUseError("serial numbers already recorded", frozenset(taken))
            conn.executemany(
                "INSERT INTO certificates (serial, subject, profile, not_before, not_after, der)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )

        self._write("issue", body)

    def _revoke_in(self, conn: sqlite3.Connection, revocation: Revocation) -> None:
        row = conn.execute(
            "SELECT revoked_at FROM certificates WHERE serial = ?", (f"{revocation.serial:x}",)
        ).fetchone()
        if row is None:
            raise CertificateNotFoundError(f"no certificate with serial {revocation.serial:x}")
        if row[0] is not None:
            raise RegistryError(f"certificate {revocation.serial:x} is already revoked")
        (last,) = conn.execute("SELECT COALESCE(MAX(number), 0) FROM crls").fetchone()
        conn.execute(
            "UPDATE certificates SET revoked_at = ?, reason = ?, invalidity_date = ?,"
            " after_crl = ? WHERE serial = ?",
            (
                _ts(revocation.at),
                revocation.reason.value,
                _ts(revocation.invalidity_date),
                last,
                f"{revocation.serial:x}",
            ),
        )

    def get(self, serial: int) -> IssuedRecord | None:
        rows = self._read("SELECT * FROM certificates WHERE serial = ?", (f"{serial:x}",))
        return self._record(rows[0]) if rows else None

    @staticmethod
    def _record(row: tuple[Any, ...]) -> IssuedRecord:
        serial, subject, profile, nb, na, der, revoked_at, reason, invalidity, after = row
        return IssuedRecord(
            serial=int(str(serial), 16),
            subject=str(subject),
            profile=str(profile),
            not_before=datetime.datetime.fromisoformat(nb),
            not_after=datetime.datetime.fromisoformat(na),
            der=bytes(der),
            revoked_at=_dt(revoked_at),
            reason=None if reason is None else x509.ReasonFlags(reason),
            invalidity_date=_dt(invalidity),
            after_crl=after,
        )

    def revoke(self, revocation: Revocation) -> IssuedRecord:
        self._write("revoke", lambda conn: self._revoke_in(conn, revocation))
        record = self.get(revocation.serial)
        assert record is not None
        return record

    def revoked(self, *, after_crl: int | None = None) -> list[IssuedRecord]:
        if after_crl is None:
            rows = self._read("SELECT * FROM certificates WHERE revoked_at IS NOT NULL")
        else:
            rows = self._read(
                "SELECT * FROM certificates WHERE revoked_at IS NOT NULL AND after_crl >= ?",
                (after_crl,),
            )
        return sorted((self._record(r) for r in rows), key=lambda r: r.serial)

    def next_crl_number(self, this_update: datetime.datetime, *, delta_base: int | None) -> int:
        def body(conn: sqlite3.Connection) -> int:
            (number,) = conn.execute("SELECT COALESCE(MAX(number), 0) + 1 FROM crls").fetchone()
            conn.execute(
                "INSERT INTO crls VALUES (?, ?, ?)", (number, _ts(this_update), delta_base)
            )
            return int(number)

        return self._write("crl", body)

    def last_complete_crl(self) -> int | None:
        rows = self._read("SELECT MAX(number) FROM crls WHERE delta_base IS NULL")
        value = rows[0][0]
        return None if value is None else int(str(value))

    def count(self) -> int:
        return int(str(self._read("SELECT COUNT(*) FROM certificates")[0][0]))

    def records(self) -> Iterator[IssuedRecord]:
        return iter(
            sorted(
                (self._record(r) for r in self._read("SELECT * FROM certificates")),
                key=lambda r: r.serial,
            )
        )

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


class PostgresRegistry:
    """A registry in PostgreSQL, shared by CA processes on many hosts.

    Serial numbers are the primary key, so a duplicate is refused by the server whatever
    the number of issuers; revocations lock their row (``SELECT ... FOR UPDATE``) and
    take the ``crl`` advisory lock that CRL numbering takes too, so a revocation and a
    CRL are ordered exactly as in SQLite. Lock waits beyond ``busy_timeout`` become
    :class:`~esign.errors.RegistryBusyError` with ``retry_after``. The tables live in the
    connection's first ``search_path`` schema: one CA per schema
    (``?options=-csearch_path%3DNAME`` in the URL).
    """

    def __init__(
        self,
        url: str,
        *,
        busy_timeout: float = 5.0,
        retry_after: float = 0.5,
        durable: bool = True,
    ) -> None:
        from esign.sqlstore import Database, StoreLocation

        location = StoreLocation.parse(url)
        self.url = location.url
        self._db = Database(
            location,
            schema=_SCHEMA,
            busy_timeout=busy_timeout,
            retry_after=retry_after,
            durable=durable,
            name="certificate registry",
        )

    def _write(self, what: str) -> contextlib.AbstractContextManager[Any]:
        return self._db.transaction(what)

    def bind(self, issuer: x509.Certificate) -> None:
        fp = _fingerprint(issuer)
        with self._write("bind") as tx:
            tx.lock("esign-registry-bind")
            row = tx.execute("SELECT value FROM meta WHERE key = 'issuer'").fetchone()
            if row is None:
                tx.execute("INSERT INTO meta VALUES ('issuer', ?)", (fp,))
            elif row[0] != fp:
                raise RegistryError(f"{self._db.location.redacted()} is the registry of another CA")

    def add(self, record: IssuedRecord, *, revoke: Revocation | None = None) -> None:
        from esign.sqlstore import DuplicateKeyError

        try:
            with self._write("issue") as tx:
                if revoke is not None:
                    self._revoke_in(tx, revoke)
                tx.execute(
                    "INSERT INTO certificates (serial, subject, profile, not_before, not_after,"
                    " der) VALUES (?, ?, ?, ?, ?, ?)",
                    _row(record),
                )
        except DuplicateKeyError:
            raise SerialInUseError(f"serial {record.serial:x} is already recorded") from None

    def add_many(self, records: Sequence[IssuedRecord]) -> None:
        rows = [_row(r) for r in records]
        with self._write("issue") as tx:
            taken: set[int] = set()
            for row in rows:
                inserted = tx.execute(
                    "INSERT INTO certificates (serial, subject, profile, not_before, not_after,"
                    " der) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (serial) DO NOTHING",
                    row,
                ).rowcount
                if inserted != 1:
                    taken.add(int(row[0], 16))
            if taken:  # raising rolls back the rows inserted before: all or none
                raise SerialInUseError("serial numbers already recorded", frozenset(taken))

    def _revoke_in(self, tx: Any, revocation: Revocation) -> None:
        tx.lock("esign-registry-crl")
        row = tx.execute(
            "SELECT revoked_at FROM certificates WHERE serial = ? FOR UPDATE",
            (f"{revocation.serial:x}",),
        ).fetchone()
        if row is None:
            raise CertificateNotFoundError(f"no certificate with serial {revocation.serial:x}")
        if row[0] is not None:
            raise RegistryError(f"certificate {revocation.serial:x} is already revoked")
        (last,) = tx.execute("SELECT COALESCE(MAX(number), 0) FROM crls").fetchone()
        tx.execute(
            "UPDATE certificates SET revoked_at = ?, reason = ?, invalidity_date = ?,"
            " after_crl = ? WHERE serial = ?",
            (
                _ts(revocation.at),
                revocation.reason.value,
                _ts(revocation.invalidity_date),
                int(last),
                f"{revocation.serial:x}",
            ),
        )

    def get(self, serial: int) -> IssuedRecord | None:
        rows = self._db.read(
            f"SELECT {_COLUMNS} FROM certificates WHERE serial = ?", (f"{serial:x}",)
        )
        return SqliteRegistry._record(rows[0]) if rows else None

    def revoke(self, revocation: Revocation) -> IssuedRecord:
        with self._write("revoke") as tx:
            self._revoke_in(tx, revocation)
        record = self.get(revocation.serial)
        assert record is not None
        return record

    def revoked(self, *, after_crl: int | None = None) -> list[IssuedRecord]:
        if after_crl is None:
            rows = self._db.read(
                f"SELECT {_COLUMNS} FROM certificates WHERE revoked_at IS NOT NULL"
            )
        else:
            rows = self._db.read(
                f"SELECT {_COLUMNS} FROM certificates"
                " WHERE revoked_at IS NOT NULL AND after_crl >= ?",
                (after_crl,),
            )
        return sorted((SqliteRegistry._record(r) for r in rows), key=lambda r: r.serial)

    def next_crl_number(self, this_update: datetime.datetime, *, delta_base: int | None) -> int:
        with self._write("crl") as tx:
            tx.lock("esign-registry-crl")
            (number,) = tx.execute("SELECT COALESCE(MAX(number), 0) + 1 FROM crls").fetchone()
            tx.execute(
                "INSERT INTO crls VALUES (?, ?, ?)", (int(number), _ts(this_update), delta_base)
            )
            return int(number)

    def last_complete_crl(self) -> int | None:
        value = self._db.read("SELECT MAX(number) FROM crls WHERE delta_base IS NULL")[0][0]
        return None if value is None else int(value)

    def count(self) -> int:
        return int(self._db.read("SELECT COUNT(*) FROM certificates")[0][0])

    def records(self) -> Iterator[IssuedRecord]:
        rows = self._db.read(f"SELECT {_COLUMNS} FROM certificates")
        return iter(sorted((SqliteRegistry._record(r) for r in rows), key=lambda r: r.serial))

    def close(self) -> None:
        self._db.close()


_COLUMNS = (
    "serial, subject, profile, not_before, not_after, der, revoked_at, reason,"
    " invalidity_date, after_crl"
)


def open_registry(
    url: str | os.PathLike[str], *, busy_timeout: float = 5.0, durable: bool = True
) -> SqliteRegistry | PostgresRegistry:
    """The registry at ``url``: ``sqlite:///PATH`` (or a bare path) or ``postgresql://...``."""
    from esign.sqlstore import SQLITE, StoreLocation

    location = StoreLocation.parse(url)
    if location.dialect == SQLITE:
        return SqliteRegistry(location.target, busy_timeout=busy_timeout, durable=durable)
    return PostgresRegistry(location.target, busy_timeout=busy_timeout, durable=durable)
