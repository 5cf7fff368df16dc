"""One key-handle abstraction: sign, decrypt, agree, decapsulate, whatever holds the key.

The rest of esign talks to a :class:`KeyHandle` and does not care whether the private key
is an object in memory (:class:`LocalKey`), sealed in the hosted vault
(:class:`esign.keys.vault.VaultKey`) or on a PKCS#11 token
(:class:`esign.keys.pkcs11.Pkcs11Key`).

Signatures come out in the form CMS (and pyHanko's ``Signer.async_sign_raw``) expects
for the algorithm: ECDSA as a DER ``ECDSA-Sig-Value``; RSA-PSS with MGF1 of the same hash
and a salt as long as the hash (RFC 4055); RSA PKCS#1 v1.5; pure Ed25519 (RFC 8419); pure
ML-DSA with an empty context (RFC 9882).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import (
    ec,
    ed25519,
    mldsa,
    mlkem,
    padding,
    rsa,
    x25519,
)

from esign.errors import DecryptionError, UnsupportedAlgorithmError
from esign.gost.keys import GostPrivateKey
from esign.keys.algorithms import ALGORITHMS, PrivateKey, PublicKey, algorithm_name

#: Digest names a caller may ask a signature to use (hash-then-sign schemes only).
DIGESTS: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


def hash_algorithm(name: str) -> hashes.HashAlgorithm:
    """The ``cryptography`` hash object for a digest name, or a named refusal."""
    try:
        return DIGESTS[name.lower().replace("-", "")]()
    except KeyError:
        raise UnsupportedAlgorithmError(
            f"digest {name!r} is not accepted; use one of {', '.join(DIGESTS)}"
        ) from None


#: OAEP's hash needs no collision resistance: SHA-1 is accepted there (RFC 8017's default,
#: what ``openssl cms -encrypt`` writes), and nowhere else.
OAEP_DIGESTS: dict[str, type[hashes.HashAlgorithm]] = {"sha1": hashes.SHA1, **DIGESTS}


def oaep_hash(name: str) -> hashes.HashAlgorithm:
    """The hash object for an RSA-OAEP digest name (SHA-1 allowed), or a named refusal."""
    try:
        return OAEP_DIGESTS[name.lower().replace("-", "")]()
    except KeyError:
        raise UnsupportedAlgorithmError(f"RSA-OAEP with {name!r} is not supported") from None


def default_scheme(algorithm: str) -> str:
    """The signature scheme esign uses for a key algorithm unless told otherwise."""
    schemes = ALGORITHMS[algorithm].signature_schemes if algorithm in ALGORITHMS else ()
    if not schemes:
        raise UnsupportedAlgorithmError(f"{algorithm} keys cannot sign")
    return schemes[0]


def check_scheme(algorithm: str, scheme: str | None) -> str:
    """The scheme to use: the default one, or ``scheme`` if the algorithm supports it."""
    chosen = scheme or default_scheme(algorithm)
    if chosen not in ALGORITHMS[algorithm].signature_schemes:
        raise UnsupportedAlgorithmError(f"{algorithm} keys do not sign with {chosen}")
    return chosen


@runtime_checkable
class KeyHandle(Protocol):
    """A private key wherever it lives: what signing and envelopes need from it."""

    @property
    def algorithm(self) -> str:
        """The stable algorithm name (``"ec-p256"``, ``"ml-dsa-65"``, ...)."""
        ...

    def public_key(self) -> PublicKey:
        """The public half, as a ``cryptography`` key object."""
        ...

    def sign(self, data: bytes, *, digest: str = "sha256", scheme: str | None = None) -> bytes:
        """Sign ``data`` (hashing it with ``digest`` where the scheme hashes first)."""
        ...

    def decrypt(
        self,
        ciphertext: bytes,
        *,
        digest: str = "sha256",
        mgf_digest: str | None = None,
        label: bytes | None = None,
    ) -> bytes:
        """RSA-OAEP key transport (MGF1 with ``mgf_digest``, default the same hash)."""
        ...

    def exchange(self, peer: PublicKey) -> bytes:
        """ECDH / X25519 key agreement: the raw shared secret with ``peer``."""
        ...

    def decapsulate(self, ciphertext: bytes) -> bytes:
        """ML-KEM: the shared secret from a KEM ciphertext."""
        ...


def sign_with(
    key: PrivateKey, data: bytes, *, digest: str = "sha256", scheme: str | None = None
) -> bytes:
    """Sign with an in-memory ``cryptography`` key in the form CMS expects."""
    algorithm = algorithm_name(key)
    chosen = check_scheme(algorithm, scheme)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(hash_algorithm(digest)))
    if isinstance(key, rsa.RSAPrivateKey):
        hash_ = hash_algorithm(digest)
        pad: padding.AsymmetricPadding = (
            padding.PSS(padding.MGF1(hash_), hash_.digest_size)
            if chosen == "rsa-pss"
            else padding.PKCS1v15()
        )
        return key.sign(data, pad, hash_)
    if isinstance(
        key,
        (
            ed25519.Ed25519PrivateKey,
            mldsa.MLDSA44PrivateKey,
            mldsa.MLDSA65PrivateKey,
            mldsa.MLDSA87PrivateKey,
        ),
    ):
        return key.sign(data)
    if isinstance(key, GostPrivateKey):  # GOST R 34.10-2012 signs Streebog digests only
        from esign.gost import streebog

        bits = key.paramset.bits
        if digest != f"streebog{bits}":
            raise UnsupportedAlgorithmError(f"{algorithm} keys sign with streebog{bits} only")
        return key.sign_digest(streebog.digest(bits, data))
    raise UnsupportedAlgorithmError(f"{algorithm} keys cannot sign")


def decrypt_with(
    key: PrivateKey,
    ciphertext: bytes,
    *,
    digest: str = "sha256",
    mgf_digest: str | None = None,
    label: bytes | None = None,
) -> bytes:
    """RSA-OAEP decryption; every failure is the one uniform :class:`DecryptionError`."""
    if not isinstance(key, rsa.RSAPrivateKey):
        raise UnsupportedAlgorithmError(f"{algorithm_name(key)} keys do not do key transport")
    hash_ = oaep_hash(digest)
    mgf = oaep_hash(mgf_digest or digest)
    try:
        return key.decrypt(ciphertext, padding.OAEP(padding.MGF1(mgf), hash_, label or None))
    except ValueError:
        raise DecryptionError() from None


def exchange_with(key: PrivateKey, peer: PublicKey) -> bytes:
    """ECDH (same curve) or X25519 shared secret; a mismatched peer is a named refusal."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if not isinstance(peer, ec.EllipticCurvePublicKey) or peer.curve.name != key.curve.name:
            raise UnsupportedAlgorithmError(f"peer key is not on {key.curve.name}")
        return key.exchange(ec.ECDH(), peer)
    if isinstance(key, x25519.X25519PrivateKey):
        if not isinstance(peer, x25519.X25519PublicKey):
            raise UnsupportedAlgorithmError("peer key is not an X25519 key")
        return key.exchange(peer)
    raise UnsupportedAlgorithmError(f"{algorithm_name(key)} keys do not do key agreement")


