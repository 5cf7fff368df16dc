"""Encrypted PKCS#8 (RFC 5958 EncryptedPrivateKeyInfo, PBES2 of RFC 8018) with a strong KDF.

``cryptography``'s ``BestAvailableEncryption`` writes PBES2 with PBKDF2-SHA256 at only
2,048 iterations, and its encryption builder does not cover PKCS#8. esign therefore
assembles the EncryptedPrivateKeyInfo itself from ``cryptography`` primitives (scrypt or
PBKDF2, AES-256-CBC) and ``asn1crypto`` structures. Reading stays with ``cryptography``;
this module only checks the KDF parameters first, so a damaged or hostile file cannot ask
for gigabytes of memory or hours of CPU.

Defaults:

- scrypt (RFC 7914 section 7) with N=2^14, r=8, p=5: one of OWASP's equivalent scrypt
  settings, and the largest memory cost (16 MiB) that OpenSSL 3.0 accepts by default, so
  ``openssl pkey`` reads the file without extra flags;
- PBKDF2-HMAC-SHA256 with 600,000 iterations (OWASP) for peers without scrypt.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import ClassVar, Literal

from asn1crypto import algos, core, keys, pem
from asn1crypto import parser as asn1_parser
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from esign.asn1 import KEY_CHECK_OID, KeyCheckAttribute, KeyCheckAttributes
from esign.errors import (
    PARSE_ERRORS,
    MalformedInputError,
    UnsupportedAlgorithmError,
    WrongPasswordError,
)

SCRYPT_OID = "1.3.6.1.4.1.11591.4.11"  # id-scrypt, RFC 7914 section 7

#: Bounds on what a key file may ask of the KDF when it is read.
MAX_PBKDF2_ITERATIONS = 10_000_000
MAX_SCRYPT_MEMORY = 1 << 30  # 128 * r * N bytes
MAX_SCRYPT_WORK = 1 << 24  # N * p


class ScryptParams(core.Sequence):  # type: ignore[misc]
    """scrypt-params of RFC 7914 section 7 (asn1crypto has no definition of it)."""

    _fields: ClassVar[list[tuple[str, type, dict[str, object]]]] = [
        ("salt", core.OctetString, {}),
        ("cost_parameter", core.Integer, {}),
        ("block_size", core.Integer, {}),
        ("parallelization_parameter", core.Integer, {}),
        ("key_length", core.Integer, {"optional": True}),
    ]


@dataclass(frozen=True)
class ScryptKdf:
    """scrypt parameters for writing a key (defaults: N=2^14, r=8, p=5)."""

    n: int = 1 << 14
    r: int = 8
    p: int = 5
    name: Literal["scrypt"] = "scrypt"


@dataclass(frozen=True)
class Pbkdf2Kdf:
    """PBKDF2-HMAC-SHA256 parameters for writing a key (default 600,000 iterations)."""

    iterations: int = 600_000
    name: Literal["pbkdf2"] = "pbkdf2"


Kdf = ScryptKdf | Pbkdf2Kdf
DEFAULT_KDF: Kdf = ScryptKdf()


def kdf_from_name(name: str) -> Kdf:
    """The default parameters for a KDF name (``scrypt`` or ``pbkdf2``)."""
    if name == "scrypt":
        return ScryptKdf()
    if name == "pbkdf2":
        return Pbkdf2Kdf()
    raise MalformedInputError(f"unknown key-encryption KDF {name!r}; known: pbkdf2, scrypt")


def encrypt_pkcs8(plain_pkcs8: bytes, password: bytes, kdf: Kdf = DEFAULT_KDF) -> bytes:
    """Wrap an unencrypted PrivateKeyInfo (DER) into a PBES2 EncryptedPrivateKeyInfo (DER)."""
    salt = os.urandom(16)
    iv = os.urandom(16)
    if isinstance(kdf, ScryptKdf):
        key = Scrypt(salt=salt, length=32, n=kdf.n, r=kdf.r, p=kdf.p).derive(password)
        kdf_algorithm = algos.KdfAlgorithm(
            {
                "algorithm": SCRYPT_OID,
                "parameters": ScryptParams(
                    {
                        "salt": salt,
                        "cost_parameter": kdf.n,
                        "block_size": kdf.r,
                        "parallelization_parameter": kdf.p,
                        "key_length": 32,
                    }
                ),
            }
        )
    else:
        key = PBKDF2HMAC(hashes.SHA256(), 32, salt, kdf.iterations).derive(password)
        kdf_algorithm = algos.KdfAlgorithm(
            {
                "algorithm": "pbkdf2",
                "parameters": {
                    "salt": algos.Pbkdf2Salt(name="specified", value=salt),
                    "iteration_count": kdf.iterations,
                    "prf": {"algorithm": "sha256"},
                },
            }
        )
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plain_pkcs8) + padder.finalize()
    encryptor = Cipher(algorithms.AES256(key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    info = keys.EncryptedPrivateKeyInfo(
        {
            "encryption_algorithm": {
                "algorithm": "pbes2",
                "parameters": {
                    "key_derivation_func": kdf_algorithm,
                    "encryption_scheme": {"algorithm": "aes256_cbc", "parameters": iv},
                },
            },
            "encrypted_data": ciphertext,
        }
    )
    der: bytes = info.dump()
    return der


_WRONG = "wrong password for the private key (or the file is damaged)"


def add_key_check(plain_pkcs8: bytes, spki_der: bytes) -> bytes:
    """``plain_pkcs8`` with esign's key-check attribute (SHA-256 of the public key) added.

    Encrypted with the key, it lets :func:`check_key` detect a damaged file that still
    decrypts (AES-CBC has no MAC). Keys that already carry attributes are left as they are.
    """
    fields = _children(asn1_parser.parse(plain_pkcs8, strict=True)[4])
    if len(fields) != 3:
        return plain_pkcs8
    digest = hashes.Hash(hashes.SHA256())
    digest.update(spki_der)
    attributes = KeyCheckAttributes(
        [KeyCheckAttribute({"type": KEY_CHECK_OID, "values": [digest.finalize()]})]
    ).retag("implicit", 0)
    body = b"".join(encoding for _, _, encoding, _ in fields) + attributes.dump()
    with_check: bytes = core.Sequence(contents=body).dump()
    return with_check


def _children(contents: bytes) -> list[tuple[int, int, bytes, bytes]]:
    """(class, tag, encoding, contents) of each element in a constructed value's contents."""
    found = []
    while contents:
        cls, _method, tag, header, body, trailer = asn1_parser.parse(contents)
        size = len(header) + len(body) + len(trailer)
        found.append((cls, tag, contents[:size], body))
        contents = contents[size:]
    return found


