"""Password recipients (RFC 3211): PBKDF2 and the PWRI-KEK wrap, as openssl and Bouncy
Castle write them (the PBKDF2 PRF with NULL parameters, RFC 8018 A.2)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from asn1crypto import algos, cms, core
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from esign.errors import (
    PARSE_ERRORS,
    DecryptionError,
    MalformedInputError,
    UnsupportedAlgorithmError,
)
from esign.limits import MAX_PBKDF2_ITERATIONS  # opening refuses more: a denial of service

PBKDF2_ITERATIONS = 600_000  # OWASP 2023 figure for PBKDF2-HMAC-SHA256
_PRF_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_CBC_KEY_BYTES = {"aes128_cbc": 16, "aes192_cbc": 24, "aes256_cbc": 32}


def _cbc(key: bytes, iv: bytes, data: bytes, encrypt: bool) -> bytes:
    cipher = Cipher(algorithms.AES(key), modes.CBC(iv))
    worker = cipher.encryptor() if encrypt else cipher.decryptor()
    return worker.update(data) + worker.finalize()


def pwri_wrap(kek: bytes, iv: bytes, cek: bytes) -> bytes:
    """RFC 3211 §2.3.1 key wrap: length, check bytes, CEK, padding; CBC-encrypted twice."""
    block = 16
    body = bytes([len(cek)]) + bytes(b ^ 0xFF for b in cek[:3]) + cek
    size = max(2 * block, -(-len(body) // block) * block)
    body += os.urandom(size - len(body))
    first = _cbc(kek, iv, body, encrypt=True)
    return _cbc(kek, first[-block:], first, encrypt=True)


def pwri_unwrap(kek: bytes, iv: bytes, wrapped: bytes) -> bytes:
    """Invert :func:`pwri_wrap`; any inconsistency is the uniform DecryptionError."""
    block = 16
    if len(wrapped) % block or len(wrapped) < 2 * block:
        raise DecryptionError()
    last = _cbc(kek, wrapped[-2 * block : -block], wrapped[-block:], encrypt=False)
    inner = _cbc(kek, last, wrapped[:-block], encrypt=False) + last
    body = _cbc(kek, iv, inner, encrypt=False)
    length = body[0]
    check = bytes(a ^ b for a, b in zip(body[1:4], body[4:7], strict=True))
    if length < 3 or length > len(body) - 4 or check != b"\xff\xff\xff":
        raise DecryptionError()
    return body[4 : 4 + length]


def _pbkdf2(password: bytes, salt: bytes, iterations: int, prf: str, length: int) -> bytes:
    return PBKDF2HMAC(
        algorithm=_PRF_HASHES[prf](), length=length, salt=salt, iterations=iterations
    ).derive(password)


@dataclass
class PasswordRecipient:
    """A person without a certificate: PBKDF2-HMAC-SHA256 and the RFC 3211 PWRI-KEK wrap.

    The key-encryption cipher is AES-256-CBC, as RFC 3211 requires a CBC-mode cipher;
    this is also what ``openssl cms -pwri_password`` writes and reads.
    """

    password: bytes
    iterations: int = PBKDF2_ITERATIONS

    def wrap(self, cek: bytes) -> cms.RecipientInfo:
        salt, iv = os.urandom(16), os.urandom(16)
        kek = _pbkdf2(self.password, salt, self.iterations, "sha256", 32)
        return cms.RecipientInfo(
            name="pwri",
            value=cms.PasswordRecipientInfo(
                {
                    "version": "v0",
                    "key_derivation_algorithm": {
                        "algorithm": "pbkdf2",
                        "parameters": {
                            "salt": algos.Pbkdf2Salt(name="specified", value=salt),
                            "iteration_count": self.iterations,
                            "prf": {
                                "algorithm": "sha256",
                                "parameters": core.Null(),
                            },  # RFC 8018 A.2
                        },
                    },
                    "key_encryption_algorithm": {
                        "algorithm": "pwri_kek",
                        "parameters": {"algorithm": "aes256_cbc", "parameters": iv},
                    },
                    "encrypted_key": pwri_wrap(kek, iv, cek),
                }
            ),
        )


def kdf_iterations(info: cms.RecipientInfo) -> int:
    """PBKDF2 iterations opening ``info`` would cost (0: not a password record, or one
    :meth:`PasswordIdentity.unwrap` refuses before deriving anything)."""
    if info.name != "pwri":
        return 0
    try:
        kdf = info.chosen["key_derivation_algorithm"]
        iterations = kdf["parameters"]["iteration_count"].native
    except PARSE_ERRORS:
        return 0
    return (
        iterations
        if isinstance(iterations, int) and 1 <= iterations <= MAX_PBKDF2_ITERATIONS
        else 0
    )


@dataclass
class PasswordIdentity:
    """Opens password records (RFC 3211) with a password; certificate records are not its."""

    password: bytes

    @property
    def certificate(self) -> x509.Certificate | None:
        return None  # a password opens only password records; there is nothing to name

    def unwrap(self, info: cms.RecipientInfo) -> bytes | None:
        if info.name != "pwri":
            return None
        pwri = info.chosen
        if pwri["version"].native != "v0":
            raise MalformedInputError("PasswordRecipientInfo version must be 0")
        kdf = pwri["key_derivation_algorithm"]
        if kdf.native is None or kdf["algorithm"].native != "pbkdf2":
            raise UnsupportedAlgorithmError("password records need PBKDF2 key derivation")
        params = kdf["parameters"]
        salt = params["salt"]
        if salt.name != "specified":
            raise UnsupportedAlgorithmError("PBKDF2 salt must be specified")
        iterations = params["iteration_count"].native
        if not 1 <= iterations <= MAX_PBKDF2_ITERATIONS:
            raise UnsupportedAlgorithmError(f"PBKDF2 iteration count {iterations} refused")
        prf_name = params["prf"]["algorithm"].native
        if prf_name not in _PRF_HASHES:
            raise UnsupportedAlgorithmError(f"unsupported PBKDF2 PRF {prf_name}")
        kea = pwri["key_encryption_algorithm"]
        if kea["algorithm"].native != "pwri_kek":
            raise UnsupportedAlgorithmError(
                f"unsupported password key encryption {kea['algorithm'].native}"
            )
        inner = kea["parameters"]
        cipher = inner["algorithm"].native
        if cipher not in _CBC_KEY_BYTES:
            raise UnsupportedAlgorithmError(f"unsupported PWRI-KEK cipher {cipher}")
        iv = inner["parameters"].native
        if not isinstance(iv, bytes) or len(iv) != 16:
            raise MalformedInputError("the PWRI-KEK IV must be 16 bytes")
        key_length = params["key_length"].native
        if key_length is not None and key_length != _CBC_KEY_BYTES[cipher]:
            raise MalformedInputError("the PBKDF2 key length does not fit the KEK cipher")
        kek = _pbkdf2(
            self.password, salt.chosen.native, iterations, prf_name, _CBC_KEY_BYTES[cipher]
        )
        return pwri_unwrap(kek, iv, pwri["encrypted_key"].native)
