"""Certificate profiles: what a certificate may be used for, as one documented value each.

A profile turns "a signing certificate for this key" into key usages, extended key usages
and basic constraints, and refuses a key that cannot do the job (an X25519 key cannot sign).
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa, x25519
from cryptography.x509.oid import ExtendedKeyUsageOID

from esign.errors import CertificateProfileError
from esign.keys.algorithms import ALGORITHMS, PublicKey, algorithm_name


def _usage(**flags: bool) -> x509.KeyUsage:
    names = (
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
        "encipher_only",
        "decipher_only",
    )
    return x509.KeyUsage(**{name: flags.get(name, False) for name in names})


@dataclass(frozen=True)
class Profile:
    """A named certificate profile."""

    name: str
    description: str
    is_ca: bool = False

    def key_usage(self, public_key: PublicKey) -> x509.KeyUsage:
        """The keyUsage extension for ``public_key``, or a profile error if it cannot fit."""
        algorithm = ALGORITHMS.get(algorithm_name(public_key))
        if self.name in ("signing", "ca"):
            if algorithm is None or not algorithm.can_sign:
                raise CertificateProfileError(
                    f"profile {self.name!r} needs a signing key; "
                    f"{algorithm_name(public_key)} cannot sign"
                )
            if self.is_ca:
                return _usage(digital_signature=True, key_cert_sign=True, crl_sign=True)
            return _usage(digital_signature=True, content_commitment=True)
        if self.name == "encryption":
            if isinstance(public_key, rsa.RSAPublicKey):
                return _usage(key_encipherment=True)
            if isinstance(public_key, (ec.EllipticCurvePublicKey, x25519.X25519PublicKey)):
                return _usage(key_agreement=True)
            raise CertificateProfileError(
                f"profile 'encryption' needs an RSA, EC or X25519 key, "
                f"not {algorithm_name(public_key)}"
            )
        raise CertificateProfileError(f"unknown profile {self.name!r}")

    def extended_key_usage(self) -> list[x509.ObjectIdentifier]:
        """Extended key usages the profile asserts (none means "any" is not granted)."""
        if self.name == "signing":
            return [ExtendedKeyUsageOID.EMAIL_PROTECTION]
        if self.name == "encryption":
            return [ExtendedKeyUsageOID.EMAIL_PROTECTION]
        return []


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("signing", "end-entity signing: digitalSignature + nonRepudiation"),
        Profile("encryption", "end-entity encryption: keyEncipherment (RSA) or keyAgreement (EC)"),
        Profile("ca", "certificate authority: keyCertSign + cRLSign, basicConstraints CA", True),
    )
}


def get_profile(name: str) -> Profile:
    """Look a profile up by name, with a clear error listing the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise CertificateProfileError(
            f"unknown profile {name!r}; known: {', '.join(sorted(PROFILES))}"
        ) from None
