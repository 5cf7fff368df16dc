"""Caller mistakes are ValueError/TypeError; input faults are EsignErrors.

A service wraps esign calls in ``except EsignError`` and answers its client: that handler
must catch every bad input (a broken signature, a wrong password) and none of the
service's own bugs (a validity of zero days, a naive datetime), which should surface as
the standard library's ``ValueError`` / ``TypeError``. ``KeyUsageError`` and
``KeyMismatchError`` are deliberately both.
"""

from __future__ import annotations

import datetime
import hashlib
import re
from pathlib import Path

import pytest

import esign
import esign.errors
from esign.certs import CertificateAuthority
from esign.errors import (
    EsignError,
    KeyMismatchError,
    KeyUsageError,
    MalformedInputError,
    UnsupportedAlgorithmError,
)
from esign.keys import KeyVault, generate_key
from esign.signing import TimeStampAuthority
from esign.simple import CredentialPolicy, CredentialStore

from .conftest import Pki
from .test_cli import esign as run_cli


def caller_mistake(exc: pytest.ExceptionInfo[BaseException]) -> None:
    """A plain ValueError: an ``except EsignError`` handler must not swallow it."""
    assert isinstance(exc.value, ValueError)
    assert not isinstance(exc.value, EsignError)


def test_a_validity_of_zero_days_is_the_callers_mistake(pki: Pki) -> None:
    with pytest.raises(ValueError, match="at least one day") as exc:
        pki.ca.issue(generate_key("ec-p256").public_key(), subject="CN=x", days=0)
    caller_mistake(exc)
    with pytest.raises(ValueError, match="at least one day") as exc:
        CertificateAuthority.create_root("CN=Short", days=-1)
    caller_mistake(exc)


def test_a_naive_revocation_time_is_the_callers_mistake() -> None:
    ca = CertificateAuthority.create_root("CN=Naive Root")
    cert = ca.issue(generate_key("ec-p256").public_key(), subject="CN=x", profile="signing")
    with pytest.raises(ValueError, match="timezone-aware") as exc:
        ca.revoke(cert, at=datetime.datetime(2026, 1, 1))
    caller_mistake(exc)
    assert not ca.registry.revoked()  # nothing was recorded


def test_vault_and_credential_arguments() -> None:
    with pytest.raises(ValueError, match="non-empty id") as exc:
        KeyVault().import_key("", generate_key("ec-p256"), "password")
    caller_mistake(exc)
    with pytest.raises(ValueError) as exc:
        CredentialPolicy(max_failed_attempts=0)
    caller_mistake(exc)
    with pytest.raises(ValueError, match="32 bytes") as exc:
        CredentialStore(secret_key=b"short")
    caller_mistake(exc)
    # An algorithm name esign does not know stays an UnsupportedAlgorithmError.
    with pytest.raises(UnsupportedAlgorithmError, match="md5"):
        CredentialPolicy(otp_algorithm="md5")


def test_tsa_arguments(pki: Pki) -> None:
    tsa_key = generate_key("ec-p256")
    tsa_cert = pki.ca.issue(tsa_key.public_key(), subject="CN=TSA", profile="tsa")
    with pytest.raises(ValueError, match="object identifier") as exc:
        TimeStampAuthority(tsa_key, tsa_cert, policy="not an oid")
    caller_mistake(exc)
    # A certificate that cannot stamp: a bug in one program, bad input in another.
    with pytest.raises(KeyUsageError) as usage:
        TimeStampAuthority(pki.ivanov_key, pki.ivanov_cert)
    assert isinstance(usage.value, ValueError) and isinstance(usage.value, EsignError)


def test_a_key_that_is_not_the_certificates_is_both(pki: Pki) -> None:
    with pytest.raises(KeyMismatchError) as exc:
        esign.sign(b"doc", signer=(pki.tax_key, pki.ivanov_cert))
    assert isinstance(exc.value, ValueError) and isinstance(exc.value, EsignError)


def test_conflicting_arguments_vs_conflicting_input(pki: Pki) -> None:
    detached = esign.sign(b"doc", signer=(pki.ivanov_key, pki.ivanov_cert))
    digests = {"sha256": hashlib.sha256(b"doc").digest()}
    with pytest.raises(ValueError, match="not both") as exc:
        esign.verify(detached, b"doc", trust=pki.trust, digests=digests)
    caller_mistake(exc)
    assert esign.verify(detached, trust=pki.trust, digests=digests).valid
    # The signature carries its content: the input contradicts the call, an input fault.
    attached = esign.sign(b"doc", signer=(pki.ivanov_key, pki.ivanov_cert), detached=False)
    with pytest.raises(MalformedInputError, match="carries its content"):
        esign.verify(attached, trust=pki.trust, digests=digests)
    with pytest.raises(MalformedInputError):
        esign.verify(b"not a signature", b"doc", trust=pki.trust)


def test_the_command_line_turns_a_bad_count_into_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("ca", "init", "--subject", "CN=x", "--out-dir", str(tmp_path / "ca"),
                     "--days", "0")  # fmt: skip
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "--days" in result.stderr and "at least 1" in result.stderr


def test_every_error_class_is_raised_somewhere() -> None:
    """A class nothing raises is a promise the library does not keep: it goes."""
    source = "\n".join(p.read_text() for p in (Path(esign.errors.__file__).parent).rglob("*.py"))
    raised = set(re.findall(r"(?:raise|return) ([A-Z][A-Za-z]*Error)\(", source))
    defined = {
        name
        for name, value in vars(esign.errors).items()
        if isinstance(value, type) and issubclass(value, EsignError)
    }
    # EsignError itself is raised by the batch engine, CA folders and countersign
    # targets; every other class by what its docstring says.
    assert defined - raised == set()


def test_a_path_length_outside_the_ca_profile(pki: Pki) -> None:
    """(The command line refuses the same with exit 2: tests/test_ca_cli.py.)"""
    key = generate_key("ec-p256").public_key()
    with pytest.raises(ValueError, match="only to the ca profile") as exc:
        pki.ca.issue(key, subject="CN=x", profile="signing", path_length=1)
    caller_mistake(exc)


def test_the_command_line_checks_what_the_library_calls_a_mistake(tmp_path: Path) -> None:
    """Arguments the library would refuse with ValueError are usage errors on the CLI."""
    result = run_cli("tsa", "serve", "--key", "k.pem", "--cert", "c.pem", "--policy", "nope")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "not an object identifier" in result.stderr
