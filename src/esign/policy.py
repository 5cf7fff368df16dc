"""Cryptographic policy: which algorithms a verifier accepts, with a named reason if not.

SHA-1, MD5, RSA below 2048 bits and DSA are refused by default; a caller may opt in to
legacy algorithms (``legacy=True``) to read old archives.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import dsa, rsa

from esign.keys.algorithms import PublicKey

WEAK_DIGESTS = frozenset({"md2", "md5", "sha1"})
LEGACY_DIGESTS = frozenset({"sha1"})
MIN_RSA_BITS = 2048


@dataclass(frozen=True)
class AlgorithmPolicy:
    """What the verifier accepts. ``legacy`` admits SHA-1, short RSA and DSA (never MD5)."""

    legacy: bool = False

    def digest_refusal(self, digest: str) -> str | None:
        """Why ``digest`` (asn1crypto name, e.g. ``"sha1"``) is refused, or None."""
        if digest in WEAK_DIGESTS and not (self.legacy and digest in LEGACY_DIGESTS):
            hint = "" if digest not in LEGACY_DIGESTS else " (opt in to legacy algorithms)"
            return f"digest algorithm {digest} is refused by the algorithm policy{hint}"
        return None

    def key_refusal(self, key: object) -> str | None:
        """Why a signer's public key is refused, or None."""
        if isinstance(key, dsa.DSAPublicKey) and not self.legacy:
            return "DSA keys are refused by the algorithm policy (opt in to legacy algorithms)"
        if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS and not self.legacy:
            return (
                f"RSA-{key.key_size} is below the {MIN_RSA_BITS}-bit minimum of the "
                "algorithm policy (opt in to legacy algorithms)"
            )
        return None


def default_digest_for(key: PublicKey) -> str:
    """The digest esign pairs with a signing key: strength-matched, as RFCs recommend."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    if isinstance(key, ed25519.Ed25519PublicKey):
        return "sha512"  # RFC 8419
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.key_size >= 384:
        return "sha384"
    return "sha256"
