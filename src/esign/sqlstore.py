"""One SQL store behind a URL: SQLite (a file on this host) or PostgreSQL (a shared server).

The CA registry, the key vault and the credential store keep their state through
:class:`Database`, so each of them runs on either engine with the same transactions:

* ``sqlite:///relative/path``, ``sqlite:////absolute/path``, a bare path, or
  ``":memory:"``: one SQLite file, writers serialised by ``BEGIN IMMEDIATE``.
* ``postgresql://user@host:port/db?options=-csearch_path%3Dschema`` (or ``postgres://``):
  a PostgreSQL server through psycopg 3 (``pip install esign[postgres]``). Writers take
  row locks or transaction-scoped advisory locks (:meth:`Transaction.lock`), so counters
  and serial numbers stay exact with many processes on many hosts.

Waiting for a lock longer than ``busy_timeout`` seconds, a serialization failure or a
deadlock surfaces as :class:`~esign.errors.RegistryBusyError` with a jittered
``retry_after``; an unreachable server as :class:`~esign.errors.RegistryUnavailableError`.
Nothing is half-written in either case: the transaction is rolled back.
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from esign.errors import RegistryBusyError, RegistryError, RegistryUnavailableError

SQLITE = "sqlite"
POSTGRES = "postgresql"


#: Connections inherited over fork, kept alive so they are never closed from the child.
_INHERITED: list[Any] = []


class DuplicateKeyError(Exception):
    """A unique key already exists (internal: each store turns it into its own error)."""


@dataclass(frozen=True)
class StoreLocation:
    """Where a store lives: ``dialect`` and the SQLite path or PostgreSQL conninfo URL."""

    dialect: str
    target: str

    @classmethod
    def parse(cls, url: str | os.PathLike[str]) -> StoreLocation:
        """Read ``sqlite:///path``, ``postgresql://...`` or a bare SQLite path."""
        text = os.fspath(url)
        if text.startswith(("postgresql://", "postgres://")):
            return cls(POSTGRES, text)
        if text.startswith("sqlite:"):
            rest = text[len("sqlite:") :]
            if rest in ("", "//", "///", "///:memory:"):
                return cls(SQLITE, ":memory:")
            if not rest.startswith("///"):
                raise RegistryError(f"a SQLite URL is sqlite:///PATH, not {text!r}")
            return cls(SQLITE, rest[3:])
        if "://" in text:
            raise RegistryError(
                f"unknown store URL {text!r}: use sqlite:///PATH or postgresql://..."
            )
        return cls(SQLITE, text)

    @property
    def url(self) -> str:
        """The canonical URL (what a CA folder records)."""
        if self.dialect == POSTGRES:
            return self.target
        if self.target == ":memory:":
            return "sqlite:///:memory:"
        return f"sqlite:///{self.target}"

    def redacted(self) -> str:
        """The URL without a password, for messages."""
        if self.dialect != POSTGRES:
            return self.url
        parts = urlsplit(self.target)
        if parts.password is None:
            return self.target
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()


