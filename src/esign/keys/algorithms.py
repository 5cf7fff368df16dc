"""Key algorithms by stable name, and what each name is fit for.

This is the one place that says which key names can sign, agree keys or transport keys;
the rest of esign asks here instead of testing key classes itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa, x25519

from esign.errors import UnsupportedAlgorithmError

PrivateKey: TypeAlias = (
    ec.EllipticCurvePrivateKey
    | rsa.RSAPrivateKey
    | ed25519.Ed25519PrivateKey
    | x25519.X25519PrivateKey
)
PublicKey: TypeAlias = (
    ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey | x25519.X25519PublicKey
)


@dataclass(frozen=True)
class KeyAlgorithm:
    """A named key type and the jobs it may do."""

    name: str
    can_sign: bool
    can_agree: bool
    can_transport: bool
    generate: Callable[[], PrivateKey]


def _ec(curve: ec.EllipticCurve) -> Callable[[], PrivateKey]:
    return lambda: ec.generate_private_key(curve)


def _rsa(bits: int) -> Callable[[], PrivateKey]:
    return lambda: rsa.generate_private_key(public_exponent=65537, key_size=bits)


ALGORITHMS: dict[str, KeyAlgorithm] = {
    a.name: a
    for a in (
        KeyAlgorithm("ec-p256", True, True, False, _ec(ec.SECP256R1())),
        KeyAlgorithm("ec-p384", True, True, False, _ec(ec.SECP384R1())),
        KeyAlgorithm("ed25519", True, False, False, ed25519.Ed25519PrivateKey.generate),
        KeyAlgorithm("x25519", False, True, False, x25519.X25519PrivateKey.generate),
        KeyAlgorithm("rsa-3072", True, False, True, _rsa(3072)),
        KeyAlgorithm("rsa-4096", True, False, True, _rsa(4096)),
    )
}


def generate_key(name: str) -> PrivateKey:
    """Generate a fresh private key of the named algorithm (see :data:`ALGORITHMS`)."""
    try:
        algorithm = ALGORITHMS[name]
    except KeyError:
        known = ", ".join(sorted(ALGORITHMS))
        raise UnsupportedAlgorithmError(f"unknown key algorithm {name!r}; known: {known}") from None
    return algorithm.generate()


def algorithm_name(key: PrivateKey | PublicKey) -> str:
    """The stable name of a key's algorithm, e.g. ``"ec-p256"`` or ``"rsa-3072"``."""
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return {"secp256r1": "ec-p256", "secp384r1": "ec-p384", "secp521r1": "ec-p521"}.get(
            key.curve.name, f"ec-{key.curve.name}"
        )
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return f"rsa-{key.key_size}"
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        return "ed25519"
    if isinstance(key, (x25519.X25519PrivateKey, x25519.X25519PublicKey)):
        return "x25519"
    raise UnsupportedAlgorithmError(f"unsupported key type {type(key).__name__}")
