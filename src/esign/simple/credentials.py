"""Personal-account credentials behind simple signatures.

A simple signature proves only that an authenticated account approved something, so the
account's credentials are the whole of its strength. The policies are the ones the
design names, as configurable defaults in :class:`CredentialPolicy`: a password, one-time
codes (TOTP, RFC 6238), recovery by TIN + e-mail + control word (at most 24 characters),
3 wrong tries then locked for 24 hours, and a recovery link valid 12 hours, used once.

Nothing secret is stored in clear: passwords and control words as Argon2id PHC strings
(``cryptography``'s Argon2id, verified in constant time), recovery tokens as SHA-256 of a
256-bit random token, TOTP seeds encrypted with AES-256-GCM under the service's
``secret_key`` (a TOTP seed must be recoverable to check a code, so it cannot be hashed).

State lives in SQLite (a file path, ``sqlite:///PATH`` or ``":memory:"``) or PostgreSQL
(``postgresql://...``, the ``esign[postgres]`` extra): each check and its counter update
run in one transaction under a lock on the account, so concurrent guesses from many
processes are all counted. The clock is injectable.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import hmac
import os
import secrets
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidKey, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.twofactor import InvalidToken
from cryptography.hazmat.primitives.twofactor.totp import TOTP

from esign.errors import (
    AccountExistsError,
    AccountLockedError,
    AuthenticationError,
    CredentialError,
    CredentialPolicyError,
    RecoveryTokenError,
    RegistryError,
    UnsupportedAlgorithmError,
)
from esign.simple.validation import check_email, check_password, check_tin
from esign.sqlstore import Database, DuplicateKeyError, StoreLocation, Transaction

Clock = Callable[[], datetime.datetime]

PASSWORD = "password"
OTP = "otp"

_TOTP_HASHES: dict[str, type[hashes.SHA1 | hashes.SHA256 | hashes.SHA512]] = {
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha512": hashes.SHA512,
}


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


@dataclass(frozen=True)
class CredentialPolicy:
    """The account policy. Defaults are a tax portal's; Argon2id costs follow RFC 9106 §4
    (second recommended option: t=3, p=4, 64 MiB) — lower them only in tests."""

    max_failed_attempts: int = 3
    lockout: datetime.timedelta = datetime.timedelta(hours=24)
    recovery_link_ttl: datetime.timedelta = datetime.timedelta(hours=12)
    control_word_max_length: int = 24
    argon2_iterations: int = 3
    argon2_lanes: int = 4
    argon2_memory_kib: int = 64 * 1024
    otp_digits: int = 6
    otp_time_step: int = 30
    otp_algorithm: str = "sha1"  # what authenticator apps implement (RFC 6238 default)
    otp_window: int = 1  # time steps of clock drift accepted on either side (RFC 6238 §5.2)
    password_min_length: int = 8  # NIST SP 800-63B §5.1.1.2: at least 8 characters
    tin_format: str = "inn"  # "inn": Russian INN check digits; "any": any non-empty TIN

    def __post_init__(self) -> None:
        if self.max_failed_attempts < 1 or self.control_word_max_length < 1:
            raise ValueError("attempt limit and control-word length must be >= 1")
        if self.otp_algorithm not in _TOTP_HASHES:
            raise UnsupportedAlgorithmError(
                f"unknown TOTP algorithm {self.otp_algorithm!r}; known: {', '.join(_TOTP_HASHES)}"
            )
        if self.otp_digits not in (6, 7, 8) or self.otp_time_step < 1 or self.otp_window < 0:
            raise ValueError("TOTP: 6 to 8 digits, time step >= 1 s, window >= 0")
        if self.password_min_length < 1 or self.tin_format not in ("inn", "any"):
            raise CredentialPolicyError('password_min_length >= 1; tin_format "inn" or "any"')


@dataclass(frozen=True)
class Authentication:
    """A successful login: who, with which factors (``"password"``, ``"otp"``), when."""

    account: str
    factors: tuple[str, ...]
    at: datetime.datetime


@dataclass(frozen=True)
class OtpEnrollment:
    """A TOTP seed to hand to the user once (as a QR code of ``uri``)."""

    secret: bytes = field(repr=False)
    uri: str


@dataclass(frozen=True)
class RecoveryLink:
    """A single-use recovery token and when it stops working."""

    token: str = field(repr=False)
    expires: datetime.datetime


_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    tin TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL,
    control_word_hash TEXT NOT NULL,
    otp_secret BLOB,
    otp_last_counter INTEGER
);
CREATE TABLE IF NOT EXISTS attempts (
    subject TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    locked_until REAL
);
CREATE TABLE IF NOT EXISTS recovery_tokens (
    token_hash BLOB PRIMARY KEY,
    account TEXT NOT NULL,
    expires_at REAL NOT NULL,
    used INTEGER NOT NULL DEFAULT 0
);
"""


