"""The hosted key vault: "keep the key in the service", unlocked only by the user's password.

Each private key is stored as its PKCS#8 DER sealed with AES-256-GCM under a key derived
from the user's password with Argon2id (RFC 9106; ``cryptography``'s implementation,
default t=3, p=4, m=64 MiB, the RFC's second recommended option), with a fresh salt and
nonce. The row's identity (key id, algorithm, public key, KDF parameters) is the GCM
associated data, so rows cannot be swapped or their parameters weakened unnoticed. An
optional server-side ``pepper`` (Argon2's secret input) keeps a stolen database useless
without the service's configuration.

Unlocking checks the password; after ``max_attempts`` wrong passwords (default 3) the key
is locked for ``lockout`` (default 24 hours), during which even the right password is
refused without being tried. The counter is updated in the same write transaction as the
check, under a lock on the key (SQLite's write lock, or a PostgreSQL advisory lock), so
concurrent guesses from any number of processes cannot overrun it.

The vault lives in SQLite (a path, ``sqlite:///PATH`` or ``":memory:"``) or PostgreSQL
(``postgresql://...``, the ``esign[postgres]`` extra); see :mod:`esign.sqlstore`.

There is no export and no "reset password" that keeps the key: a forgotten password means
the certificate is revoked and a new key made.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from esign.errors import (
    KeyLockedError,
    KeyNotFoundError,
    KeyStorageError,
    PasswordRequiredError,
    RegistryError,
    WrongPasswordError,
)
from esign.keys.algorithms import PrivateKey, PublicKey, algorithm_name, generate_key
from esign.keys.handle import LocalKey
from esign.keys.storage import parse_key
from esign.sqlstore import Database, DuplicateKeyError, StoreLocation, Transaction

Clock = Callable[[], datetime.datetime]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS esign_vault_keys (
    key_id TEXT PRIMARY KEY,
    algorithm TEXT NOT NULL,
    public_key BLOB NOT NULL,
    kdf TEXT NOT NULL,
    iterations INTEGER NOT NULL,
    lanes INTEGER NOT NULL,
    memory_cost INTEGER NOT NULL,
    salt BLOB NOT NULL,
    nonce BLOB NOT NULL,
    ciphertext BLOB NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT,
    created_at TEXT NOT NULL
)
"""


_COLUMNS = (
    "key_id",
    "algorithm",
    "public_key",
    "iterations",
    "lanes",
    "memory_cost",
    "salt",
    "nonce",
    "ciphertext",
    "failed_attempts",
    "locked_until",
)


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


@dataclass(frozen=True)
class Argon2Params:
    """Argon2id cost: ``memory_cost`` in KiB (default RFC 9106 option 2: t=3, p=4, 64 MiB)."""

    iterations: int = 3
    lanes: int = 4
    memory_cost: int = 64 * 1024


@dataclass(frozen=True)
class VaultKeyStatus:
    """What the vault may tell about a key without its password."""

    key_id: str
    algorithm: str
    failed_attempts: int
    attempts_left: int
    locked_until: datetime.datetime | None


