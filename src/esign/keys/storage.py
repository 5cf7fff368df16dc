"""Private keys on disk: encrypted PKCS#8 by default, PEM or DER, never silently in clear.

Loading accepts what OpenSSL writes too (PKCS#8, traditional "EC PRIVATE KEY"/"RSA
PRIVATE KEY", encrypted or not, and PKCS#12) and turns every failure into a named error.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Literal

from cryptography.exceptions import InternalError, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from esign.errors import (
    PARSE_ERRORS,
    EsignError,
    KeyStorageError,
    MalformedInputError,
    PasswordRequiredError,
    UnknownKeyFormatError,
    UnsupportedAlgorithmError,
    WrongPasswordError,
)
from esign.gost.keys import GostPrivateKey, is_gost_pkcs8, load_pkcs8
from esign.keys.algorithms import PRIVATE_KEY_TYPES, PrivateKey
from esign.keys.pkcs8 import (
    DEFAULT_KDF,
    Kdf,
    add_key_check,
    armor,
    check_key,
    decrypt_pkcs8,
    encrypt_pkcs8,
    inspect_encrypted,
)

MAX_KEY_FILE = 1 << 20  # a private key file is never larger than 1 MiB

_PEM_KEY_LABELS = (
    b"-----BEGIN PRIVATE KEY-----",
    b"-----BEGIN ENCRYPTED PRIVATE KEY-----",
    b"-----BEGIN EC PRIVATE KEY-----",
    b"-----BEGIN RSA PRIVATE KEY-----",
)


def _as_bytes(password: str | bytes | None) -> bytes | None:
    if password is None:
        return None
    return password.encode("utf-8") if isinstance(password, str) else password


def require_password(password: str | bytes | None, unencrypted: bool) -> bytes | None:
    """The password as bytes; refuse a missing or empty one unless clear text was asked for."""
    pw = _as_bytes(password)
    if pw is None and not unencrypted:
        raise PasswordRequiredError(
            "refusing to write an unencrypted private key: give a password or pass unencrypted=True"
        )
    if pw is not None and len(pw) == 0:
        raise PasswordRequiredError("the password must not be empty")
    return pw


def dump_key(
    key: PrivateKey,
    password: str | bytes | None,
    *,
    encoding: Literal["pem", "der"] = "pem",
    unencrypted: bool = False,
    kdf: Kdf = DEFAULT_KDF,
) -> bytes:
    """Serialize a private key as PKCS#8, encrypted under ``password`` (PBES2, scrypt).

    An unencrypted dump must be asked for with ``unencrypted=True``; a missing password
    is otherwise an error, so a key never reaches disk in clear by accident.
    """
    pw = require_password(password, unencrypted)
    plain = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    if pw is None:
        return armor(plain, "PRIVATE KEY") if encoding == "pem" else plain
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    der = encrypt_pkcs8(add_key_check(plain, spki), pw, kdf)
    return armor(der, "ENCRYPTED PRIVATE KEY") if encoding == "pem" else der


def write_private_file(path: str | os.PathLike[str], data: bytes) -> None:
    """Write a file readable only by its owner (mode 0600), atomically.

    The bytes go to a private temporary file beside the target, which then replaces it:
    a crash never leaves half a key, and an old file's looser mode is not inherited.
    """
    target = Path(path)
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def save_key(
    key: PrivateKey,
    path: str | os.PathLike[str],
    password: str | bytes | None,
    *,
    encoding: Literal["pem", "der"] = "pem",
    unencrypted: bool = False,
    kdf: Kdf = DEFAULT_KDF,
) -> None:
    """Write a private key file readable only by its owner (mode 0600)."""
    write_private_file(
        path, dump_key(key, password, encoding=encoding, unencrypted=unencrypted, kdf=kdf)
    )


def detect_format(data: bytes) -> Literal["pkcs8-pem", "pkcs8-der", "pkcs12", "unknown"]:
    """Guess a key file's container from its bytes (nothing is decrypted).

    PEM may follow explanatory text, as ``openssl pkcs12 -nodes`` writes ("Bag Attributes").
    """
    if b"-----BEGIN " in data[:4096]:
        return "pkcs8-pem"
    if not data.startswith(b"\x30"):
        return "unknown"
    from esign.keys.pkcs12 import looks_like_pkcs12

    return "pkcs12" if looks_like_pkcs12(data) else "pkcs8-der"


def parse_key(data: bytes, password: str | bytes | None = None) -> PrivateKey:
    """Parse a PEM or DER private key (PKCS#8, traditional, or PKCS#12), encrypted or not."""
    if len(data) > MAX_KEY_FILE:
        raise MalformedInputError("not a private key: the input is larger than 1 MiB")
    kind = detect_format(data)
    if kind == "unknown":
        raise UnknownKeyFormatError("not a private key: neither PEM, PKCS#8 DER nor PKCS#12")
    if kind == "pkcs12":
        from esign.keys.pkcs12 import parse_pkcs12

        return parse_pkcs12(data, password).key
    pw = _as_bytes(password)
    if kind == "pkcs8-pem":
        if not any(label in data for label in _PEM_KEY_LABELS):
            raise UnknownKeyFormatError("the PEM file holds no private key")
        encrypted = _check_pem_bounds(data)
        loader = serialization.load_pem_private_key
    else:
        encrypted = _check_der_bounds(data)
        loader = serialization.load_der_private_key
    if encrypted and pw is not None:
        checked = _parse_encrypted_pkcs8(data, pw)
        if checked is not None:
            return checked
    if not encrypted:  # GOST R 34.10-2012: cryptography cannot read it (esign.gost)
        gost = _gost_key(data)
        if gost is not None:
            return gost
    try:
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
    except EsignError:
        raise
    except UnsupportedAlgorithm as exc:
        raise UnsupportedAlgorithmError(f"unsupported private key algorithm: {exc}") from exc
    except InternalError as exc:
        # OpenSSL rejected the decrypted bytes in a way cryptography does not classify.
        if encrypted and pw is not None:
            raise WrongPasswordError(
                "wrong password for the private key (or the file is damaged)"
            ) from exc
        raise MalformedInputError("not a readable private key (damaged or unsupported)") from exc
    except (ValueError, TypeError) as exc:
        message = str(exc).lower()
        # AES-CBC in PBES2 has no MAC: about 1 wrong password in 256 decrypts to valid
        # padding and then fails as "unparsable". A well-formed encrypted container that
        # does not yield a key under this password is a wrong password (or damage).
        wrong = encrypted or "decrypt" in message or "password" in message
        if pw is not None and wrong:
            raise WrongPasswordError(
                "wrong password for the private key (or the file is damaged)"
            ) from exc
        _explain_post_quantum_form(data)
        raise MalformedInputError("not a readable private key (PEM or DER)") from exc
    if not isinstance(key, PRIVATE_KEY_TYPES):
        raise UnsupportedAlgorithmError(f"unsupported private key type {type(key).__name__}")
    return key  # type: ignore[return-value]


def _gost_key(data: bytes) -> GostPrivateKey | None:
    """A GOST private key from unencrypted PKCS#8 (PEM or DER); None for other keys."""
    from asn1crypto import pem

    der = data
    if pem.detect(data):
        try:
            der = pem.unarmor(data[data.index(b"-----BEGIN ") :])[2]
        except (ValueError, TypeError):
            return None
    return load_pkcs8(der) if is_gost_pkcs8(der) else None


def _parse_encrypted_pkcs8(data: bytes, password: bytes) -> PrivateKey | None:
    """Decrypt PBES2 PKCS#8 here (not in ``cryptography``) so that esign's key-check
    attribute can be compared with the key read; None for schemes left to ``cryptography``.
    """
    from asn1crypto import core, pem

    if b"-----BEGIN " in data[:4096]:
        if b"-----END ENCRYPTED PRIVATE KEY-----" not in data:
            raise MalformedInputError("the PEM private key is truncated (no END line)")
        try:
            der = pem.unarmor(data[data.index(b"-----BEGIN ") :])[2]
        except (ValueError, TypeError) as exc:
            raise MalformedInputError("not a readable PEM private key") from exc
    else:
        der = data
    plain = decrypt_pkcs8(der, password)
    if plain is None:
        return None
    try:
        # Shape of a PrivateKeyInfo: version INTEGER, algorithm SEQUENCE, key OCTET STRING.
        info = core.Sequence.load(plain, strict=True)
        if [info[i].tag for i in range(3)] != [2, 16, 4]:
            raise ValueError("not a PrivateKeyInfo")
    except PARSE_ERRORS:
        # Padding passed by chance (about 1 wrong password in 256); the rest is noise.
        raise WrongPasswordError(
            "wrong password for the private key (or the file is damaged)"
        ) from None
    gost = _gost_key(plain)
    if gost is not None:
        check_key(plain, gost.public_key().spki_der())
        return gost
    try:
        key = serialization.load_der_private_key(plain, password=None)
    except UnsupportedAlgorithm as exc:
        raise UnsupportedAlgorithmError(f"unsupported private key algorithm: {exc}") from exc
    except (ValueError, TypeError, InternalError) as exc:
        _explain_post_quantum_form(plain)
        raise WrongPasswordError(
            "wrong password for the private key (or the file is damaged)"
        ) from exc
    if not isinstance(key, PRIVATE_KEY_TYPES):
        raise UnsupportedAlgorithmError(f"unsupported private key type {type(key).__name__}")
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    check_key(plain, spki)
    return key  # type: ignore[return-value]


_PQ_OIDS = {
    "2.16.840.1.101.3.4.3.17": "ML-DSA-44",
    "2.16.840.1.101.3.4.3.18": "ML-DSA-65",
    "2.16.840.1.101.3.4.3.19": "ML-DSA-87",
    "2.16.840.1.101.3.4.4.2": "ML-KEM-768",
    "2.16.840.1.101.3.4.4.3": "ML-KEM-1024",
}


def _explain_post_quantum_form(data: bytes) -> None:
    """Name the unsupported ML-DSA / ML-KEM private key forms instead of "unreadable".

    RFC 9881 and its ML-KEM sibling allow a seed, an expanded key, or both; ``cryptography``
    reads the seed form only, and cannot check an expanded key against its seed.
    """
    from asn1crypto import core, pem

    try:
        der = pem.unarmor(data[data.index(b"-----BEGIN ") :])[2] if b"-----BEGIN " in data else data
        info = core.Sequence.load(der)
        oid = core.Sequence.load(info[1].dump())[0]
        name = _PQ_OIDS.get(core.ObjectIdentifier.load(oid.dump()).dotted)
        form = {0x04: "expanded", 0x30: "both (seed and expanded)"}.get(info[2].contents[0])
    except PARSE_ERRORS:
        return
    if name and form:
        raise UnsupportedAlgorithmError(
            f"{name} private key in the {form} form: esign reads the seed form only"
        )


def _check_der_bounds(data: bytes) -> bool:
    """Bound-check the KDF of an EncryptedPrivateKeyInfo before any decryption; True if
    ``data`` is one (well-formed, within bounds)."""
    from asn1crypto import keys

    try:
        keys.EncryptedPrivateKeyInfo.load(data, strict=True).native  # noqa: B018
    except PARSE_ERRORS:
        return False  # not encrypted PKCS#8: cryptography reads (or refuses) it
    inspect_encrypted(data)
    return True


def _check_pem_bounds(data: bytes) -> bool:
    from asn1crypto import pem

    if b"-----BEGIN ENCRYPTED PRIVATE KEY-----" not in data:
        return False
    try:
        _, _, der = pem.unarmor(data[data.index(b"-----BEGIN ENCRYPTED PRIVATE KEY-----") :])
    except (ValueError, TypeError) as exc:
        raise MalformedInputError("not a readable PEM private key") from exc
    inspect_encrypted(der)
    return True


def load_key(path: str | os.PathLike[str], password: str | bytes | None = None) -> PrivateKey:
    """Read a private key file (see :func:`parse_key`)."""
    return parse_key(read_key_file(path), password)


def read_key_file(path: str | os.PathLike[str]) -> bytes:
    """The bytes of a key file, bounded, with a named error if it cannot be read."""
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_KEY_FILE + 1)
    except OSError as exc:
        raise KeyStorageError(f"cannot read key file {os.fspath(path)!r}: {exc.strerror}") from exc