def check_key(plain_pkcs8: bytes, spki_der: bytes) -> None:
    """Raise :class:`WrongPasswordError` unless the key-check attribute (when the key has
    attributes) matches the key that was read: a wrong password that got past the padding
    check, or a damaged file. OpenSSL and ``cryptography`` write no attributes in PKCS#8,
    so attributes without esign's check mean esign's own attribute was damaged."""
    try:
        fields = _children(asn1_parser.parse(plain_pkcs8, strict=True)[4])
        if len(fields) == 3:
            return  # no attributes: a key esign did not write
        cls, tag, _, attributes = fields[3]
        if (cls, tag) != (2, 0) or len(fields) > 4:
            raise WrongPasswordError(_WRONG)
        expected: list[bytes] = []
        for _, _, encoding, body in _children(attributes):
            if core.ObjectIdentifier.load(_children(body)[0][2]).dotted == KEY_CHECK_OID:
                values = KeyCheckAttribute.load(encoding, strict=True)["values"]
                expected.extend(bytes(value.native) for value in values)
    except WrongPasswordError:
        raise
    except PARSE_ERRORS:
        raise WrongPasswordError(_WRONG) from None
    digest = hashes.Hash(hashes.SHA256())
    digest.update(spki_der)
    if digest.finalize() not in expected:
        raise WrongPasswordError(_WRONG)


def decrypt_pkcs8(der: bytes, password: bytes) -> bytes | None:
    """The PrivateKeyInfo inside a PBES2 (scrypt or PBKDF2, AES-CBC) EncryptedPrivateKeyInfo.

    None for other schemes (PBES1, 3DES...), which ``cryptography`` decrypts instead.
    Raises :class:`WrongPasswordError` when the padding does not check out.
    """
    protection = inspect_encrypted(der)  # bounds first
    if protection.scheme != "pbes2" or protection.cipher not in _KEY_LENGTHS:
        return None
    try:
        return _decrypt_pbes2(der, password, protection)
    except (WrongPasswordError, MalformedInputError):
        raise
    except PARSE_ERRORS as exc:
        raise MalformedInputError("not a readable encrypted PKCS#8 key") from exc


_PRF_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
#: Universal tags of the KDF parameters, field by field (a changed tag or class is refused
#: here, where asn1crypto would silently drop an optional field).
_KDF_SHAPES = ([4, 2, 2, 2], [4, 2, 2, 2, 2], [4, 2], [4, 2, 2], [4, 2, 16], [4, 2, 2, 16])


