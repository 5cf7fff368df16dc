"""Streebog (GOST R 34.11-2012) from a library: OpenSSL's GOST provider when loaded, else
gostcrypto.

``hashlib`` reaches Streebog as ``md_gost12_256`` / ``md_gost12_512`` only when the
process's OpenSSL has the GOST provider (``gostprov``) active, e.g. via ``OPENSSL_CONF``;
it is about 600 times faster than gostcrypto's pure-Python Streebog (measured by
``benchmarks/bench_gost.py``), so it is preferred whenever present. Both give the digest
in the same byte order (the GOST test vectors of RFC 6986 in their printed form).
"""

from __future__ import annotations

import functools
import hashlib
from typing import Protocol

from esign.errors import UnsupportedAlgorithmError


class Hasher(Protocol):
    """The part of a hash object esign uses."""

    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...


class _GostcryptoHasher:
    """gostcrypto's Streebog behind the hashlib interface (digest as ``bytes``)."""

    def __init__(self, bits: int) -> None:
        from gostcrypto import gosthash

        self._h = gosthash.new(f"streebog{bits}")

    def update(self, data: bytes, /) -> None:
        self._h.update(bytearray(data))

    def digest(self) -> bytes:
        return bytes(self._h.digest())


@functools.cache
def backend() -> str:
    """``"openssl"`` when hashlib has Streebog (the GOST provider is loaded), else
    ``"gostcrypto"``."""
    try:
        hashlib.new("md_gost12_256")
    except ValueError:
        return "gostcrypto"
    return "openssl"


def new(bits: int) -> Hasher:
    """A fresh Streebog-256 or Streebog-512 hash object."""
    if bits not in (256, 512):
        raise UnsupportedAlgorithmError(f"Streebog has no {bits}-bit variant")
    if backend() == "openssl":
        return hashlib.new(f"md_gost12_{bits}")
    try:
        return _GostcryptoHasher(bits)
    except ImportError as exc:
        raise UnsupportedAlgorithmError(
            "GOST needs the gostcrypto package: pip install 'esign[gost]'"
        ) from exc


def digest(bits: int, data: bytes) -> bytes:
    """Streebog of ``data`` in one call."""
    h = new(bits)
    h.update(data)
    return h.digest()
