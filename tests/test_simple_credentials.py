"""Personal-account credentials: lockout, recovery links, control words, TOTP, storage."""

from __future__ import annotations

import datetime
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.twofactor.totp import TOTP

from esign.errors import (
    AccountExistsError,
    AccountLockedError,
    AuthenticationError,
    CredentialPolicyError,
    EsignError,
    InvalidEmailError,
    InvalidTinError,
    RecoveryTokenError,
    UnsupportedAlgorithmError,
    WeakPasswordError,
)
from esign.simple import CredentialPolicy, CredentialStore

UTC = datetime.timezone.utc
# Tiny Argon2id costs keep the tests fast; the library defaults are RFC 9106's.
FAST = CredentialPolicy(argon2_iterations=1, argon2_lanes=1, argon2_memory_kib=8)
KEY = bytes(range(32))
PASSWORD = "correct horse battery"
CONTROL_WORD = "Кенгуру-1984"
TIN = "7707083893"
EMAIL = "ivanov@example.ru"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime.datetime) -> None:
        self.now = start

    def __call__(self) -> datetime.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += datetime.timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.datetime(2026, 3, 1, 9, 0, tzinfo=UTC))


def make_store(
    clock: Clock, database: str | Path = ":memory:", policy: CredentialPolicy = FAST
) -> CredentialStore:
    store = CredentialStore(database, secret_key=KEY, policy=policy, clock=clock)
    return store


@pytest.fixture
def store(clock: Clock) -> CredentialStore:
    s = make_store(clock)
    s.register("ivanov", PASSWORD, tin=TIN, email=EMAIL, control_word=CONTROL_WORD)
    return s


def test_library_defaults_are_the_design_policies() -> None:
    policy = CredentialPolicy()
    assert policy.max_failed_attempts == 3
    assert policy.lockout == datetime.timedelta(hours=24)
    assert policy.recovery_link_ttl == datetime.timedelta(hours=12)
    assert policy.control_word_max_length == 24
    assert (policy.argon2_iterations, policy.argon2_lanes, policy.argon2_memory_kib) == (
        3,
        4,
        65536,
    )


def test_login_with_password(store: CredentialStore, clock: Clock) -> None:
    auth = store.authenticate("ivanov", PASSWORD)
    assert auth.account == "ivanov"
    assert auth.factors == ("password",)
    assert auth.at == clock.now


def test_wrong_password_and_unknown_account_look_the_same(store: CredentialStore) -> None:
    with pytest.raises(AuthenticationError) as wrong:
        store.authenticate("ivanov", "wrong")
    with pytest.raises(AuthenticationError) as unknown:
        store.authenticate("petrov", PASSWORD)
    assert type(wrong.value) is type(unknown.value)
    assert str(wrong.value) == str(unknown.value)
    assert wrong.value.code == unknown.value.code == "authentication_failed"


def test_three_wrong_tries_lock_for_24_hours(store: CredentialStore, clock: Clock) -> None:
    for _ in range(2):
        with pytest.raises(AuthenticationError):
            store.authenticate("ivanov", "wrong")
    with pytest.raises(AccountLockedError) as third:
        store.authenticate("ivanov", "wrong")
    assert third.value.until == clock.now + datetime.timedelta(hours=24)
    # Locked: even the right password is refused until the lock expires.
    clock.advance(hours=23, minutes=59)
    with pytest.raises(AccountLockedError):
        store.authenticate("ivanov", PASSWORD)
    clock.advance(minutes=1)
    assert store.authenticate("ivanov", PASSWORD).account == "ivanov"


def test_success_resets_the_failure_count(store: CredentialStore) -> None:
    for _ in range(2):
        with pytest.raises(AuthenticationError):
            store.authenticate("ivanov", "wrong")
    store.authenticate("ivanov", PASSWORD)
    for _ in range(2):
        with pytest.raises(AuthenticationError):
            store.authenticate("ivanov", "wrong")
    store.authenticate("ivanov", PASSWORD)  # not locked: the count started again


def test_unknown_accounts_lock_too(store: CredentialStore) -> None:
    """The lock would otherwise tell which names exist."""
    for _ in range(2):
        with pytest.raises(AuthenticationError):
            store.authenticate("petrov", "x")
    with pytest.raises(AccountLockedError):
        store.authenticate("petrov", "x")


