"""PKCS#12 (RFC 7292): a private key with its certificate and chain, in one file.

Written by ``cryptography``'s PKCS#12 serializer with PBES2 (PBKDF2-HMAC-SHA256,
AES-256-CBC) for both the key and the certificates, at 600,000 iterations; the
HMAC-SHA256 MAC is then recomputed with the same iteration count (``cryptography`` fixes
it at 2,048). ``openssl pkcs12`` (3.0) reads the result without ``-legacy``. ``cryptography``'s
serializer takes RSA, EC and Ed25519 keys; the other esign algorithms (X25519, ML-DSA,
ML-KEM) are refused with a named error and belong in encrypted PKCS#8.

Reading checks the iteration counts first (a damaged file cannot ask for hours of CPU),
then lets ``cryptography`` verify the MAC and decrypt.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from asn1crypto import cms, pkcs12
from cryptography import x509
from cryptography.exceptions import InternalError, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12 as c_pkcs12

from esign.errors import (
    PARSE_ERRORS,
    MalformedInputError,
    PasswordRequiredError,
    UnsupportedAlgorithmError,
    WrongPasswordError,
)
from esign.keys.algorithms import PRIVATE_KEY_TYPES, PrivateKey, algorithm_name
from esign.keys.pkcs8 import MAX_PBKDF2_ITERATIONS, inspect_encrypted

DEFAULT_ITERATIONS = 600_000
MAX_PKCS12_FILE = 1 << 20


@dataclass(frozen=True)
class KeyBundle:
    """What a PKCS#12 file holds: a key, its certificate and the rest of the chain."""

    key: PrivateKey
    certificate: x509.Certificate | None
    chain: list[x509.Certificate] = field(default_factory=list)
    friendly_name: str | None = None


def looks_like_pkcs12(data: bytes) -> bool:
    """True when the DER is a PFX (version 3) rather than a bare key."""
    try:
        pfx = pkcs12.Pfx.load(data)
        return pfx["version"].native in ("v3", 3) and pfx["auth_safe"]["content_type"].native in (
            "data",
            "signed_data",
        )
    except PARSE_ERRORS:
        return False


def dump_pkcs12(
    key: PrivateKey,
    certificate: x509.Certificate | None,
    password: str | bytes,
    *,
    chain: Sequence[x509.Certificate] = (),
    friendly_name: str | None = None,
    iterations: int = DEFAULT_ITERATIONS,
) -> bytes:
    """Serialize a key, its certificate and chain as PKCS#12 (PBES2/AES-256, HMAC-SHA256)."""
    pw = password.encode("utf-8") if isinstance(password, str) else password
    if not pw:
        raise PasswordRequiredError("a PKCS#12 file needs a non-empty password")
    if not isinstance(
        key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey)
    ):
        raise UnsupportedAlgorithmError(
            f"PKCS#12 is written for RSA, EC and Ed25519 keys, not {algorithm_name(key)}: "
            "store this key as encrypted PKCS#8"
        )
    if certificate is not None and certificate.public_key() != key.public_key():
        raise MalformedInputError("the certificate does not belong to the private key")
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(iterations)
        .key_cert_algorithm(c_pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(pw)
    )
    name = friendly_name.encode("utf-8") if friendly_name else None
    der = c_pkcs12.serialize_key_and_certificates(
        name, key, certificate, list(chain) or None, encryption
    )
    return _remac(der, pw, iterations)


