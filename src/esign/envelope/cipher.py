"""The content cipher, both ways: AES-GCM (AuthEnvelopedData, RFC 5083/5084) and AES-CBC
(EnvelopedData) as streams, with their AlgorithmIdentifiers written and checked here only.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from asn1crypto import cms
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from esign.errors import DecryptionError, MalformedInputError, UnsupportedAlgorithmError

ContentCipher = Literal["aes-256-gcm", "aes-256-cbc"]
GCM_NONCE_BYTES = 12
GCM_TAG_BYTES = 16
CBC_IV_BYTES = 16
KEY_BYTES = {
    "aes128_gcm": 16,
    "aes192_gcm": 24,
    "aes256_gcm": 32,
    "aes128_cbc": 16,
    "aes192_cbc": 24,
    "aes256_cbc": 32,
}
_SMALL = 4096  # writes below this are gathered (BER headers), larger ones go straight through


@dataclass(frozen=True)
class ContentAlgorithm:
    """One content-encryption algorithm with its nonce (GCM) or IV (CBC)."""

    name: str
    iv: bytes

    @property
    def gcm(self) -> bool:
        return self.name.endswith("_gcm")

    @property
    def key_bytes(self) -> int:
        return KEY_BYTES[self.name]

    @classmethod
    def new(cls, cipher: ContentCipher) -> ContentAlgorithm:
        """A fresh nonce or IV for a cipher choice."""
        if cipher == "aes-256-gcm":
            return cls("aes256_gcm", os.urandom(GCM_NONCE_BYTES))
        if cipher == "aes-256-cbc":
            return cls("aes256_cbc", os.urandom(CBC_IV_BYTES))
        raise UnsupportedAlgorithmError(f"unknown content cipher {cipher!r}")

    def identifier(self) -> cms.EncryptionAlgorithm:
        """The contentEncryptionAlgorithm AlgorithmIdentifier."""
        if self.gcm:
            params: Any = {"aes_nonce": self.iv, "aes_icvlen": GCM_TAG_BYTES}
            return cms.EncryptionAlgorithm({"algorithm": self.name, "parameters": params})
        return cms.EncryptionAlgorithm({"algorithm": self.name, "parameters": self.iv})

    @classmethod
    def read(cls, der: bytes, authenticated: bool) -> ContentAlgorithm:
        """Check a contentEncryptionAlgorithm: GCM in AuthEnvelopedData, CBC in EnvelopedData."""
        algorithm = cms.EncryptionAlgorithm.load(der)
        name = algorithm["algorithm"].native
        if name not in KEY_BYTES or name.endswith("_gcm") != authenticated:
            raise UnsupportedAlgorithmError(f"unsupported content encryption {name}")
        params = algorithm["parameters"]
        if authenticated:
            nonce = params["aes_nonce"].native
            if len(nonce) != GCM_NONCE_BYTES or params["aes_icvlen"].native != GCM_TAG_BYTES:
                raise UnsupportedAlgorithmError("AES-GCM needs a 12-byte nonce and a 16-byte tag")
            return cls(name, nonce)
        iv = params.native
        if not isinstance(iv, bytes) or len(iv) != CBC_IV_BYTES:
            raise MalformedInputError("AES-CBC needs a 16-byte IV")
        return cls(name, iv)

    def _cipher(self, cek: bytes) -> Cipher[Any]:
        mode: Any = modes.GCM(self.iv) if self.gcm else modes.CBC(self.iv)
        return Cipher(algorithms.AES(cek), mode)


class Encryptor:
    """Plaintext in (any piece size), ciphertext pieces out to ``sink``."""

    def __init__(self, algorithm: ContentAlgorithm, cek: bytes, sink: Callable[[bytes], None]):
        self._enc = algorithm._cipher(cek).encryptor()
        self._pad = None if algorithm.gcm else padding.PKCS7(128).padder()
        self._sink = sink
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if len(data) < _SMALL:
            self._pending.append(data)
            return
        self._flush()
        self._emit(data)

    def _flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending = []
            self._emit(data)

    def _emit(self, data: bytes) -> None:
        if self._pad is not None:
            data = self._pad.update(data)
        if out := self._enc.update(data):
            self._sink(out)

    def finish(self) -> bytes:
        """Flush everything; return the GCM tag (empty for CBC)."""
        self._flush()
        if self._pad is not None and (out := self._enc.update(self._pad.finalize())):
            self._sink(out)
        if out := self._enc.finalize():
            self._sink(out)
        return bytes(getattr(self._enc, "tag", b""))


class Decryptor:
    """Ciphertext pieces in, plaintext pieces out; every failure is one DecryptionError.

    CBC holds the last block back until the padding is checked; GCM's plaintext is
    unauthenticated until :meth:`check_tag`.
    """

    def __init__(self, algorithm: ContentAlgorithm, cek: bytes) -> None:
        if len(cek) != algorithm.key_bytes:
            raise DecryptionError()
        self._dec = algorithm._cipher(cek).decryptor()
        self._unpad = None if algorithm.gcm else padding.PKCS7(128).unpadder()

    def update(self, ciphertext: bytes) -> bytes:
        out = self._dec.update(ciphertext)
        return self._unpad.update(out) if self._unpad is not None else out

    def last(self) -> bytes:
        """CBC: the final plaintext after the padding check (GCM: nothing)."""
        if self._unpad is None:
            return b""
        try:
            return self._unpad.update(self._dec.finalize()) + self._unpad.finalize()
        except ValueError:
            raise DecryptionError() from None

    def check_tag(self, tag: bytes | None) -> None:
        """GCM: check the tag over everything decrypted (CBC has none)."""
        if self._unpad is not None:
            return
        try:
            self._dec.finalize_with_tag(tag or b"")
        except (InvalidTag, ValueError):
            raise DecryptionError() from None