def test_lockout_is_configurable(clock: Clock) -> None:
    policy = CredentialPolicy(
        max_failed_attempts=5,
        lockout=datetime.timedelta(minutes=10),
        argon2_iterations=1,
        argon2_lanes=1,
        argon2_memory_kib=8,
    )
    s = make_store(clock, policy=policy)
    s.register("a", "password-a", tin="7700000009", email="a@b.example", control_word="w")
    for _ in range(4):
        with pytest.raises(AuthenticationError):
            s.authenticate("a", "bad")
    with pytest.raises(AccountLockedError) as locked:
        s.authenticate("a", "bad")
    assert locked.value.until == clock.now + datetime.timedelta(minutes=10)


def test_recovery_link_works_once(store: CredentialStore) -> None:
    link = store.start_recovery(tin=TIN, email="IVANOV@example.ru ", control_word=CONTROL_WORD)
    assert store.complete_recovery(link.token, "new password") == "ivanov"
    with pytest.raises(RecoveryTokenError):
        store.complete_recovery(link.token, "third password")
    with pytest.raises(AuthenticationError):
        store.authenticate("ivanov", PASSWORD)
    assert store.authenticate("ivanov", "new password").account == "ivanov"


def test_recovery_link_expires_after_12_hours(store: CredentialStore, clock: Clock) -> None:
    link = store.start_recovery(tin=TIN, email=EMAIL, control_word=CONTROL_WORD)
    assert link.expires == clock.now + datetime.timedelta(hours=12)
    clock.advance(hours=11, minutes=59)
    fresh = store.start_recovery(tin=TIN, email=EMAIL, control_word=CONTROL_WORD)
    clock.advance(hours=12)
    with pytest.raises(RecoveryTokenError, match="expired"):
        store.complete_recovery(fresh.token, "new password")
    # The older link was voided when the fresh one was issued.
    with pytest.raises(RecoveryTokenError):
        store.complete_recovery(link.token, "new password")
    assert store.authenticate("ivanov", PASSWORD).account == "ivanov"


def test_recovery_link_within_12_hours_works(store: CredentialStore, clock: Clock) -> None:
    link = store.start_recovery(tin=TIN, email=EMAIL, control_word=CONTROL_WORD)
    clock.advance(hours=11, minutes=59)
    assert store.complete_recovery(link.token, "new password") == "ivanov"


def test_recovery_needs_tin_email_and_control_word(store: CredentialStore) -> None:
    messages = set()
    for tin, email, word in (
        (TIN, EMAIL, "wrong word"),
        (TIN, "other@example.ru", CONTROL_WORD),
    ):
        with pytest.raises(AuthenticationError) as refused:
            store.start_recovery(tin=tin, email=email, control_word=word)
        messages.add(str(refused.value))
    # The third wrong answer locks recovery for this TIN (its own counter: logins go on).
    with pytest.raises(AccountLockedError):
        store.start_recovery(tin=TIN, email=EMAIL, control_word="again wrong")
    with pytest.raises(AccountLockedError):
        store.start_recovery(tin=TIN, email=EMAIL, control_word=CONTROL_WORD)
    assert store.authenticate("ivanov", PASSWORD).account == "ivanov"
    with pytest.raises(AuthenticationError) as unknown:
        store.start_recovery(tin="500100732259", email=EMAIL, control_word=CONTROL_WORD)
    messages.add(str(unknown.value))
    assert len(messages) == 1


def test_a_locked_account_can_recover_and_recovery_lifts_the_lock(
    store: CredentialStore,
) -> None:
    """docs/simple.md: whoever locks an account by guessing passwords cannot also keep its
    owner from recovering it; the recovery answers have their own limit."""
    for _ in range(3):
        with pytest.raises(EsignError):
            store.authenticate("ivanov", "wrong")
    with pytest.raises(AccountLockedError):
        store.authenticate("ivanov", PASSWORD)
    link = store.start_recovery(tin=TIN, email=EMAIL, control_word=CONTROL_WORD)
    store.complete_recovery(link.token, "new password")
    assert store.authenticate("ivanov", "new password").account == "ivanov"


def test_a_used_link_lifts_a_recovery_lock_too(store: CredentialStore) -> None:
    link = store.start_recovery(tin=TIN, email=EMAIL, control_word=CONTROL_WORD)
    for _ in range(3):
        with pytest.raises(EsignError):
            store.start_recovery(tin=TIN, email=EMAIL, control_word="guess")
    store.complete_recovery(link.token, "new password")
    assert store.start_recovery(tin=TIN, email=EMAIL, control_word=CONTROL_WORD).token