def decapsulate_with(key: PrivateKey, ciphertext: bytes) -> bytes:
    """ML-KEM decapsulation; a malformed ciphertext is a :class:`DecryptionError`."""
    if not isinstance(key, (mlkem.MLKEM768PrivateKey, mlkem.MLKEM1024PrivateKey)):
        raise UnsupportedAlgorithmError(f"{algorithm_name(key)} keys do not decapsulate")
    try:
        return key.decapsulate(ciphertext)
    except ValueError:
        raise DecryptionError() from None


class LocalKey:
    """A :class:`KeyHandle` over a private key held in this process."""

    def __init__(self, key: PrivateKey) -> None:
        self._key = key
        self._algorithm = algorithm_name(key)

    def __repr__(self) -> str:
        return f"LocalKey({self._algorithm})"

    @property
    def algorithm(self) -> str:
        return self._algorithm

    @property
    def private_key(self) -> PrivateKey:
        """The key object itself (a local key is the caller's to see)."""
        return self._key

    def public_key(self) -> PublicKey:
        return self._key.public_key()

    def sign(self, data: bytes, *, digest: str = "sha256", scheme: str | None = None) -> bytes:
        return sign_with(self._key, data, digest=digest, scheme=scheme)

    def decrypt(
        self,
        ciphertext: bytes,
        *,
        digest: str = "sha256",
        mgf_digest: str | None = None,
        label: bytes | None = None,
    ) -> bytes:
        return decrypt_with(
            self._key, ciphertext, digest=digest, mgf_digest=mgf_digest, label=label
        )

    def exchange(self, peer: PublicKey) -> bytes:
        return exchange_with(self._key, peer)

    def decapsulate(self, ciphertext: bytes) -> bytes:
        return decapsulate_with(self._key, ciphertext)
