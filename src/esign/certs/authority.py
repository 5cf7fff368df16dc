"""A certificate authority: a key, its certificate, and X.509 issuance by profile."""

from __future__ import annotations

import datetime
from collections.abc import Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from esign.certs.profiles import get_profile
from esign.errors import CertificateProfileError, MalformedInputError
from esign.keys.algorithms import PrivateKey, PublicKey, generate_key

Clock = Callable[[], datetime.datetime]


def utc_now() -> datetime.datetime:
    """The default clock: timezone-aware UTC now."""
    return datetime.datetime.now(datetime.timezone.utc)


def parse_name(subject: str | x509.Name) -> x509.Name:
    """Accept an RFC 4514 string such as ``"CN=Ivanov,O=Tax Service"`` or a Name."""
    if isinstance(subject, x509.Name):
        return subject
    try:
        name = x509.Name.from_rfc4514_string(subject)
    except ValueError as exc:
        raise MalformedInputError(f"not a distinguished name: {subject!r} ({exc})") from exc
    if len(name) == 0:
        raise MalformedInputError("the distinguished name is empty")
    return name


def signature_hash(key: PrivateKey) -> hashes.HashAlgorithm | None:
    """The hash a CA key signs certificates with (None for Ed25519, which hashes itself)."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size >= 384:
        return hashes.SHA384()
    if isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        return hashes.SHA256()
    raise CertificateProfileError(f"a {type(key).__name__} cannot sign certificates")


class CertificateAuthority:
    """An issuing CA: its private key and certificate.

    ``create_root`` makes a self-signed root; ``create_intermediate`` a subordinate CA;
    ``issue`` end-entity (or CA) certificates by profile name.
    """

    def __init__(
        self,
        key: PrivateKey,
        certificate: x509.Certificate,
        *,
        chain: list[x509.Certificate] | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.key = key
        self.certificate = certificate
        self.chain = list(chain or [])
        self.clock = clock

    @classmethod
    def create_root(
        cls,
        subject: str | x509.Name,
        *,
        key: PrivateKey | None = None,
        algorithm: str = "ec-p256",
        days: int = 3650,
        path_length: int | None = None,
        clock: Clock = utc_now,
    ) -> CertificateAuthority:
        """Create a self-signed root CA (a fresh key unless one is given)."""
        key = key if key is not None else generate_key(algorithm)
        name = parse_name(subject)
        now = clock()
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
            .add_extension(get_profile("ca").key_usage(key.public_key()), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
        )
        certificate = builder.sign(key, signature_hash(key))  # type: ignore[arg-type]
        return cls(key, certificate, clock=clock)

    def create_intermediate(
        self,
        subject: str | x509.Name,
        *,
        key: PrivateKey | None = None,
        algorithm: str = "ec-p256",
        days: int = 1825,
        path_length: int | None = 0,
    ) -> CertificateAuthority:
        """Create a subordinate CA signed by this one."""
        key = key if key is not None else generate_key(algorithm)
        certificate = self._build(
            key.public_key(), parse_name(subject), "ca", days, path_length=path_length
        )
        return CertificateAuthority(
            key, certificate, chain=[self.certificate, *self.chain], clock=self.clock
        )

    def issue(
        self,
        public_key: PublicKey,
        *,
        subject: str | x509.Name,
        profile: str = "signing",
        days: int = 365,
        email: str | None = None,
    ) -> x509.Certificate:
        """Issue a certificate for ``public_key`` under the named profile."""
        return self._build(public_key, parse_name(subject), profile, days, email=email)

    def _build(
        self,
        public_key: PublicKey,
        subject: x509.Name,
        profile_name: str,
        days: int,
        *,
        path_length: int | None = None,
        email: str | None = None,
    ) -> x509.Certificate:
        if days <= 0:
            raise CertificateProfileError("validity must be at least one day")
        profile = get_profile(profile_name)
        now = self.clock()
        not_after = min(now + datetime.timedelta(days=days), self.certificate.not_valid_after_utc)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(not_after)
            .add_extension(
                x509.BasicConstraints(
                    ca=profile.is_ca, path_length=path_length if profile.is_ca else None
                ),
                critical=True,
            )
            .add_extension(profile.key_usage(public_key), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    self.certificate.public_key()  # type: ignore[arg-type]
                ),
                critical=False,
            )
        )
        ekus = profile.extended_key_usage()
        if ekus:
            builder = builder.add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
        if email:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False
            )
        return builder.sign(self.key, signature_hash(self.key))  # type: ignore[arg-type]