class KeyVault:
    """Private keys held by the service, each sealed under its owner's password.

    ``path`` is an SQLite file, ``":memory:"`` or a store URL (``postgresql://...``);
    ``clock`` returns an aware UTC time and is there so lockout can be tested. When the
    store stays locked longer than ``busy_timeout`` seconds the call raises
    :class:`~esign.errors.RegistryBusyError` (retry after ``retry_after``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = ":memory:",
        *,
        max_attempts: int = 3,
        lockout: datetime.timedelta = datetime.timedelta(hours=24),
        clock: Clock | None = None,
        kdf: Argon2Params | None = None,
        pepper: bytes | None = None,
        busy_timeout: float = 30.0,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.max_attempts = max_attempts
        self.lockout = lockout
        self._clock = clock or _utc_now
        self._kdf = kdf or Argon2Params()
        self._pepper = pepper
        where = StoreLocation.parse(path)
        # for repr: a path as given, a server URL without its password
        self._location = where.redacted() if where.dialect != "sqlite" else os.fspath(path)
        try:
            self._db = Database(
                StoreLocation.parse(path),
                schema=_SCHEMA,
                busy_timeout=busy_timeout,
                name="key vault",
            )
        except RegistryError as exc:
            raise KeyStorageError(f"cannot open the key vault {os.fspath(path)!r}: {exc}") from exc

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> KeyVault:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- keys ------------------------------------------------------------------------------

    def create_key(self, key_id: str, algorithm: str, password: str | bytes) -> PublicKey:
        """Generate a key inside the vault; only its public key comes out."""
        return self.import_key(key_id, generate_key(algorithm), password)

    def import_key(self, key_id: str, key: PrivateKey, password: str | bytes) -> PublicKey:
        """Seal an existing private key under ``password``; the caller should then drop it."""
        pw = _password(password)
        if not key_id:
            raise ValueError("a vault key needs a non-empty id")
        algorithm = algorithm_name(key)
        public = key.public_key()
        spki = _spki(public)
        row = self._seal(key_id, algorithm, spki, key, pw)
        try:
            with self._db.transaction("import") as tx:
                tx.execute(
                    "INSERT INTO esign_vault_keys (key_id, algorithm, public_key, kdf, iterations,"
                    " lanes, memory_cost, salt, nonce, ciphertext, failed_attempts, locked_until,"
                    " created_at) VALUES (?, ?, ?, 'argon2id', ?, ?, ?, ?, ?, ?, 0, NULL, ?)",
                    (key_id, algorithm, spki, *row, self._clock().isoformat()),
                )
        except DuplicateKeyError:
            raise KeyStorageError(f"the vault already holds a key {key_id!r}") from None
        return public

    def unlock(self, key_id: str, password: str | bytes) -> VaultKey:
        """Check the password and return a handle that can use the key.

        Raises :class:`KeyLockedError` while the key is locked (the password is then not
        even tried), :class:`WrongPasswordError` with the attempts left otherwise.
        """
        pw = _password(password)
        # A refusal is a decision: the counted attempt commits before the error propagates.
        with self._db.transaction("unlock", keep=(KeyStorageError,)) as tx:
            key = self._unlock_locked(tx, key_id, pw)
        return VaultKey(key_id, key)

    def _unlock_locked(self, tx: Transaction, key_id: str, pw: bytes) -> PrivateKey:
        tx.lock(f"esign-vault:{key_id}")
        row = self._row(tx, key_id)
        now = self._clock()
        failed = int(row["failed_attempts"])
        locked_until = _parse_time(row["locked_until"])
        if locked_until is not None:
            if now < locked_until:
                raise KeyLockedError(
                    f"key {key_id!r} is locked after {self.max_attempts} wrong passwords"
                    f" until {locked_until.isoformat()}",
                    locked_until,
                )
            failed = 0
            tx.execute(
                "UPDATE esign_vault_keys SET failed_attempts = 0, locked_until = NULL"
                " WHERE key_id = ?",
                (key_id,),
            )
        try:
            plain = self._open(row, pw)
        except InvalidTag:
            failed += 1
            if failed >= self.max_attempts:
                until = now + self.lockout
                tx.execute(
                    "UPDATE esign_vault_keys SET failed_attempts = ?, locked_until = ?"
                    " WHERE key_id = ?",
                    (failed, until.isoformat(), key_id),
                )
                raise KeyLockedError(
                    f"wrong password; key {key_id!r} is now locked until {until.isoformat()}",
                    until,
                ) from None
            tx.execute(
                "UPDATE esign_vault_keys SET failed_attempts = ? WHERE key_id = ?",
                (failed, key_id),
            )
            left = self.max_attempts - failed
            raise WrongPasswordError(
                f"wrong password for key {key_id!r}; {left} attempt{'s' if left != 1 else ''} left"
            ) from None
        if failed:
            tx.execute(
                "UPDATE esign_vault_keys SET failed_attempts = 0 WHERE key_id = ?", (key_id,)
            )
        return parse_key(plain, None)

    def change_password(self, key_id: str, old: str | bytes, new: str | bytes) -> None:
        """Re-seal a key under a new password; the old one must be right (and counts)."""
        new_pw = _password(new)
        handle = self.unlock(key_id, old)
        row = self._seal(
            key_id,
            handle.algorithm,
            _spki(handle.public_key()),
            handle._handle().private_key,
            new_pw,
        )
        with self._db.transaction("change password") as tx:
            tx.execute(
                "UPDATE esign_vault_keys SET iterations = ?, lanes = ?, memory_cost = ?,"
                " salt = ?, nonce = ?, ciphertext = ? WHERE key_id = ?",
                (*row, key_id),
            )
        handle.close()

    def delete_key(self, key_id: str) -> None:
        """Destroy a key (what a forgotten password leads to, with revocation)."""
        with self._db.transaction("delete") as tx:
            deleted = tx.execute(
                "DELETE FROM esign_vault_keys WHERE key_id = ?", (key_id,)
            ).rowcount
        if deleted == 0:
            raise KeyNotFoundError(f"no key {key_id!r} in the vault")

    def public_key(self, key_id: str) -> PublicKey:
        """The public key of a stored key (no password needed)."""
        return _load_spki(self._row(None, key_id)["public_key"])

    def __repr__(self) -> str:
        ids = self.key_ids()
        shown = ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
        return f"<KeyVault {self._location!r}: {len(ids)} key(s) [{shown}]>"

    def key_ids(self) -> list[str]:
        rows = self._db.read("SELECT key_id FROM esign_vault_keys ORDER BY key_id")
        return [str(r[0]) for r in rows]

    def status(self, key_id: str) -> VaultKeyStatus:
        """Attempts used and lock state, as of the vault's clock."""
        row = self._row(None, key_id)
        locked_until = _parse_time(row["locked_until"])
        failed = int(row["failed_attempts"])
        if locked_until is not None and self._clock() >= locked_until:
            locked_until, failed = None, 0
        return VaultKeyStatus(
            key_id=key_id,
            algorithm=str(row["algorithm"]),
            failed_attempts=failed,
            attempts_left=0 if locked_until else self.max_attempts - failed,
            locked_until=locked_until,
        )

    # -- sealing ---------------------------------------------------------------------------

    def _derive(self, pw: bytes, salt: bytes, params: Argon2Params) -> bytes:
        return Argon2id(
            salt=salt,
            length=32,
            iterations=params.iterations,
            lanes=params.lanes,
            memory_cost=params.memory_cost,
            secret=self._pepper,
        ).derive(pw)

    @staticmethod
    def _aad(key_id: str, algorithm: str, spki: bytes, params: Argon2Params) -> bytes:
        fields = [
            b"esign-vault-v1",
            key_id.encode("utf-8"),
            algorithm.encode("ascii"),
            spki,
            f"argon2id:t={params.iterations},p={params.lanes},m={params.memory_cost}".encode(),
        ]
        return b"".join(len(f).to_bytes(4, "big") + f for f in fields)

    def _seal(
        self, key_id: str, algorithm: str, spki: bytes, key: PrivateKey, pw: bytes
    ) -> tuple[int, int, int, bytes, bytes, bytes]:
        params = self._kdf
        salt, nonce = os.urandom(16), os.urandom(12)
        plain = key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        kek = self._derive(pw, salt, params)
        ciphertext = AESGCM(kek).encrypt(nonce, plain, self._aad(key_id, algorithm, spki, params))
        return params.iterations, params.lanes, params.memory_cost, salt, nonce, ciphertext

    def _open(self, row: dict[str, Any], pw: bytes) -> bytes:
        params = Argon2Params(int(row["iterations"]), int(row["lanes"]), int(row["memory_cost"]))
        kek = self._derive(pw, bytes(row["salt"]), params)
        aad = self._aad(str(row["key_id"]), str(row["algorithm"]), bytes(row["public_key"]), params)
        plain: bytes = AESGCM(kek).decrypt(bytes(row["nonce"]), bytes(row["ciphertext"]), aad)
        return plain

    def _row(self, tx: Transaction | None, key_id: str) -> dict[str, Any]:
        """A key's row by column name, inside ``tx`` or as a plain read."""
        sql = f"SELECT {', '.join(_COLUMNS)} FROM esign_vault_keys WHERE key_id = ?"
        if tx is None:
            rows = self._db.read(sql, (key_id,))
            found = rows[0] if rows else None
        else:
            found = tx.execute(sql, (key_id,)).fetchone()
        if found is None:
            raise KeyNotFoundError(f"no key {key_id!r} in the vault")
        return dict(zip(_COLUMNS, found, strict=True))