def test_control_word_longer_than_24_characters_is_refused(clock: Clock) -> None:
    s = make_store(clock)
    s.register("ok", PASSWORD, tin="7700000009", email="a@b.example", control_word="я" * 24)
    with pytest.raises(CredentialPolicyError):
        s.register("long", PASSWORD, tin="7700000016", email="a@b.ru", control_word="я" * 25)
    with pytest.raises(CredentialPolicyError):
        s.register("empty", PASSWORD, tin="7700000023", email="a@b.ru", control_word="")
    with pytest.raises(CredentialPolicyError):
        s.start_recovery(tin="7700000009", email="a@b.example", control_word="x" * 25)
    with pytest.raises(AuthenticationError):
        s.authenticate("long", PASSWORD)  # nothing was stored for the refused account


def test_duplicate_account_or_tin_refused(store: CredentialStore) -> None:
    with pytest.raises(AccountExistsError):
        store.register("ivanov", PASSWORD, tin="7700000030", email="a@b.ru", control_word="w")
    with pytest.raises(AccountExistsError):
        store.register("petrov", PASSWORD, tin=TIN, email="a@b.ru", control_word="w")


@pytest.mark.parametrize(
    ("tin", "email", "password", "error"),
    [
        ("7707083894", EMAIL, PASSWORD, InvalidTinError),  # check digit off by one
        ("500100732250", EMAIL, PASSWORD, InvalidTinError),  # 12 digits, bad check digits
        ("77070838", EMAIL, PASSWORD, InvalidTinError),  # wrong length
        ("77O7083893", EMAIL, PASSWORD, InvalidTinError),  # a letter O
        (TIN, "ivanov.example.ru", PASSWORD, InvalidEmailError),  # no @
        (TIN, "ivanov@localhost", PASSWORD, InvalidEmailError),  # no domain
        (TIN, "iva nov@example.ru", PASSWORD, InvalidEmailError),
        (TIN, EMAIL, "short", WeakPasswordError),
    ],
)
def test_registration_refuses_bad_input_with_named_errors(
    clock: Clock, tin: str, email: str, password: str, error: type[CredentialPolicyError]
) -> None:
    s = make_store(clock)
    with pytest.raises(error):
        s.register("ivanov", password, tin=tin, email=email, control_word="w")
    with pytest.raises(AuthenticationError):
        s.authenticate("ivanov", password)  # nothing was stored
    # Valid: a 12-digit personal INN, an internationalised address.
    s.register("petrov", PASSWORD, tin="500100732259", email="Пётр@пример.рф", control_word="w")
    assert issubclass(error, CredentialPolicyError)


def test_tin_format_any_and_password_minimum_are_policy(clock: Clock) -> None:
    from dataclasses import replace

    s = make_store(clock, policy=replace(FAST, tin_format="any", password_min_length=12))
    s.register("foreign", "twelve chars", tin="DE123456789", email="a@b.de", control_word="w")
    link = s.start_recovery(tin="DE123456789", email="a@b.de", control_word="w")
    with pytest.raises(WeakPasswordError):
        s.complete_recovery(link.token, "too short")


# --- one-time codes (RFC 6238) ---------------------------------------------------------

RFC6238_SEED = b"12345678901234567890"
#: RFC 6238 Appendix B, the SHA-1 column: (Unix time, 8-digit TOTP).
RFC6238_SHA1 = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]


@pytest.mark.parametrize(("unix_time", "code"), RFC6238_SHA1)
def test_rfc6238_appendix_b_vectors_through_the_store(unix_time: int, code: str) -> None:
    clock = Clock(datetime.datetime.fromtimestamp(unix_time, UTC))
    policy = CredentialPolicy(
        otp_digits=8, otp_window=0, argon2_iterations=1, argon2_lanes=1, argon2_memory_kib=8
    )
    assert TOTP(RFC6238_SEED, 8, hashes.SHA1(), 30).generate(unix_time).decode() == code
    s = make_store(clock, policy=policy)
    s.register("ivanov", PASSWORD, tin=TIN, email=EMAIL, control_word=CONTROL_WORD)
    s.enroll_otp("ivanov", RFC6238_SEED)
    wrong = f"{(int(code) + 1) % 10**8:08d}"
    with pytest.raises(AuthenticationError):
        s.authenticate("ivanov", PASSWORD, wrong)
    auth = s.authenticate("ivanov", PASSWORD, code)
    assert auth.factors == ("password", "otp")