_SET_ATTEMPTS = (
    "INSERT INTO attempts (subject, failures, locked_until) VALUES (?, ?, ?)"
    " ON CONFLICT (subject) DO UPDATE"
    " SET failures = excluded.failures, locked_until = excluded.locked_until"
)


def _normalise(text: str) -> bytes:
    """NFC, so the same word typed on two keyboards hashes the same."""
    return unicodedata.normalize("NFC", text).encode("utf-8")


def _token_hash(token: str) -> bytes:
    # A 256-bit random token needs no slow hash: SHA-256 already makes the row useless.
    return hashlib.sha256(token.encode("ascii", "replace")).digest()


class CredentialStore:
    """Accounts, their credentials, failed-try counters and recovery links.

    ``database`` is an SQLite path, ``":memory:"`` or a store URL (``postgresql://...``).
    ``secret_key`` (32 bytes, held by the service, not in the database) encrypts the
    TOTP seeds. Every method is safe to call from several threads and processes; a
    store locked longer than ``busy_timeout`` seconds raises
    :class:`~esign.errors.RegistryBusyError`.
    """

    def __init__(
        self,
        database: str | Path = ":memory:",
        *,
        secret_key: bytes,
        policy: CredentialPolicy | None = None,
        clock: Clock = _utc_now,
        issuer: str = "esign",
        busy_timeout: float = 30.0,
    ) -> None:
        if len(secret_key) != 32:
            raise ValueError("secret_key must be 32 bytes (AES-256)")
        self.policy = policy or CredentialPolicy()
        self.clock = clock
        self.issuer = issuer
        self._aead = AESGCM(secret_key)
        try:
            self._db = Database(
                StoreLocation.parse(database),
                schema=_SCHEMA,
                busy_timeout=busy_timeout,
                name="credential store",
            )
        except RegistryError as exc:
            raise CredentialError(f"cannot open the credential store: {exc}") from exc
        # A dummy hash with the policy's costs, so an unknown account costs the same time.
        self._dummy_hash = self._hash("not a password")
        self._location = str(database)

    def __repr__(self) -> str:
        # Counts only: never a seed, a hash or a subject's secret.
        accounts = self._db.read("SELECT COUNT(*) FROM accounts")[0][0]
        return (
            f"<CredentialStore {self._location!r}: {accounts} account(s), issuer {self.issuer!r}>"
        )

    def close(self) -> None:
        self._db.close()

    @contextlib.contextmanager
    def _transaction(self, *locks: str) -> Iterator[Transaction]:
        """One transaction per operation, holding ``locks`` (names) until it ends.

        A refusal (any :class:`CredentialError`) is a decision, not a crash: what it
        recorded (a failed try, a used token) is committed before it propagates.
        """
        with self._db.transaction("credentials", keep=(CredentialError,)) as tx:
            for name in locks:
                tx.lock(f"esign-credentials:{name}")
            yield tx

    # --- hashing -----------------------------------------------------------------------

    def _kdf(self) -> Argon2id:
        p = self.policy
        return Argon2id(
            salt=os.urandom(16),
            length=32,
            iterations=p.argon2_iterations,
            lanes=p.argon2_lanes,
            memory_cost=p.argon2_memory_kib,
        )

    def _hash(self, secret: str) -> str:
        return self._kdf().derive_phc_encoded(_normalise(secret))

    @staticmethod
    def _matches(secret: str, phc: str) -> bool:
        """Constant-time check (cryptography compares the derived keys in constant time)."""
        try:
            Argon2id.verify_phc_encoded(_normalise(secret), phc)
        except InvalidKey:
            return False
        return True

    def _now(self) -> float:
        return self.clock().timestamp()

    def _check_control_word(self, control_word: str) -> None:
        limit = self.policy.control_word_max_length
        if not control_word or len(control_word) > limit:
            raise CredentialPolicyError(f"the control word must be 1 to {limit} characters")

    # --- registration ------------------------------------------------------------------

    def register(
        self, account: str, password: str, *, tin: str, email: str, control_word: str
    ) -> None:
        """Create an account; its password and control word are stored only as hashes.

        Refuses, before storing anything: an empty name, a password shorter than the
        policy's minimum (:class:`~esign.errors.WeakPasswordError`), a TIN whose check
        digits are wrong (:class:`~esign.errors.InvalidTinError`), an address that cannot
        receive a recovery link (:class:`~esign.errors.InvalidEmailError`), a control word
        that is empty or too long (:class:`~esign.errors.CredentialPolicyError`).
        """
        if not account:
            raise CredentialPolicyError("the account name must not be empty")
        check_password(password, self.policy.password_min_length)
        tin = check_tin(tin, self.policy.tin_format)
        email = check_email(email)
        self._check_control_word(control_word)
        row = (
            account,
            self._hash(password),
            tin.strip(),
            email.strip().lower(),
            self._hash(control_word),
        )
        try:
            with self._transaction() as tx:
                tx.execute(
                    "INSERT INTO accounts (name, password_hash, tin, email, control_word_hash)"
                    " VALUES (?, ?, ?, ?, ?)",
                    row,
                )
        except DuplicateKeyError as exc:
            raise AccountExistsError("an account with this name or TIN exists") from exc

    def enroll_otp(self, account: str, secret: bytes | None = None) -> OtpEnrollment:
        """Turn on one-time codes; from now on login needs the password and a code."""
        seed = secrets.token_bytes(20) if secret is None else secret
        totp = self._totp(seed)  # refuses seeds shorter than 128 bits
        sealed = self._seal_seed(account, seed)
        with self._transaction(f"account:{account}") as tx:
            updated = tx.execute(
                "UPDATE accounts SET otp_secret = ?, otp_last_counter = NULL WHERE name = ?",
                (sealed, account),
            ).rowcount
        if updated != 1:
            raise AuthenticationError()
        return OtpEnrollment(seed, totp.get_provisioning_uri(account, self.issuer))

    def _seal_seed(self, account: str, seed: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, seed, _normalise(account))

    def _open_seed(self, account: str, sealed: bytes) -> bytes:
        try:
            return self._aead.decrypt(sealed[:12], sealed[12:], _normalise(account))
        except InvalidTag as exc:  # wrong service key or a row moved to another account
            raise AuthenticationError() from exc

    def _totp(self, seed: bytes) -> TOTP:
        p = self.policy
        try:
            return TOTP(seed, p.otp_digits, _TOTP_HASHES[p.otp_algorithm](), p.otp_time_step)
        except ValueError as exc:
            raise CredentialPolicyError(f"TOTP seed refused: {exc}") from exc

    # --- failed tries and lockout ------------------------------------------------------

    def _check_not_locked(self, tx: Transaction, subject: str, now: float) -> None:
        row = tx.execute(
            "SELECT locked_until FROM attempts WHERE subject = ?", (subject,)
        ).fetchone()
        if row is not None and row[0] is not None and row[0] > now:
            until = datetime.datetime.fromtimestamp(row[0], datetime.timezone.utc)
            raise AccountLockedError(until)

    def _fail(
        self, tx: Transaction, subject: str, now: float
    ) -> AuthenticationError | AccountLockedError:
        """Count a failed try; the one that reaches the limit locks and says so."""
        row = tx.execute(
            "SELECT failures, locked_until FROM attempts WHERE subject = ?", (subject,)
        ).fetchone()
        failures = 1 if row is None or (row[1] is not None and row[1] <= now) else row[0] + 1
        if failures >= self.policy.max_failed_attempts:
            until = now + self.policy.lockout.total_seconds()
            tx.execute(_SET_ATTEMPTS, (subject, 0, until))
            return AccountLockedError(datetime.datetime.fromtimestamp(until, datetime.timezone.utc))
        tx.execute(_SET_ATTEMPTS, (subject, failures, None))
        return AuthenticationError()

    def _succeed(self, tx: Transaction, subject: str) -> None:
        tx.execute("DELETE FROM attempts WHERE subject = ?", (subject,))

    # --- login ---------------------------------------------------------------------------

    def authenticate(self, account: str, password: str, otp: str | None = None) -> Authentication:
        """Log in. An account with TOTP enrolled needs ``otp`` as well as the password.

        Raises :class:`AuthenticationError` (one message for unknown account, wrong
        password or wrong code) or :class:`AccountLockedError`. Unknown names are counted
        and locked like real ones, so the lock reveals nothing either.
        """
        subject = f"account:{account}"
        with self._transaction(subject) as tx:
            moment = self.clock()
            now = moment.timestamp()
            self._check_not_locked(tx, subject, now)
            row = tx.execute(
                "SELECT password_hash, otp_secret, otp_last_counter FROM accounts WHERE name = ?",
                (account,),
            ).fetchone()
            password_ok = self._matches(password, row[0] if row else self._dummy_hash)
            factors = [PASSWORD]
            counter: int | None = None
            if row is not None and row[1] is not None:
                counter = self._otp_counter(account, row[1], otp, now, row[2])
                factors.append(OTP)
            if row is None or not password_ok or (row[1] is not None and counter is None):
                raise self._fail(tx, subject, now)
            if counter is not None:
                tx.execute(
                    "UPDATE accounts SET otp_last_counter = ? WHERE name = ?", (counter, account)
                )
            self._succeed(tx, subject)
        return Authentication(account, tuple(factors), moment)

    def _otp_counter(
        self, account: str, sealed: bytes, otp: str | None, now: float, last: int | None
    ) -> int | None:
        """The time-step counter of an accepted code; None if refused or replayed."""
        if otp is None:
            return None
        totp = self._totp(self._open_seed(account, sealed))
        step = self.policy.otp_time_step
        window = self.policy.otp_window
        code = otp.strip().encode("ascii", "replace")
        accepted: int | None = None
        for offset in range(-window, window + 1):
            moment = int(now) + offset * step
            try:
                totp.verify(code, moment)  # constant-time comparison inside cryptography
            except InvalidToken:
                continue
            accepted = moment // step
        # A code is good once (RFC 6238 §5.2): never accept a step at or before the last.
        if accepted is None or (last is not None and accepted <= last):
            return None
        return accepted

    # --- recovery ------------------------------------------------------------------------

    def start_recovery(self, *, tin: str, email: str, control_word: str) -> RecoveryLink:
        """Check TIN + e-mail + control word and issue a single-use recovery token.

        Recovery has its own counter of failed tries, per TIN (known or not): after
        ``max_failed_attempts`` wrong answers, recovery for that TIN is locked for
        ``lockout``. A login lockout does not block it: whoever locked the account by
        guessing passwords must not also keep its owner from recovering it, and the
        recovery answers are protected by their own limit. Using the link
        (:meth:`complete_recovery`) lifts both locks.
        """
        self._check_control_word(control_word)
        with self._transaction(f"tin:{tin.strip()}") as tx:
            now = self._now()
            row = tx.execute(
                "SELECT name, email, control_word_hash FROM accounts WHERE tin = ?",
                (tin.strip(),),
            ).fetchone()
            # recovery keeps its own counter per TIN (a login lockout does not block it);
            # the TIN lock taken above serialises the tries
            subject = f"recovery:{tin.strip()}"
            self._check_not_locked(tx, subject, now)
            word_ok = self._matches(control_word, row[2] if row else self._dummy_hash)
            email_ok = row is not None and hmac.compare_digest(
                _normalise(row[1]), _normalise(email.strip().lower())
            )
            if row is None or not (word_ok and email_ok):
                raise self._fail(tx, subject, now)
            token = secrets.token_urlsafe(32)
            expires = now + self.policy.recovery_link_ttl.total_seconds()
            # One live link per account: a new request voids the older ones.
            tx.execute("DELETE FROM recovery_tokens WHERE account = ?", (row[0],))
            tx.execute(
                "INSERT INTO recovery_tokens VALUES (?, ?, ?, 0)",
                (_token_hash(token), row[0], expires),
            )
            self._succeed(tx, subject)
        return RecoveryLink(token, datetime.datetime.fromtimestamp(expires, datetime.timezone.utc))

    def complete_recovery(self, token: str, new_password: str) -> str:
        """Use a recovery token once to set a new password; returns the account name.

        Recovery also lifts the login and recovery lockouts: the owner has just proved
        who they are. The new password must meet the policy's minimum length.
        """
        check_password(new_password, self.policy.password_min_length)
        new_hash = self._hash(new_password)
        with self._transaction(f"token:{_token_hash(token).hex()}") as tx:
            now = self._now()
            row = tx.execute(
                "SELECT account, expires_at, used FROM recovery_tokens WHERE token_hash = ?",
                (_token_hash(token),),
            ).fetchone()
            if row is None or row[2]:
                raise RecoveryTokenError("the recovery link is unknown or was already used")
            tx.execute(
                "UPDATE recovery_tokens SET used = 1 WHERE token_hash = ?", (_token_hash(token),)
            )
            if row[1] <= now:
                raise RecoveryTokenError("the recovery link has expired")
            tx.execute("UPDATE accounts SET password_hash = ? WHERE name = ?", (new_hash, row[0]))
            self._succeed(tx, f"account:{row[0]}")  # the link lifts both locks
            tin_row = tx.execute("SELECT tin FROM accounts WHERE name = ?", (row[0],)).fetchone()
            if tin_row is not None:
                self._succeed(tx, f"recovery:{tin_row[0]}")
        account: str = row[0]
        return account