class VaultKey:
    """An unlocked vault key: a :class:`KeyHandle` that never hands out the private key.

    ``close()`` (or leaving a ``with`` block) drops the decrypted key from this handle.
    """

    def __init__(self, key_id: str, key: PrivateKey) -> None:
        self.key_id = key_id
        self._local: LocalKey | None = LocalKey(key)
        self._algorithm = self._local.algorithm

    def __repr__(self) -> str:
        return f"VaultKey({self.key_id!r}, {self._algorithm})"

    def _handle(self) -> LocalKey:
        if self._local is None:
            raise KeyStorageError("this vault key handle was closed: unlock the key again")
        return self._local

    @property
    def algorithm(self) -> str:
        return self._algorithm

    def public_key(self) -> PublicKey:
        return self._handle().public_key()

    def sign(self, data: bytes, *, digest: str = "sha256", scheme: str | None = None) -> bytes:
        return self._handle().sign(data, digest=digest, scheme=scheme)

    def decrypt(
        self,
        ciphertext: bytes,
        *,
        digest: str = "sha256",
        mgf_digest: str | None = None,
        label: bytes | None = None,
    ) -> bytes:
        return self._handle().decrypt(ciphertext, digest=digest, mgf_digest=mgf_digest, label=label)

    def exchange(self, peer: PublicKey) -> bytes:
        return self._handle().exchange(peer)

    def decapsulate(self, ciphertext: bytes) -> bytes:
        return self._handle().decapsulate(ciphertext)

    def close(self) -> None:
        self._local = None

    def __enter__(self) -> VaultKey:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _password(password: str | bytes) -> bytes:
    pw = password.encode("utf-8") if isinstance(password, str) else password
    if not pw:
        raise PasswordRequiredError("the password must not be empty")
    return pw


def _spki(public: PublicKey) -> bytes:
    return public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _load_spki(der: bytes) -> PublicKey:
    key = serialization.load_der_public_key(bytes(der))
    return key  # type: ignore[return-value]


def _parse_time(value: str | None) -> datetime.datetime | None:
    return None if value is None else datetime.datetime.fromisoformat(value)