def test_totp_window_and_replay(store: CredentialStore, clock: Clock) -> None:
    enrollment = store.enroll_otp("ivanov")
    assert enrollment.uri.startswith("otpauth://totp/")
    totp = TOTP(enrollment.secret, 6, hashes.SHA1(), 30)
    now = int(clock.now.timestamp())
    # Password alone is no longer enough once a second factor is enrolled.
    with pytest.raises(AuthenticationError):
        store.authenticate("ivanov", PASSWORD)
    # One step of drift either side is accepted (default window 1) ...
    assert store.authenticate("ivanov", PASSWORD, totp.generate(now - 30).decode())
    # ... a code is good once, and never an older one after a newer was used.
    assert store.authenticate("ivanov", PASSWORD, totp.generate(now + 30).decode())
    with pytest.raises(AuthenticationError):
        store.authenticate("ivanov", PASSWORD, totp.generate(now + 30).decode())
    # That was failure 1 in a row; 2 and 3 (outside the window) lock the account.
    clock.advance(seconds=90)
    later = int(clock.now.timestamp())
    with pytest.raises(AuthenticationError):
        store.authenticate("ivanov", PASSWORD, totp.generate(later - 90).decode())  # too old
    with pytest.raises(AccountLockedError):
        store.authenticate("ivanov", PASSWORD, totp.generate(later + 60).decode())  # too new


def test_totp_seed_needs_the_service_key(tmp_path: Path, clock: Clock) -> None:
    database = tmp_path / "accounts.sqlite"
    s = make_store(clock, database)
    s.register("ivanov", PASSWORD, tin=TIN, email=EMAIL, control_word=CONTROL_WORD)
    enrollment = s.enroll_otp("ivanov")
    code = TOTP(enrollment.secret, 6, hashes.SHA1(), 30).generate(int(clock.now.timestamp()))
    s.close()
    # The same rows, opened by a service holding another key: the seed does not open.
    other = CredentialStore(database, secret_key=bytes(32), policy=FAST, clock=clock)
    with pytest.raises(AuthenticationError):
        other.authenticate("ivanov", PASSWORD, code.decode())
    assert make_store(clock, database).authenticate("ivanov", PASSWORD, code.decode())


def test_short_totp_seed_refused(store: CredentialStore) -> None:
    with pytest.raises(CredentialPolicyError):
        store.enroll_otp("ivanov", b"too short")


def test_sqlite_file_holds_no_secret_in_clear(tmp_path: Path, clock: Clock) -> None:
    database = tmp_path / "accounts.sqlite"
    s = make_store(clock, database)
    s.register("ivanov", PASSWORD, tin=TIN, email=EMAIL, control_word=CONTROL_WORD)
    enrollment = s.enroll_otp("ivanov")
    link = s.start_recovery(tin=TIN, email=EMAIL, control_word=CONTROL_WORD)
    s.complete_recovery(link.token, "second secret password")
    second = s.start_recovery(tin=TIN, email=EMAIL, control_word=CONTROL_WORD)
    s.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert b"ivanov" in raw  # the scan does see the file's text
    for secret in (PASSWORD, "second secret password", CONTROL_WORD, link.token, second.token):
        for encoding in ("utf-8", "utf-16-le", "utf-16-be"):
            assert secret.encode(encoding) not in raw, secret
    assert enrollment.secret not in raw
    assert b"$argon2id$" in raw
    # ... and the state survives a restart.
    reopened = make_store(clock, database)
    assert reopened.authenticate(
        "ivanov",
        "second secret password",
        TOTP(enrollment.secret, 6, hashes.SHA1(), 30).generate(int(clock.now.timestamp())).decode(),
    ).factors == ("password", "otp")
    assert reopened.complete_recovery(second.token, "third password") == "ivanov"


def test_policy_refuses_nonsense() -> None:
    with pytest.raises(UnsupportedAlgorithmError):
        CredentialPolicy(otp_algorithm="md5")
    with pytest.raises(ValueError):  # the caller's mistakes, as in the standard library
        CredentialPolicy(max_failed_attempts=0)
    with pytest.raises(ValueError):
        CredentialStore(secret_key=b"short")


def test_concurrent_wrong_tries_are_all_counted(tmp_path: Path, clock: Clock) -> None:
    """Failed tries race from many threads: exactly two plain refusals, then locked."""
    s = make_store(clock, tmp_path / "accounts.sqlite")
    s.register("ivanov", PASSWORD, tin=TIN, email=EMAIL, control_word=CONTROL_WORD)

    def attempt(_: int) -> str:
        try:
            s.authenticate("ivanov", "wrong")
        except AccountLockedError:
            return "locked"
        except AuthenticationError:
            return "refused"
        return "accepted"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = sorted(pool.map(attempt, range(12)))
    assert outcomes == ["locked"] * 10 + ["refused"] * 2