def _pkcs12_mac_key(password: bytes, salt: bytes, iterations: int) -> bytes:
    """RFC 7292 appendix B.2 key derivation, ID 3 (MAC key), SHA-256, 32-byte output.

    ``cryptography`` does not expose this KDF, and its PKCS#12 writer fixes the MAC at
    2,048 iterations, which would let a password be guessed against the MAC 300 times
    cheaper than against the 600,000-iteration encryption. With a 32-byte output from
    SHA-256 (u = 32, v = 64) the derivation is one block: A = H^c(D || I).
    ``cryptography`` and OpenSSL both verify the result (see the tests).
    """
    v = 64
    text = password.decode("utf-8")
    bmp = text.encode("utf-16-be") + b"\x00\x00"

    def stretch(data: bytes) -> bytes:
        size = v * ((len(data) + v - 1) // v)
        return (data * (size // len(data) + 1))[:size] if data else b""

    block = hashlib.sha256(bytes([3]) * v + stretch(salt) + stretch(bmp)).digest()
    for _ in range(iterations - 1):
        block = hashlib.sha256(block).digest()
    return block


def _remac(der: bytes, password: bytes, iterations: int) -> bytes:
    """Replace the PFX MAC by HMAC-SHA256 under a key derived with ``iterations``."""
    pfx = pkcs12.Pfx.load(der)
    content = pfx["auth_safe"]["content"].native
    salt = os.urandom(16)
    key = _pkcs12_mac_key(password, salt, iterations)
    tag = hmac.new(key, content, hashlib.sha256).digest()
    pfx["mac_data"] = pkcs12.MacData(
        {
            "mac": {"digest_algorithm": {"algorithm": "sha256"}, "digest": tag},
            "mac_salt": salt,
            "iterations": iterations,
        }
    )
    out: bytes = pfx.dump(force=True)
    return out


def save_pkcs12(
    path: str | os.PathLike[str],
    key: PrivateKey,
    certificate: x509.Certificate | None,
    password: str | bytes,
    *,
    chain: Sequence[x509.Certificate] = (),
    friendly_name: str | None = None,
    iterations: int = DEFAULT_ITERATIONS,
) -> None:
    """Write a PKCS#12 file readable only by its owner (mode 0600)."""
    from esign.keys.storage import write_private_file

    data = dump_pkcs12(
        key,
        certificate,
        password,
        chain=chain,
        friendly_name=friendly_name,
        iterations=iterations,
    )
    write_private_file(path, data)


def check_pkcs12_bounds(data: bytes) -> list[str]:
    """Parse the PFX outer structure, bound its iteration counts; describe its protection."""
    try:
        pfx = pkcs12.Pfx.load(data, strict=True)
        described: list[str] = []
        mac = pfx["mac_data"]
        if mac.native is not None:
            iterations = int(mac["iterations"].native)
            _bound(iterations)
            digest = mac["mac"]["digest_algorithm"]["algorithm"].native
            described.append(f"MAC HMAC-{str(digest).upper()} ({iterations} iterations)")
        auth_safe = pfx["auth_safe"]
        if auth_safe["content_type"].native != "data":
            raise UnsupportedAlgorithmError("only password-integrity PKCS#12 files are read")
        safe = pkcs12.AuthenticatedSafe.load(auth_safe["content"].native, strict=True)
        for info in safe:
            kind = info["content_type"].native
            if kind == "encrypted_data":
                encrypted = info["content"]["encrypted_content_info"]
                algorithm = encrypted["content_encryption_algorithm"]
                described.append("certificates: " + _describe_algorithm(algorithm))
            elif kind == "data":
                contents = pkcs12.SafeContents.load(info["content"].native, strict=True)
                for bag in contents:
                    if bag["bag_id"].native == "pkcs8_shrouded_key_bag":
                        epki = bag["bag_value"].untag().dump()
                        described.append("key: " + inspect_encrypted(epki).describe())
            else:
                raise UnsupportedAlgorithmError(f"unsupported PKCS#12 content {kind!r}")
        return described
    except (MalformedInputError, UnsupportedAlgorithmError):
        raise
    except PARSE_ERRORS as exc:
        raise MalformedInputError("not a readable PKCS#12 file") from exc


def _describe_algorithm(algorithm: cms.EncryptionAlgorithm) -> str:
    name = algorithm["algorithm"].native
    if name == "pbes2":
        from asn1crypto import keys

        epki = keys.EncryptedPrivateKeyInfo(
            {"encryption_algorithm": algorithm, "encrypted_data": b""}
        ).dump()
        return inspect_encrypted(epki).describe()
    iterations = int(algorithm["parameters"]["iterations"].native)
    _bound(iterations)
    return f"{name} ({iterations} iterations; legacy)"


def _bound(iterations: int) -> None:
    if not 1 <= iterations <= MAX_PBKDF2_ITERATIONS:
        raise MalformedInputError(
            f"PKCS#12 file asks for {iterations} iterations (allowed: 1..{MAX_PBKDF2_ITERATIONS})"
        )


def parse_pkcs12(data: bytes, password: str | bytes | None) -> KeyBundle:
    """Read a PKCS#12 file: the MAC is checked and the key decrypted by ``cryptography``."""
    if len(data) > MAX_PKCS12_FILE:
        raise MalformedInputError("not a PKCS#12 file: larger than 1 MiB")
    check_pkcs12_bounds(data)
    pw = password.encode("utf-8") if isinstance(password, str) else password
    try:
        loaded = c_pkcs12.load_pkcs12(data, pw)
    except ValueError as exc:
        if pw is None:
            raise PasswordRequiredError(
                "the PKCS#12 file is protected: a password is needed"
            ) from exc
        raise WrongPasswordError(
            "wrong password for the PKCS#12 file (or the file is damaged)"
        ) from exc
    except UnsupportedAlgorithm as exc:
        raise UnsupportedAlgorithmError(
            f"unsupported algorithm in the PKCS#12 file: {exc}"
        ) from exc
    except (TypeError, InternalError) as exc:
        raise MalformedInputError("not a readable PKCS#12 file") from exc
    if loaded.key is None:
        raise MalformedInputError("the PKCS#12 file holds no private key")
    if not isinstance(loaded.key, PRIVATE_KEY_TYPES):
        raise UnsupportedAlgorithmError(f"unsupported private key type {type(loaded.key).__name__}")
    certificate = loaded.cert.certificate if loaded.cert is not None else None
    name = loaded.cert.friendly_name if loaded.cert is not None else None
    return KeyBundle(
        key=loaded.key,  # type: ignore[arg-type]
        certificate=certificate,
        chain=[c.certificate for c in loaded.additional_certs],
        friendly_name=name.decode("utf-8", "replace") if name else None,
    )


def load_pkcs12(path: str | os.PathLike[str], password: str | bytes | None) -> KeyBundle:
    """Read a PKCS#12 file (see :func:`parse_pkcs12`)."""
    from esign.keys.storage import read_key_file

    return parse_pkcs12(read_key_file(path), password)
