"""Private keys on disk: encrypted PKCS#8 by default, PEM or DER, never silently in clear.

Loading accepts what OpenSSL writes too (PKCS#8, traditional "EC PRIVATE KEY"/"RSA
PRIVATE KEY", encrypted or not) and turns every failure into a named error.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa, x25519

from esign.errors import (
    KeyStorageError,
    MalformedInputError,
    PasswordRequiredError,
    UnsupportedAlgorithmError,
    WrongPasswordError,
)
from esign.keys.algorithms import PrivateKey

MAX_KEY_FILE = 1 << 20  # a private key file is never larger than 1 MiB


def _as_bytes(password: str | bytes | None) -> bytes | None:
    if password is None:
        return None
    return password.encode("utf-8") if isinstance(password, str) else password


def dump_key(
    key: PrivateKey,
    password: str | bytes | None,
    *,
    encoding: Literal["pem", "der"] = "pem",
    unencrypted: bool = False,
) -> bytes:
    """Serialize a private key as PKCS#8, encrypted under ``password``.

    An unencrypted dump must be asked for with ``unencrypted=True``; a missing password
    is otherwise an error, so a key never reaches disk in clear by accident.
    """
    pw = _as_bytes(password)
    if pw is None and not unencrypted:
        raise PasswordRequiredError(
            "refusing to write an unencrypted private key: give a password or pass unencrypted=True"
        )
    if pw is not None and len(pw) == 0:
        raise PasswordRequiredError("the password must not be empty")
    algorithm: serialization.KeySerializationEncryption = (
        serialization.NoEncryption() if pw is None else serialization.BestAvailableEncryption(pw)
    )
    enc = serialization.Encoding.PEM if encoding == "pem" else serialization.Encoding.DER
    return key.private_bytes(enc, serialization.PrivateFormat.PKCS8, algorithm)


def save_key(
    key: PrivateKey,
    path: str | os.PathLike[str],
    password: str | bytes | None,
    *,
    encoding: Literal["pem", "der"] = "pem",
    unencrypted: bool = False,
) -> None:
    """Write a private key file readable only by its owner (mode 0600)."""
    data = dump_key(key, password, encoding=encoding, unencrypted=unencrypted)
    target = Path(path)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def parse_key(data: bytes, password: str | bytes | None = None) -> PrivateKey:
    """Parse a PEM or DER private key, encrypted or not, into a key object."""
    if len(data) > MAX_KEY_FILE:
        raise MalformedInputError("not a private key: the input is larger than 1 MiB")
    pw = _as_bytes(password)
    is_pem = data.lstrip().startswith(b"-----BEGIN")
    loader = serialization.load_pem_private_key if is_pem else serialization.load_der_private_key
    try:
        key = loader(data, password=pw)
    except TypeError as exc:
        # cryptography raises TypeError for "password given to an unencrypted key" and
        # for "encrypted key without password".
        if pw is None:
            raise PasswordRequiredError(
                "the private key is encrypted: a password is needed"
            ) from exc
        key = loader(data, password=None)
    except UnsupportedAlgorithm as exc:
        raise UnsupportedAlgorithmError(f"unsupported private key algorithm: {exc}") from exc
    except ValueError as exc:
        message = str(exc).lower()
        if pw is not None and ("decrypt" in message or "password" in message):
            raise WrongPasswordError("wrong password for the private key") from exc
        raise MalformedInputError("not a readable private key (PEM or DER)") from exc
    if not isinstance(
        key,
        (
            ec.EllipticCurvePrivateKey,
            rsa.RSAPrivateKey,
            ed25519.Ed25519PrivateKey,
            x25519.X25519PrivateKey,
        ),
    ):
        raise UnsupportedAlgorithmError(f"unsupported private key type {type(key).__name__}")
    return key


def load_key(path: str | os.PathLike[str], password: str | bytes | None = None) -> PrivateKey:
    """Read a private key file (see :func:`parse_key`)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_KEY_FILE + 1)
    except OSError as exc:
        raise KeyStorageError(f"cannot read key file {os.fspath(path)!r}: {exc.strerror}") from exc
    return parse_key(data, password)