def _decrypt_pbes2(der: bytes, password: bytes, protection: Protection) -> bytes | None:
    info = keys.EncryptedPrivateKeyInfo.load(der, strict=True)
    params = info["encryption_algorithm"]["parameters"]
    kdf = params["key_derivation_func"]
    length = _KEY_LENGTHS[protection.cipher]
    raw = kdf["parameters"].dump()
    shape = [t if c == 0 else -1 for c, t, _, _ in _children(asn1_parser.parse(raw)[4])]
    if shape not in _KDF_SHAPES:
        raise MalformedInputError("not a readable encrypted PKCS#8 key (KDF parameters)")
    key_source: Scrypt | PBKDF2HMAC
    if protection.kdf == "scrypt":
        scrypt = ScryptParams.load(raw, strict=True)
        stated = scrypt["key_length"].native
        key_source = Scrypt(
            salt=scrypt["salt"].native,
            length=length,
            n=int(scrypt["cost_parameter"].native),
            r=int(scrypt["block_size"].native),
            p=int(scrypt["parallelization_parameter"].native),
        )
    else:
        pbkdf2 = kdf["parameters"]
        stated = pbkdf2["key_length"].native
        prf = str(pbkdf2["prf"]["algorithm"].native).removeprefix("hmac_")
        if prf not in _PRF_HASHES or pbkdf2["salt"].name != "specified":
            return None
        key_source = PBKDF2HMAC(
            _PRF_HASHES[prf](),
            length,
            pbkdf2["salt"].chosen.native,
            int(pbkdf2["iteration_count"].native),
        )
    if stated is not None and stated != length:
        raise MalformedInputError(f"the key file gives KDF key length {stated}")
    iv = params["encryption_scheme"]["parameters"].native
    ciphertext = info["encrypted_data"].native
    if not isinstance(iv, bytes) or len(iv) != 16 or len(ciphertext) % 16:
        raise MalformedInputError("not a readable encrypted PKCS#8 key")
    key = key_source.derive(password)
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        plain: bytes = unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise WrongPasswordError(_WRONG) from None
    return plain


def armor(der: bytes, label: str) -> bytes:
    """PEM-armor DER bytes under ``label``."""
    armored: bytes = pem.armor(label, der)
    return armored


@dataclass(frozen=True)
class Protection:
    """How an EncryptedPrivateKeyInfo is protected, as read from the file."""

    scheme: str  # "pbes2" or a PBES1 name
    kdf: str  # "scrypt", "pbkdf2" or "pbes1"
    cipher: str
    parameters: dict[str, int | str]

    def describe(self) -> str:
        params = ", ".join(f"{k}={v}" for k, v in self.parameters.items())
        return f"{self.scheme.upper()} {self.kdf} ({params}), {self.cipher}"


def inspect_encrypted(der: bytes) -> Protection:
    """Read and bound-check the protection of an EncryptedPrivateKeyInfo.

    Raises :class:`MalformedInputError` for a structure that does not parse or for KDF
    parameters outside esign's bounds.
    """
    try:
        info = keys.EncryptedPrivateKeyInfo.load(der, strict=True)
        algorithm = info["encryption_algorithm"]
        name = algorithm["algorithm"].native
        if name != "pbes2":
            iterations = int(algorithm["parameters"]["iterations"].native)
            _check_iterations(iterations)
            return Protection(name, "pbes1", name, {"iterations": iterations})
        params = algorithm["parameters"]
        kdf = params["key_derivation_func"]
        cipher = str(params["encryption_scheme"]["algorithm"].native)
        kdf_oid = kdf["algorithm"].dotted
        if kdf_oid == SCRYPT_OID:
            scrypt = ScryptParams.load(kdf["parameters"].dump(), strict=True)
            n = int(scrypt["cost_parameter"].native)
            r = int(scrypt["block_size"].native)
            p = int(scrypt["parallelization_parameter"].native)
            _check_scrypt(n, r, p)
            _check_key_length(scrypt["key_length"].native, cipher)
            return Protection("pbes2", "scrypt", cipher, {"N": n, "r": r, "p": p})
        if kdf["algorithm"].native == "pbkdf2":
            pbkdf2 = kdf["parameters"]
            iterations = int(pbkdf2["iteration_count"].native)
            _check_iterations(iterations)
            _check_key_length(pbkdf2["key_length"].native, cipher)
            prf = str(pbkdf2["prf"]["algorithm"].native)
            return Protection(
                "pbes2", "pbkdf2", cipher, {"iterations": iterations, "prf": prf.replace("_", "-")}
            )
    except MalformedInputError:
        raise
    except PARSE_ERRORS as exc:
        raise MalformedInputError("not a readable encrypted PKCS#8 key") from exc
    raise UnsupportedAlgorithmError(f"unsupported PBES2 key derivation {kdf_oid}")


_KEY_LENGTHS = {"aes128_cbc": 16, "aes192_cbc": 24, "aes256_cbc": 32}


def _check_key_length(length: int | None, cipher: str) -> None:
    if length is not None and length != _KEY_LENGTHS.get(cipher, length):
        raise MalformedInputError(f"key file gives KDF key length {length} for {cipher}")


def _check_iterations(iterations: int) -> None:
    if not 1 <= iterations <= MAX_PBKDF2_ITERATIONS:
        raise MalformedInputError(
            f"key file asks for {iterations} KDF iterations (allowed: 1..{MAX_PBKDF2_ITERATIONS})"
        )


def _check_scrypt(n: int, r: int, p: int) -> None:
    if n < 2 or n & (n - 1) or r < 1 or p < 1:
        raise MalformedInputError(f"invalid scrypt parameters N={n}, r={r}, p={p}")
    if 128 * r * n > MAX_SCRYPT_MEMORY or n * p > MAX_SCRYPT_WORK:
        raise MalformedInputError(
            f"key file asks for scrypt N={n}, r={r}, p={p}: beyond esign's bounds"
        )
