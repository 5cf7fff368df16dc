"""Key algorithms by stable name, and what each name is fit for.

This is the one place that says which key names can sign, agree keys or transport keys
(and with which schemes); the rest of esign asks here instead of testing key classes itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TypeAlias, TypeGuard

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, mlkem, rsa, x25519

from esign.errors import UnsupportedAlgorithmError
from esign.gost.keys import GostPrivateKey, GostPublicKey
from esign.gost.params import BY_NAME as GOST_NAMES

MLDSAPrivateKey: TypeAlias = (
    mldsa.MLDSA44PrivateKey | mldsa.MLDSA65PrivateKey | mldsa.MLDSA87PrivateKey
)
MLDSAPublicKey: TypeAlias = mldsa.MLDSA44PublicKey | mldsa.MLDSA65PublicKey | mldsa.MLDSA87PublicKey
MLKEMPrivateKey: TypeAlias = mlkem.MLKEM768PrivateKey | mlkem.MLKEM1024PrivateKey
MLKEMPublicKey: TypeAlias = mlkem.MLKEM768PublicKey | mlkem.MLKEM1024PublicKey

PrivateKey: TypeAlias = (
    ec.EllipticCurvePrivateKey
    | rsa.RSAPrivateKey
    | ed25519.Ed25519PrivateKey
    | x25519.X25519PrivateKey
    | MLDSAPrivateKey
    | MLKEMPrivateKey
    | GostPrivateKey
)
PublicKey: TypeAlias = (
    ec.EllipticCurvePublicKey
    | rsa.RSAPublicKey
    | ed25519.Ed25519PublicKey
    | x25519.X25519PublicKey
    | MLDSAPublicKey
    | MLKEMPublicKey
    | GostPublicKey
)

#: The private key classes esign accepts, for ``isinstance`` checks on loaded keys.
PRIVATE_KEY_TYPES: tuple[type, ...] = (
    ec.EllipticCurvePrivateKey,
    rsa.RSAPrivateKey,
    ed25519.Ed25519PrivateKey,
    x25519.X25519PrivateKey,
    mldsa.MLDSA44PrivateKey,
    mldsa.MLDSA65PrivateKey,
    mldsa.MLDSA87PrivateKey,
    mlkem.MLKEM768PrivateKey,
    mlkem.MLKEM1024PrivateKey,
    GostPrivateKey,
)

#: The public key classes esign accepts (certificates, CSRs, public key files).
PUBLIC_KEY_TYPES: tuple[type, ...] = (
    ec.EllipticCurvePublicKey,
    rsa.RSAPublicKey,
    ed25519.Ed25519PublicKey,
    x25519.X25519PublicKey,
    mldsa.MLDSA44PublicKey,
    mldsa.MLDSA65PublicKey,
    mldsa.MLDSA87PublicKey,
    mlkem.MLKEM768PublicKey,
    mlkem.MLKEM1024PublicKey,
    GostPublicKey,
)


def is_public_key(key: object) -> TypeGuard[PublicKey]:
    """Whether ``key`` is a public key type esign works with (narrows the type)."""
    return isinstance(key, PUBLIC_KEY_TYPES)


class KeyUse(str, Enum):
    """What a key may be used for."""

    SIGN = "sign"
    AGREE = "agree"  # key agreement: ECDH (RFC 5753), X25519 (RFC 8418)
    TRANSPORT = "transport"  # key transport: RSA-OAEP (RFC 8017), ML-KEM (RFC 9629)


@dataclass(frozen=True)
class KeyAlgorithm:
    """A named key type, the jobs it may do and the schemes it does them with."""

    name: str
    can_sign: bool
    can_agree: bool
    can_transport: bool
    generate: Callable[[], PrivateKey]
    #: Signature schemes, the first being esign's default (``ecdsa``, ``rsa-pss``, ...).
    signature_schemes: tuple[str, ...] = ()
    #: Key transport / agreement schemes (``rsa-oaep``, ``ml-kem``, ``ecdh``, ``x25519``).
    encryption_schemes: tuple[str, ...] = ()
    #: True for the post-quantum algorithms of FIPS 203 / FIPS 204.
    post_quantum: bool = False

    def fit_for(self, use: KeyUse) -> bool:
        """Whether keys of this algorithm may be used for ``use``."""
        return {
            KeyUse.SIGN: self.can_sign,
            KeyUse.AGREE: self.can_agree,
            KeyUse.TRANSPORT: self.can_transport,
        }[use]


def _ec(curve: ec.EllipticCurve) -> Callable[[], PrivateKey]:
    return lambda: ec.generate_private_key(curve)


def _rsa(bits: int) -> Callable[[], PrivateKey]:
    return lambda: rsa.generate_private_key(public_exponent=65537, key_size=bits)


_RSA_SIGN = ("rsa-pss", "rsa-pkcs1v15")

ALGORITHMS: dict[str, KeyAlgorithm] = {
    a.name: a
    for a in (
        KeyAlgorithm("ec-p256", True, True, False, _ec(ec.SECP256R1()), ("ecdsa",), ("ecdh",)),
        KeyAlgorithm("ec-p384", True, True, False, _ec(ec.SECP384R1()), ("ecdsa",), ("ecdh",)),
        KeyAlgorithm(
            "ed25519", True, False, False, ed25519.Ed25519PrivateKey.generate, ("ed25519",)
        ),
        KeyAlgorithm(
            "x25519", False, True, False, x25519.X25519PrivateKey.generate, (), ("x25519",)
        ),
        KeyAlgorithm("rsa-3072", True, False, True, _rsa(3072), _RSA_SIGN, ("rsa-oaep",)),
        KeyAlgorithm("rsa-4096", True, False, True, _rsa(4096), _RSA_SIGN, ("rsa-oaep",)),
        KeyAlgorithm(
            "ml-dsa-44", True, False, False, mldsa.MLDSA44PrivateKey.generate, ("ml-dsa",), (), True
        ),
        KeyAlgorithm(
            "ml-dsa-65", True, False, False, mldsa.MLDSA65PrivateKey.generate, ("ml-dsa",), (), True
        ),
        KeyAlgorithm(
            "ml-dsa-87", True, False, False, mldsa.MLDSA87PrivateKey.generate, ("ml-dsa",), (), True
        ),
        KeyAlgorithm(
            "ml-kem-768",
            False,
            False,
            True,
            mlkem.MLKEM768PrivateKey.generate,
            (),
            ("ml-kem",),
            True,
        ),
        KeyAlgorithm(
            "ml-kem-1024",
            False,
            False,
            True,
            mlkem.MLKEM1024PrivateKey.generate,
            (),
            ("ml-kem",),
            True,
        ),
    )
}


def _gost(name: str) -> Callable[[], PrivateKey]:
    def generate() -> PrivateKey:
        from esign.gost.keys import generate as generate_gost

        return generate_gost(name)

    return generate


# GOST R 34.10-2012 (needs the ``gost`` extra), named after openssl's GOST engine parameter
# sets: gost2012-256-{a,b,c,xa,xb,tca,tcb,tcc,tcd}, gost2012-512-{a,b,c}.
for _name in GOST_NAMES:
    ALGORITHMS[_name] = KeyAlgorithm(_name, True, False, False, _gost(_name), ("gost2012",))


def names_for(use: KeyUse) -> list[str]:
    """The algorithm names fit for ``use``, sorted (e.g. every name that can sign)."""
    return sorted(name for name, algorithm in ALGORITHMS.items() if algorithm.fit_for(use))


def get_algorithm(name: str) -> KeyAlgorithm:
    """The :class:`KeyAlgorithm` of a name, or a named error listing the known names."""
    try:
        return ALGORITHMS[name]
    except KeyError:
        known = ", ".join(sorted(ALGORITHMS))
        raise UnsupportedAlgorithmError(f"unknown key algorithm {name!r}; known: {known}") from None


def generate_key(name: str) -> PrivateKey:
    """Generate a fresh private key of the named algorithm (see :data:`ALGORITHMS`)."""
    return get_algorithm(name).generate()


_EC_NAMES = {"secp256r1": "ec-p256", "secp384r1": "ec-p384", "secp521r1": "ec-p521"}

_CLASS_NAMES: tuple[tuple[tuple[type, ...], str], ...] = (
    ((ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey), "ed25519"),
    ((x25519.X25519PrivateKey, x25519.X25519PublicKey), "x25519"),
    ((mldsa.MLDSA44PrivateKey, mldsa.MLDSA44PublicKey), "ml-dsa-44"),
    ((mldsa.MLDSA65PrivateKey, mldsa.MLDSA65PublicKey), "ml-dsa-65"),
    ((mldsa.MLDSA87PrivateKey, mldsa.MLDSA87PublicKey), "ml-dsa-87"),
    ((mlkem.MLKEM768PrivateKey, mlkem.MLKEM768PublicKey), "ml-kem-768"),
    ((mlkem.MLKEM1024PrivateKey, mlkem.MLKEM1024PublicKey), "ml-kem-1024"),
)


def algorithm_name(key: PrivateKey | PublicKey) -> str:
    """The stable name of a key's algorithm, e.g. ``"ec-p256"`` or ``"ml-dsa-65"``."""
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return _EC_NAMES.get(key.curve.name, f"ec-{key.curve.name}")
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return f"rsa-{key.key_size}"
    if isinstance(key, (GostPrivateKey, GostPublicKey)):
        return key.paramset.key_name
    for classes, name in _CLASS_NAMES:
        if isinstance(key, classes):
            return name
    raise UnsupportedAlgorithmError(f"unsupported key type {type(key).__name__}")