class Cursor(Protocol):
    """The part of a DB-API cursor the stores use."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Transaction:
    """One open transaction: ``execute`` with ``?`` placeholders, ``lock`` a name."""

    def __init__(self, db: Database, conn: Any) -> None:
        self._db = db
        self._conn = conn

    @property
    def dialect(self) -> str:
        return self._db.dialect

    def execute(self, sql: str, params: Sequence[object] = ()) -> Cursor:
        if self._db.dialect == POSTGRES:
            sql = sql.replace("%", "%%").replace("?", "%s")
        return self._conn.execute(sql, tuple(params))  # type: ignore[no-any-return]

    def lock(self, name: str) -> None:
        """Hold ``name`` exclusively until the transaction ends.

        SQLite's ``BEGIN IMMEDIATE`` already excludes every other writer; PostgreSQL takes
        a transaction-scoped advisory lock, so unrelated names never wait for each other.
        """
        if self._db.dialect == POSTGRES:
            self._conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (name,))


class Database:
    """A connection per process (threads take turns), transactions and error mapping.

    ``schema`` is run once (under a lock, so processes starting together do not race);
    write it for SQLite: ``BLOB`` and ``REAL`` become ``BYTEA`` and ``DOUBLE PRECISION``
    on PostgreSQL.
    """

    def __init__(
        self,
        location: StoreLocation,
        *,
        schema: str,
        busy_timeout: float = 5.0,
        retry_after: float = 0.5,
        durable: bool = True,
        name: str = "store",
    ) -> None:
        self.location = location
        self.dialect = location.dialect
        self.busy_timeout = busy_timeout
        self.retry_after = retry_after
        self.durable = durable
        self.name = name
        self._schema = schema
        self._lock = threading.RLock()
        self._conn: Any = None
        self._pid = -1
        with self._lock:
            self._connection()  # fail now, with a named error, if the store cannot be opened

    # -- connections ---------------------------------------------------------------------

    def _connection(self) -> Any:
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        if self._conn is not None:
            # A forked child must never close its parent's connection (PostgreSQL would see
            # the goodbye on the shared socket): keep it referenced, open our own.
            _INHERITED.append(self._conn)
        try:
            conn = self._open_sqlite() if self.dialect == SQLITE else self._open_postgres()
        except (sqlite3.Error, OSError) as exc:
            raise self._translate(exc, "open") from exc
        except Exception as exc:  # psycopg's errors, when the extra is installed
            if _is_psycopg_error(exc):
                raise self._translate(exc, "open") from exc
            raise
        self._conn, self._pid = conn, os.getpid()
        return conn

    def _open_sqlite(self) -> sqlite3.Connection:
        path = self.location.target
        if path != ":memory:" and not os.path.exists(path):
            with contextlib.suppress(OSError):  # sqlite reports the real problem below
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        conn = sqlite3.connect(
            path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
        )
        if path != ":memory:":
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={'FULL' if self.durable else 'NORMAL'}")
        conn.executescript(self._schema)
        return conn

    def _open_postgres(self) -> Any:
        try:
            import psycopg
        except ImportError as exc:
            raise RegistryError(
                "PostgreSQL stores need psycopg 3: pip install 'esign[postgres]'"
            ) from exc
        conn = psycopg.connect(
            self.location.target,
            autocommit=True,
            connect_timeout=max(1, round(self.busy_timeout)),
        )
        conn.execute(f"SET lock_timeout = {int(self.busy_timeout * 1000)}")
        conn.execute(f"SET synchronous_commit = {'on' if self.durable else 'off'}")
        schema = self._schema.replace("BLOB", "BYTEA").replace("REAL", "DOUBLE PRECISION")
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('esign-schema', 0))")
            for statement in schema.split(";"):
                if statement.strip():
                    conn.execute(statement)
        return conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                with contextlib.suppress(Exception):
                    self._conn.close()
            elif self._conn is not None:
                _INHERITED.append(self._conn)
            self._conn = None

    # -- errors --------------------------------------------------------------------------

    def _translate(self, exc: BaseException, what: str) -> RegistryError:
        jitter = round(self.retry_after * (1 + random.random()), 2)
        where = self.location.redacted()
        if _is_busy(exc):
            return RegistryBusyError(
                f"the {self.name} is busy ({what}): too many requests at once",
                retry_after=jitter,
            )
        return RegistryUnavailableError(
            f"the {self.name} {where!r} is unavailable ({what}: {str(exc).strip()})",
            retry_after=round(4 * jitter, 2),
        )

    # -- transactions --------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(
        self, what: str, *, keep: tuple[type[BaseException], ...] = ()
    ) -> Iterator[Transaction]:
        """One write transaction: all or nothing.

        An exception of a class in ``keep`` is a decision, not a crash (a counted failed
        password): the transaction commits before it propagates.
        """
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE" if self.dialect == SQLITE else "BEGIN")
            except Exception as exc:
                raise self._mapped(exc, what) from exc
            try:
                yield Transaction(self, conn)
            except keep:
                self._finish(conn, "COMMIT", what)
                raise
            except BaseException as exc:
                self._finish(conn, "ROLLBACK", what, quiet=True)
                mapped = self._mapped(exc, what)
                if mapped is exc:
                    raise
                raise mapped from exc
            self._finish(conn, "COMMIT", what)

    def _finish(self, conn: Any, verb: str, what: str, *, quiet: bool = False) -> None:
        try:
            conn.execute(verb)
        except Exception as exc:
            self._drop_broken(conn)
            if not quiet:
                raise self._mapped(exc, what) from exc

    def _drop_broken(self, conn: Any) -> None:
        """Forget a PostgreSQL connection that failed (the next call reconnects)."""
        if self.dialect == POSTGRES and getattr(conn, "closed", False):
            self._conn = None

    def _mapped(self, exc: BaseException, what: str) -> BaseException:
        if isinstance(exc, sqlite3.IntegrityError) or _is_unique_violation(exc):
            return DuplicateKeyError(str(exc))
        if isinstance(exc, sqlite3.Error) or _is_psycopg_error(exc):
            if self._conn is not None:
                self._drop_broken(self._conn)
            return self._translate(exc, what)
        return exc

    def read(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        """A read outside any write transaction."""
        with self._lock:
            conn = self._connection()
            if self.dialect == POSTGRES:
                sql = sql.replace("%", "%%").replace("?", "%s")
            try:
                return [tuple(r) for r in conn.execute(sql, tuple(params)).fetchall()]
            except Exception as exc:
                mapped = self._mapped(exc, "read")
                if mapped is exc:
                    raise
                raise mapped from exc


def _is_psycopg_error(exc: BaseException) -> bool:
    return type(exc).__module__.startswith("psycopg") and isinstance(exc, Exception)


def _is_unique_violation(exc: BaseException) -> bool:
    return _is_psycopg_error(exc) and getattr(exc, "sqlstate", None) == "23505"


#: PostgreSQL states that mean "try again": serialization failure, deadlock, lock timeout.
_BUSY_STATES = frozenset({"40001", "40P01", "55P03"})


def _is_busy(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.OperationalError):
        message = str(exc).lower()
        return "locked" in message or "busy" in message
    return _is_psycopg_error(exc) and getattr(exc, "sqlstate", None) in _BUSY_STATES
