"""A certificate authority whose key is GOST R 34.10-2012: certificates, CRLs, OCSP.

It issues with esign's certificate profiles (``signing``, ``qualified-ru``, ``ca``, ...)
so a GOST ``qualified-ru`` certificate carries the same INN/SNILS/OGRN subject checks
and subjectSignTool / issuerSignTool / class policies as one on an EC key. Revocation
state is kept in memory here; the registry-backed :class:`esign.certs.CertificateAuthority`
does not sign with GOST keys.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID

from esign.certs.authority import BACKDATE, parse_name, utc_now
from esign.certs.profiles import QualifiedSettings, get_profile
from esign.errors import CertificateProfileError
from esign.gost import keys as gost_keys
from esign.gost.keys import GostPrivateKey, GostPublicKey
from esign.gost.x509 import (
    build_ocsp_response,
    placeholder_key,
    public_key_of,
    sign_certificate,
    sign_crl,
)

Clock = Callable[[], datetime.datetime]


def _usage(profile_usage: str, is_ca: bool, name: str) -> x509.KeyUsage:
    if profile_usage not in ("sign", "ca"):
        raise CertificateProfileError(
            f"profile {name!r} is for encryption keys; GOST keys here are for signing"
        )
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=not is_ca and name not in ("tsa", "ocsp"),
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=is_ca,
        crl_sign=is_ca,
        encipher_only=False,
        decipher_only=False,
    )


@dataclass
class _Revoked:
    serial: int
    when: datetime.datetime
    reason: x509.ReasonFlags


@dataclass
class GostAuthority:
    """An issuing CA with a GOST key (see the module docstring)."""

    key: GostPrivateKey
    certificate: x509.Certificate
    chain: list[x509.Certificate] = field(default_factory=list)
    clock: Clock = utc_now
    qualified: QualifiedSettings | None = None
    crl_url: str | None = None
    ocsp_url: str | None = None
    revoked: dict[int, _Revoked] = field(default_factory=dict)
    crl_number: int = 0

    @classmethod
    def create_root(
        cls,
        subject: str | x509.Name,
        *,
        key: GostPrivateKey | None = None,
        algorithm: str = "gost2012-256-tca",
        days: int = 3650,
        clock: Clock = utc_now,
        **options: object,
    ) -> GostAuthority:
        """A self-signed GOST root CA (a fresh key of ``algorithm`` unless one is given)."""
        key = key if key is not None else gost_keys.generate(algorithm)
        name = parse_name(subject)
        now = clock()
        public = key.public_key()
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(placeholder_key().public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_usage("ca", True, "ca"), critical=True)
            .add_extension(x509.SubjectKeyIdentifier(public.key_identifier()), critical=False)
        )
        certificate = sign_certificate(builder, key, public)
        return cls(key, certificate, clock=clock, **options)  # type: ignore[arg-type]

    def issue(
        self,
        public_key: GostPublicKey,
        *,
        subject: str | x509.Name,
        profile: str = "signing",
        days: int = 365,
        subject_sign_tool: str | None = None,
        path_length: int | None = None,
    ) -> x509.Certificate:
        """Issue a certificate for a GOST public key under an esign profile."""
        chosen = get_profile(profile)
        name = chosen.check_subject(parse_name(subject), self.qualified)
        now = self.clock()
        end = min(now + datetime.timedelta(days=days), self.certificate.not_valid_after_utc)
        if days <= 0:
            raise ValueError("validity must be at least one day")
        if now >= self.certificate.not_valid_after_utc:
            raise CertificateProfileError("the CA certificate has expired: it cannot issue")
        issuer_ski = self.certificate.extensions.get_extension_for_class(
            x509.SubjectKeyIdentifier
        ).value
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(self.certificate.subject)
            .public_key(placeholder_key().public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(end)
            .add_extension(
                x509.BasicConstraints(chosen.is_ca, path_length if chosen.is_ca else None),
                critical=True,
            )
            .add_extension(_usage(chosen.usage, chosen.is_ca, chosen.name), critical=True)
            .add_extension(x509.SubjectKeyIdentifier(public_key.key_identifier()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski),
                critical=False,
            )
        )
        if self.crl_url:
            point = x509.DistributionPoint(
                [x509.UniformResourceIdentifier(self.crl_url)], None, None, None
            )
            builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
        if self.ocsp_url:
            access = x509.AccessDescription(
                AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(self.ocsp_url)
            )
            builder = builder.add_extension(
                x509.AuthorityInformationAccess([access]), critical=False
            )
        for value, critical in chosen.extensions(
            self.qualified, subject_sign_tool=subject_sign_tool
        ):
            builder = builder.add_extension(value, critical=critical)
        return sign_certificate(builder, self.key, public_key)

    def create_intermediate(
        self,
        subject: str | x509.Name,
        *,
        key: GostPrivateKey | None = None,
        algorithm: str = "gost2012-256-tca",
        days: int = 1825,
        **options: object,
    ) -> GostAuthority:
        """A subordinate GOST CA signed by this one."""
        key = key if key is not None else gost_keys.generate(algorithm)
        certificate = self.issue(key.public_key(), subject=subject, profile="ca", days=days)
        return GostAuthority(
            key,
            certificate,
            chain=[self.certificate, *self.chain],
            clock=self.clock,
            **options,  # type: ignore[arg-type]
        )

    def revoke(
        self,
        certificate: x509.Certificate | int,
        reason: x509.ReasonFlags = x509.ReasonFlags.unspecified,
        at: datetime.datetime | None = None,
    ) -> None:
        """Record a revocation; the next :meth:`crl` lists it."""
        serial = certificate if isinstance(certificate, int) else certificate.serial_number
        self.revoked[serial] = _Revoked(serial, (at or self.clock()).replace(microsecond=0), reason)

    def crl(self, *, days: int = 7) -> x509.CertificateRevocationList:
        """A complete CRL of this CA's revocations, signed with its GOST key."""
        now = self.clock()
        self.crl_number += 1
        issuer_ski = self.certificate.extensions.get_extension_for_class(
            x509.SubjectKeyIdentifier
        ).value
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.certificate.subject)
            .last_update(now - BACKDATE)
            .next_update(now + datetime.timedelta(days=days))
            .add_extension(x509.CRLNumber(self.crl_number), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski),
                critical=False,
            )
        )
        for entry in self.revoked.values():
            revoked = (
                x509.RevokedCertificateBuilder()
                .serial_number(entry.serial)
                .revocation_date(entry.when)
                .add_extension(x509.CRLReason(entry.reason), critical=False)
                .build()
            )
            builder = builder.add_revoked_certificate(revoked)
        return sign_crl(builder, self.key)

    def ocsp_response(
        self,
        certificate: x509.Certificate,
        *,
        hash_algorithm: str = "sha1",
        days: int = 1,
    ) -> bytes:
        """A DER OCSP response (RFC 6960) for one certificate, signed by this CA's GOST key
        (the CA answers for itself: responder by key hash, as openssl expects).

        ``hash_algorithm`` names the CertID hash (``sha1`` as most clients ask, or
        ``sha256``); the response signature is GOST R 34.10-2012 over Streebog.
        """
        return build_ocsp_response(
            self.key,
            self.certificate,
            certificate,
            self.revoked.get(certificate.serial_number),
            now=self.clock(),
            hash_algorithm=hash_algorithm,
            days=days,
        )

    @property
    def public_key(self) -> GostPublicKey:
        return public_key_of(self.certificate)

    def certificates(self) -> Sequence[x509.Certificate]:
        """This CA's certificate and the chain above it."""
        return [self.certificate, *self.chain]
