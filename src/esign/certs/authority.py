"""A certificate authority: a key, its certificate, a registry, and X.509 issuance by profile.

Everything a CA does goes through its registry: a certificate is returned only after it
is recorded (so a busy registry leaves nothing half-issued), revocations are recorded
there, and CRLs and OCSP responses are built from it.

A CA lives in memory (``create_root``: a :class:`~esign.certs.registry.MemoryRegistry`)
or in a folder (``init_folder`` / ``open_folder``)::

    DIR/ca.pem            the CA certificate
    DIR/ca.key.pem        its private key, encrypted PKCS#8
    DIR/chain.pem         the certificates above it (intermediate CAs only)
    DIR/registry.sqlite3  issued certificates, revocations, CRL numbers (by default)
    DIR/ca.json           URLs for AIA/CRL distribution points, qualified settings, and
                          the registry URL when it lives elsewhere (``postgresql://...``)
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asn1crypto import core
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from esign.certs import qualified as q
from esign.certs.csr import load_csr
from esign.certs.handle_signing import handle_hash, sign_certificate
from esign.certs.loading import load_certificate, load_certificates
from esign.certs.profiles import IssuerSignTool, Profile, QualifiedSettings, get_profile
from esign.certs.registry import (
    IssuedRecord,
    MemoryRegistry,
    Registry,
    Revocation,
    SerialInUseError,
    open_registry,
    parse_reason,
)
from esign.certs.revocation import build_crl, build_ocsp_response
from esign.errors import (
    CertificateNotFoundError,
    CertificateProfileError,
    EsignError,
    KeyUsageError,
    MalformedInputError,
    RegistryError,
    RevocationError,
)
from esign.gost.keys import GostPublicKey
from esign.keys.algorithms import PrivateKey, PublicKey, generate_key
from esign.keys.handle import KeyHandle, LocalKey
from esign.keys.storage import load_key, save_key

Clock = Callable[[], datetime.datetime]

CA_CERT, CA_KEY, CHAIN, REGISTRY, CONFIG = (
    "ca.pem",
    "ca.key.pem",
    "chain.pem",
    "registry.sqlite3",
    "ca.json",
)
#: How far back notBefore is set, so a relying party with a slightly slow clock accepts it.
BACKDATE = datetime.timedelta(minutes=5)
#: Redraws of a colliding serial before giving up (a collision of 159 random bits is a bug).
SERIAL_ATTEMPTS = 4


def utc_now() -> datetime.datetime:
    """The default clock: timezone-aware UTC now."""
    return datetime.datetime.now(datetime.timezone.utc)


#: Attribute keywords beyond RFC 4514's (any case), as openssl and ETSI documents write them.
NAME_KEYWORDS: dict[str, x509.ObjectIdentifier] = {
    **q.RU_NAME_KEYWORDS,
    "SN": NameOID.SURNAME,
    "surname": NameOID.SURNAME,
    "GN": NameOID.GIVEN_NAME,
    "givenName": NameOID.GIVEN_NAME,
    "serialNumber": NameOID.SERIAL_NUMBER,
    "pseudonym": NameOID.PSEUDONYM,
    "title": NameOID.TITLE,
    "emailAddress": NameOID.EMAIL_ADDRESS,
    "organizationIdentifier": NameOID.ORGANIZATION_IDENTIFIER,
}

_OVERRIDES = {
    variant: oid
    for keyword, oid in NAME_KEYWORDS.items()
    for variant in (keyword, keyword.upper(), keyword.lower())
}


def parse_name(subject: str | x509.Name) -> x509.Name:
    """Accept an RFC 4514 string such as ``"CN=Ivanov,O=Tax Service"`` or a Name.

    Besides the RFC 4514 keywords, ``SN``/``GN``/``serialNumber``/``pseudonym`` and the
    Russian ``INN``, ``INNLE``, ``SNILS``, ``OGRN``, ``OGRNIP`` are understood.
    """
    if isinstance(subject, x509.Name):
        return subject
    try:
        name = x509.Name.from_rfc4514_string(subject, attr_name_overrides=_OVERRIDES)
    except ValueError as exc:
        detail = str(exc) or "expected RFC 4514 form, e.g. 'CN=Ivan Ivanov,O=Tax Service'"
        raise MalformedInputError(f"not a distinguished name: {subject!r} ({detail})") from exc
    if len(name) == 0:
        raise MalformedInputError("the distinguished name is empty")
    return name


_GOST_CA = "GOST R 34.10-2012 keys are certified by a GOST CA: esign.gost.authority.GostAuthority"


def signature_hash(key: PrivateKey | KeyHandle) -> hashes.HashAlgorithm | None:
    """The hash a CA key signs certificates with (None for Ed25519 and ML-DSA, which hash
    internally)."""
    if isinstance(key, LocalKey):
        key = key.private_key
    if isinstance(key, KeyHandle):
        return handle_hash(key)
    if isinstance(
        key,
        (
            ed25519.Ed25519PrivateKey,
            mldsa.MLDSA44PrivateKey,
            mldsa.MLDSA65PrivateKey,
            mldsa.MLDSA87PrivateKey,
        ),
    ):
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size >= 384:
        return hashes.SHA384()
    if isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        return hashes.SHA256()
    raise CertificateProfileError(f"a {type(key).__name__} cannot sign certificates")


#: The end of X.509 time (RFC 5280 §4.1.2.5: GeneralizedTime up to 9999-12-31).
MAX_NOT_AFTER = datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=datetime.timezone.utc)


def _valid_until(now: datetime.datetime, days: int, limit: datetime.datetime) -> datetime.datetime:
    """``now + days``, but never past ``limit`` (the CA's own end, or the end of X.509 time)."""
    if days > (limit - now).days:
        return limit
    return now + datetime.timedelta(days=days)


def _extension(
    value: x509.ExtensionType, critical: bool = False
) -> x509.Extension[x509.ExtensionType]:
    return x509.Extension(value.oid, critical, value)


def _point(url: str) -> x509.DistributionPoint:
    return x509.DistributionPoint([x509.UniformResourceIdentifier(url)], None, None, None)


def _ski(certificate: x509.Certificate) -> x509.SubjectKeyIdentifier:
    try:
        return certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return x509.SubjectKeyIdentifier.from_public_key(certificate.public_key())


@dataclass(frozen=True)
class IssueRequest:
    """One certificate to issue in :meth:`CertificateAuthority.issue_batch`."""

    public_key: PublicKey
    subject: str | x509.Name
    profile: str = "signing"
    days: int = 365
    emails: tuple[str, ...] = ()
    uris: tuple[str, ...] = ()
    subject_sign_tool: str | None = None


class CertificateAuthority:
    """An issuing CA: its private key, certificate, registry and publication URLs.

    ``create_root`` makes a self-signed root; ``create_intermediate`` a subordinate CA;
    ``issue`` / ``issue_from_csr`` certificates by profile; ``revoke``, ``reissue``
    (the forgotten-password flow), ``crl``, ``delta_crl`` and ``ocsp_response`` publish
    revocation. ``crl_url`` / ``ocsp_url`` / ``ca_issuers_url`` go into every issued
    certificate (CRL distribution points, authority information access); ``delta_crl_url``
    goes into certificates and complete CRLs as the Freshest CRL pointer (RFC 5280 §5.2.6).
    """

    def __init__(
        self,
        key: PrivateKey | KeyHandle,
        certificate: x509.Certificate,
        *,
        chain: list[x509.Certificate] | None = None,
        clock: Clock = utc_now,
        registry: Registry | None = None,
        crl_url: str | None = None,
        ocsp_url: str | None = None,
        ca_issuers_url: str | None = None,
        delta_crl_url: str | None = None,
        qualified: QualifiedSettings | None = None,
        serial_numbers: Callable[[], int] = x509.random_serial_number,
    ) -> None:
        self.key = key
        self.certificate = certificate
        self.chain = list(chain or [])
        self.clock = clock
        self.registry: Registry = registry if registry is not None else MemoryRegistry()
        self.registry.bind(certificate)
        self.crl_url = crl_url
        self.ocsp_url = ocsp_url
        self.ca_issuers_url = ca_issuers_url
        self.delta_crl_url = delta_crl_url
        self.qualified = qualified
        self.serial_numbers = serial_numbers
        self._hash = signature_hash(key)
        self._aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
            _ski(certificate)
        )
        self._constraints = certificate.extensions.get_extension_for_class(
            x509.BasicConstraints
        ).value
        self._ca_extensions = self._publication_extensions()
        self._extension_cache: dict[
            tuple[str, str | None], list[x509.Extension[x509.ExtensionType]]
        ] = {}

    def __repr__(self) -> str:
        kind = "root" if self.certificate.issuer == self.certificate.subject else "intermediate"
        return (
            f"<CertificateAuthority {self.certificate.subject.rfc4514_string()} ({kind}): "
            f"{self.registry.count()} issued, {len(self.registry.revoked())} revoked>"
        )

    def _repr_html_(self) -> str:
        from esign.html_views import authority_html

        return authority_html(self)

    # -- creating CAs ----------------------------------------------------------------------

    @classmethod
    def create_root(
        cls,
        subject: str | x509.Name,
        *,
        key: PrivateKey | KeyHandle | None = None,
        algorithm: str = "ec-p256",
        days: int = 3650,
        path_length: int | None = None,
        clock: Clock = utc_now,
        **options: Any,
    ) -> CertificateAuthority:
        """Create a self-signed root CA (a fresh key unless one is given).

        ``options`` are those of the constructor (``registry``, ``crl_url``, ...).
        """
        key = key if key is not None else generate_key(algorithm)
        if days <= 0:
            raise ValueError("validity must be at least one day")
        name = parse_name(subject)
        now = clock()
        public = key.public_key()
        if isinstance(public, GostPublicKey):  # GOST: esign.gost.authority.GostAuthority
            raise CertificateProfileError(_GOST_CA)
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(_valid_until(now, days, MAX_NOT_AFTER))
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
            .add_extension(get_profile("ca").key_usage(public), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        )
        certificate = sign_certificate(builder, key, signature_hash(key))
        return cls(key, certificate, clock=clock, **options)

    def create_intermediate(
        self,
        subject: str | x509.Name,
        *,
        key: PrivateKey | KeyHandle | None = None,
        algorithm: str = "ec-p256",
        days: int = 1825,
        path_length: int | None = 0,
        **options: Any,
    ) -> CertificateAuthority:
        """Create a subordinate CA signed by this one (and recorded in this CA's registry)."""
        key = key if key is not None else generate_key(algorithm)
        certificate = self.issue(
            key.public_key(), subject=subject, profile="ca", days=days, path_length=path_length
        )
        return CertificateAuthority(
            key, certificate, chain=[self.certificate, *self.chain], clock=self.clock, **options
        )

    # -- issuing ---------------------------------------------------------------------------

    def issue(
        self,
        public_key: PublicKey,
        *,
        subject: str | x509.Name,
        profile: str = "signing",
        days: int = 365,
        email: str | None = None,
        emails: Sequence[str] = (),
        uris: Sequence[str] = (),
        path_length: int | None = None,
        subject_sign_tool: str | None = None,
    ) -> x509.Certificate:
        """Issue and record a certificate for ``public_key`` under the named profile.

        Returns only once the registry committed it. Raises
        :class:`~esign.errors.RegistryBusyError` / ``RegistryUnavailableError`` (retry
        after ``retry_after``) when it cannot, with nothing issued.
        """
        all_emails = [*([email] if email else []), *emails]
        return self._issue(
            public_key,
            parse_name(subject),
            get_profile(profile),
            days,
            emails=all_emails,
            uris=list(uris),
            path_length=path_length,
            subject_sign_tool=subject_sign_tool,
        )

    def issue_from_csr(
        self,
        csr: bytes | x509.CertificateSigningRequest,
        *,
        profile: str = "signing",
        subject: str | x509.Name | None = None,
        days: int = 365,
        emails: Sequence[str] = (),
        uris: Sequence[str] = (),
        path_length: int | None = None,
        subject_sign_tool: str | None = None,
    ) -> x509.Certificate:
        """Issue from a PKCS#10 request whose signature verifies (refused otherwise).

        The request gives the key, the subject (unless ``subject`` overrides it) and its
        e-mail/URI alternative names; ``emails`` and ``uris`` add to those (the CA may
        know an address the requester left out), ``path_length`` is for the ``ca``
        profile. Usages come from the profile only.
        """
        request = load_csr(csr)
        name = parse_name(subject) if subject is not None else request.subject
        if len(name) == 0:
            raise CertificateProfileError("the request has an empty subject: give subject=...")
        return self._issue(
            request.public_key,
            name,
            get_profile(profile),
            days,
            emails=list(dict.fromkeys([*request.emails, *emails])),
            uris=list(dict.fromkeys([*request.uris, *uris])),
            path_length=path_length,
            subject_sign_tool=subject_sign_tool,
        )

    def issue_batch(self, requests: Sequence[IssueRequest]) -> list[x509.Certificate]:
        """Issue many certificates and record them in one registry transaction.

        All or nothing: either every certificate is recorded and returned (in order), or
        an error is raised and none is. Under load this is how a portal keeps up: one
        durable commit for a batch instead of one per certificate.
        """
        prepared = [
            (
                *self._builder(
                    r.public_key,
                    parse_name(r.subject),
                    get_profile(r.profile),
                    r.days,
                    emails=list(r.emails),
                    uris=list(r.uris),
                    path_length=None,
                    subject_sign_tool=r.subject_sign_tool,
                ),
                r.profile,
            )
            for r in requests
        ]
        certificates = [self._sign(builder) for builder, _, _ in prepared]
        for _ in range(SERIAL_ATTEMPTS):
            seen: set[int] = set()
            for i, certificate in enumerate(certificates):  # a repeat inside the batch
                if certificate.serial_number in seen:
                    certificates[i] = self._sign(prepared[i][0])
                seen.add(certificates[i].serial_number)
            records = [
                IssuedRecord.of(c, profile, subject=name)
                for c, (_, name, profile) in zip(certificates, prepared, strict=True)
            ]
            try:
                self.registry.add_many(records)
            except SerialInUseError as exc:
                certificates = [
                    self._sign(builder) if c.serial_number in exc.serials else c
                    for c, (builder, _, _) in zip(certificates, prepared, strict=True)
                ]
                continue
            return certificates
        raise EsignError("could not draw unused serial numbers; the serial source is broken")

    def _sign(self, builder: x509.CertificateBuilder) -> x509.Certificate:
        serial = self.serial_numbers()
        if not 0 < serial < 1 << 159:
            raise ValueError(
                "the serial source gave a serial that is not positive or over 20 octets"
            )
        return sign_certificate(builder.serial_number(serial), self.key, self._hash)

    def _issue(
        self,
        public_key: PublicKey,
        subject: x509.Name,
        profile: Profile,
        days: int,
        *,
        emails: list[str],
        uris: list[str],
        path_length: int | None = None,
        subject_sign_tool: str | None = None,
        replaces: Revocation | None = None,
    ) -> x509.Certificate:
        builder, name = self._builder(
            public_key,
            subject,
            profile,
            days,
            emails=emails,
            uris=uris,
            path_length=path_length,
            subject_sign_tool=subject_sign_tool,
        )
        for _ in range(SERIAL_ATTEMPTS):
            certificate = self._sign(builder)
            record = IssuedRecord.of(certificate, profile.name, subject=name)
            try:
                self.registry.add(record, revoke=replaces)
            except SerialInUseError:
                continue
            return certificate
        raise EsignError("could not draw an unused serial number; the serial source is broken")

    def _builder(
        self,
        public_key: PublicKey,
        subject: x509.Name,
        profile: Profile,
        days: int,
        *,
        emails: list[str],
        uris: list[str],
        path_length: int | None,
        subject_sign_tool: str | None,
    ) -> tuple[x509.CertificateBuilder, x509.Name]:
        """The builder (everything but the serial) and the subject name it holds."""
        if days <= 0:
            raise ValueError("validity must be at least one day")
        if isinstance(public_key, GostPublicKey):  # GOST: esign.gost.authority.GostAuthority
            raise CertificateProfileError(_GOST_CA)
        key_usage = profile.key_usage(public_key)
        subject = profile.check_subject(subject, self.qualified)
        profile_extensions = self._profile_extensions(profile, subject_sign_tool)
        now = self.clock()
        ca_end = self.certificate.not_valid_after_utc
        if now >= ca_end:
            raise CertificateProfileError("the CA certificate has expired; it cannot issue")
        if path_length is not None and not profile.is_ca:  # arguments that exclude each other
            raise ValueError(f"a path length applies only to the ca profile, not {profile.name!r}")
        if profile.is_ca:
            ca_length = self._constraints.path_length
            if ca_length == 0:
                raise CertificateProfileError("this CA's path length is 0: it cannot issue CAs")
            if path_length is not None and ca_length is not None:
                path_length = min(path_length, ca_length - 1)
        constraints = x509.BasicConstraints(
            ca=profile.is_ca, path_length=path_length if profile.is_ca else None
        )
        extensions = [
            x509.Extension(constraints.oid, True, constraints),
            x509.Extension(key_usage.oid, True, key_usage),
            _extension(x509.SubjectKeyIdentifier.from_public_key(public_key)),
            *self._ca_extensions,
        ]
        try:
            names: list[x509.GeneralName] = [x509.RFC822Name(e) for e in emails]
            names += [x509.UniformResourceIdentifier(u) for u in uris]
        except ValueError as exc:  # e.g. a non-ASCII address (IDNA must be encoded first)
            raise MalformedInputError(f"not an e-mail address or URI: {exc}") from exc
        if names:
            extensions.insert(3, _extension(x509.SubjectAlternativeName(names)))
        extensions += profile_extensions
        # The constructor takes the whole list at once (add_extension copies it each time).
        builder = x509.CertificateBuilder(
            issuer_name=self.certificate.subject,
            subject_name=subject,
            public_key=public_key,
            not_valid_before=now - BACKDATE,
            not_valid_after=_valid_until(now, days, ca_end),
            extensions=extensions,
        )
        return builder, subject

    def _profile_extensions(
        self, profile: Profile, subject_sign_tool: str | None
    ) -> list[x509.Extension[x509.ExtensionType]]:
        """A profile's extensions for this CA, built once per (profile, sign tool)."""
        key = (profile.name, subject_sign_tool)
        cached = self._extension_cache.get(key)
        if cached is None:
            cached = [
                _extension(value, critical)
                for value, critical in profile.extensions(
                    self.qualified, subject_sign_tool=subject_sign_tool
                )
            ]
            self._extension_cache[key] = cached
        return cached

    def _publication_extensions(self) -> list[x509.Extension[x509.ExtensionType]]:
        """AKI, AIA, CRL distribution points, Freshest CRL: the same in every certificate."""
        out = [_extension(self._aki)]
        access = []
        if self.ocsp_url:
            access.append(
                x509.AccessDescription(
                    AuthorityInformationAccessOID.OCSP,
                    x509.UniformResourceIdentifier(self.ocsp_url),
                )
            )
        if self.ca_issuers_url:
            access.append(
                x509.AccessDescription(
                    AuthorityInformationAccessOID.CA_ISSUERS,
                    x509.UniformResourceIdentifier(self.ca_issuers_url),
                )
            )
        if access:
            out.append(_extension(x509.AuthorityInformationAccess(access)))
        if self.crl_url:
            out.append(_extension(x509.CRLDistributionPoints([_point(self.crl_url)])))
        if self.delta_crl_url:
            out.append(_extension(x509.FreshestCRL([_point(self.delta_crl_url)])))
        return out

    # -- revocation --------------------------------------------------------------------------

    def _serial(self, certificate: int | x509.Certificate) -> int:
        if isinstance(certificate, int):
            return certificate
        if certificate.issuer != self.certificate.subject:
            raise CertificateNotFoundError("the certificate was not issued by this CA")
        return certificate.serial_number

    def _revocation(
        self,
        serial: int,
        reason: str | x509.ReasonFlags,
        at: datetime.datetime | None,
        invalidity_date: datetime.datetime | None,
    ) -> Revocation:
        now = self.clock()
        moment = at if at is not None else now
        if moment.tzinfo is None:
            raise ValueError("a revocation time must be timezone-aware")
        if moment > now:
            raise RevocationError("a revocation cannot be dated in the future")
        return Revocation(serial, parse_reason(reason), moment, invalidity_date)

    def revoke(
        self,
        certificate: int | x509.Certificate,
        reason: str | x509.ReasonFlags = "unspecified",
        *,
        at: datetime.datetime | None = None,
        invalidity_date: datetime.datetime | None = None,
    ) -> IssuedRecord:
        """Revoke a certificate this CA issued (by serial or certificate), at ``at``.

        Reasons are RFC 5280 names (``keyCompromise``, ``superseded``, ...); revocation is
        final (no certificateHold). Unknown serials raise ``CertificateNotFoundError``.
        """
        serial = self._serial(certificate)
        return self.registry.revoke(self._revocation(serial, reason, at, invalidity_date))

    def reissue(
        self,
        certificate: int | x509.Certificate,
        new_public_key: PublicKey,
        *,
        reason: str | x509.ReasonFlags = "superseded",
        at: datetime.datetime | None = None,
        days: int = 365,
        subject_sign_tool: str | None = None,
    ) -> x509.Certificate:
        """The forgotten-password flow: revoke the current certificate, issue one for a new key.

        The new certificate has the old one's subject, profile and alternative names.
        Both steps are one registry transaction: either the old certificate is revoked
        *and* the new one recorded, or nothing changed. ``reason`` is ``superseded`` (the
        key is simply lost) or ``keyCompromise`` (it may be in someone else's hands).
        """
        serial = self._serial(certificate)
        record = self.registry.get(serial)
        if record is None:
            raise CertificateNotFoundError(f"no certificate with serial {serial:x}")
        flag = parse_reason(reason)
        if flag not in (x509.ReasonFlags.superseded, x509.ReasonFlags.key_compromise):
            raise RevocationError("re-issue revokes with reason superseded or keyCompromise")
        old = record.certificate
        if old.public_key() == new_public_key:
            raise CertificateProfileError("re-issue needs a new key, not the revoked one")
        emails: list[str] = []
        uris: list[str] = []
        try:
            san = old.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            emails = san.get_values_for_type(x509.RFC822Name)
            uris = san.get_values_for_type(x509.UniformResourceIdentifier)
        except x509.ExtensionNotFound:
            pass
        tool = subject_sign_tool
        if tool is None:
            try:
                raw = old.extensions.get_extension_for_oid(q.RU_SUBJECT_SIGN_TOOL).value
                tool = core.UTF8String.load(raw.value).native  # type: ignore[attr-defined]
            except x509.ExtensionNotFound:
                pass
        return self._issue(
            new_public_key,
            old.subject,
            get_profile(record.profile),
            days,
            emails=emails,
            uris=uris,
            subject_sign_tool=tool,
            replaces=self._revocation(serial, flag, at, None),
        )

    def crl(
        self, *, next_update: datetime.timedelta = datetime.timedelta(days=7)
    ) -> x509.CertificateRevocationList:
        """A complete CRL: every revocation, a fresh CRL number, nextUpdate as given."""
        now = self.clock()
        number = self.registry.next_crl_number(now, delta_base=None)
        return build_crl(
            issuer=self.certificate,
            key=self.key,
            entries=self.registry.revoked(),
            number=number,
            this_update=now,
            next_update=now + next_update,
            freshest_crl_url=self.delta_crl_url,
            hash_algorithm=self._hash,
        )

    def delta_crl(
        self, *, next_update: datetime.timedelta = datetime.timedelta(days=1)
    ) -> x509.CertificateRevocationList:
        """A delta CRL: revocations since the last complete CRL (its base, RFC 5280 §5.2.4)."""
        base = self.registry.last_complete_crl()
        if base is None:
            raise RevocationError("a delta CRL needs a complete CRL first: call crl()")
        now = self.clock()
        number = self.registry.next_crl_number(now, delta_base=base)
        return build_crl(
            issuer=self.certificate,
            key=self.key,
            entries=self.registry.revoked(after_crl=base),
            number=number,
            this_update=now,
            next_update=now + next_update,
            delta_base=base,
            hash_algorithm=self._hash,
        )

    def ocsp_response(
        self,
        request: bytes,
        *,
        responder: tuple[PrivateKey | KeyHandle, x509.Certificate] | None = None,
        validity: datetime.timedelta = datetime.timedelta(hours=1),
    ) -> bytes:
        """Answer a DER OCSP request from the registry: good, revoked or unknown.

        Signed by the CA itself, or by ``responder``: a delegated responder certificate
        this CA issued with the ``ocsp`` profile (OCSPSigning EKU, ocsp-nocheck).
        """
        key, certificate = responder if responder is not None else (self.key, self.certificate)
        if responder is not None:
            try:
                ekus = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            except x509.ExtensionNotFound:
                ekus = x509.ExtendedKeyUsage([])
            if x509.oid.ExtendedKeyUsageOID.OCSP_SIGNING not in ekus:
                raise KeyUsageError(
                    "a delegated OCSP responder needs the OCSPSigning EKU (profile 'ocsp')"
                )
            if certificate.issuer != self.certificate.subject:
                raise CertificateProfileError("the OCSP responder must be issued by this CA")
        return build_ocsp_response(
            request,
            issuer=self.certificate,
            lookup=self.registry.get,
            responder_key=key,
            responder_certificate=certificate,
            now=self.clock(),
            validity=validity,
            hash_algorithm=signature_hash(key),
        )

    # -- a CA in a folder -------------------------------------------------------------------

    @classmethod
    def init_folder(
        cls,
        folder: str | os.PathLike[str],
        subject: str | x509.Name,
        *,
        password: str | bytes | None,
        algorithm: str = "ec-p256",
        days: int = 3650,
        parent: CertificateAuthority | None = None,
        key: PrivateKey | KeyHandle | None = None,
        key_location: str | None = None,
        path_length: int | None = None,
        crl_url: str | None = None,
        ocsp_url: str | None = None,
        ca_issuers_url: str | None = None,
        qualified: QualifiedSettings | None = None,
        clock: Clock = utc_now,
        registry: str | None = None,
        delta_crl_url: str | None = None,
    ) -> CertificateAuthority:
        """Create a CA in ``folder`` (a root, or an intermediate under ``parent``).

        The URLs (``crl_url``, ``delta_crl_url``, ``ocsp_url``, ``ca_issuers_url``) are
        recorded in ``ca.json``: every certificate and CRL the folder CA makes later
        names them.

        ``registry`` is a store URL (``postgresql://...``, ``sqlite:///PATH``); it is
        recorded in ``ca.json`` and used by every later :meth:`open_folder`. Default: an
        SQLite file in the folder.
        A fresh key is made and saved encrypted with ``password`` unless ``key`` is
        given; a key handle (a vault entry, a token key) stays where it is: the folder
        records only ``key_location`` (e.g. a ``pkcs11:`` URI), for whoever opens it.
        """
        target = Path(folder)
        registry_url = _registry_url(registry)
        if (target / CA_CERT).exists() or (target / CA_KEY).exists():
            raise EsignError(f"{target} already holds a CA; refusing to overwrite it")
        subject = parse_name(subject)  # refuse bad input before anything touches the disk
        created_folder = not target.exists()
        before = set(target.iterdir()) if target.exists() else set()
        target.mkdir(parents=True, exist_ok=True)
        try:
            return cls._init_in(
                target, subject, password, algorithm, days, parent, path_length,
                crl_url, ocsp_url, ca_issuers_url, qualified, clock, registry_url, key,
                key_location, delta_crl_url,
            )  # fmt: skip
        except BaseException:
            # Leave the folder as it was: a half-made CA would block the retry.
            for path in set(target.iterdir()) - before:
                with contextlib.suppress(OSError):
                    path.unlink()
            if created_folder:
                with contextlib.suppress(OSError):
                    target.rmdir()
            raise

    @classmethod
    def _init_in(
        cls,
        target: Path,
        subject: x509.Name,
        password: str | bytes | None,
        algorithm: str,
        days: int,
        parent: CertificateAuthority | None,
        path_length: int | None,
        crl_url: str | None,
        ocsp_url: str | None,
        ca_issuers_url: str | None,
        qualified: QualifiedSettings | None,
        clock: Clock,
        registry_url: str | None,
        key: PrivateKey | KeyHandle | None = None,
        key_location: str | None = None,
        delta_crl_url: str | None = None,
    ) -> CertificateAuthority:
        options: dict[str, Any] = {
            "registry": open_registry(registry_url or target / REGISTRY),
            "crl_url": crl_url,
            "delta_crl_url": delta_crl_url,
            "ocsp_url": ocsp_url,
            "ca_issuers_url": ca_issuers_url,
            "qualified": qualified,
        }
        if parent is None:
            ca = cls.create_root(
                subject,
                key=key,
                algorithm=algorithm,
                days=days,
                path_length=path_length,
                clock=clock,
                **options,
            )
        else:
            ca = parent.create_intermediate(
                subject,
                key=key,
                algorithm=algorithm,
                days=days,
                path_length=path_length,
                **options,
            )
        in_memory = ca.key.private_key if isinstance(ca.key, LocalKey) else ca.key
        if not isinstance(in_memory, KeyHandle):
            if password is None:
                raise ValueError("a CA key saved in the folder needs a password")
            save_key(in_memory, target / CA_KEY, password)
        (target / CA_CERT).write_bytes(ca.certificate.public_bytes(Encoding.PEM))
        if ca.chain:
            (target / CHAIN).write_bytes(b"".join(c.public_bytes(Encoding.PEM) for c in ca.chain))
        config = {
            "crl_url": crl_url,
            "delta_crl_url": delta_crl_url,
            "ocsp_url": ocsp_url,
            "ca_issuers_url": ca_issuers_url,
            "qualified": _settings_to_json(qualified),
        }
        if registry_url is not None:
            config["registry"] = registry_url
        if key_location is not None:
            config["key"] = key_location
        (target / CONFIG).write_text(json.dumps(config, indent=2) + "\n")
        return ca

    @classmethod
    def open_folder(
        cls,
        folder: str | os.PathLike[str],
        *,
        password: str | bytes | None,
        clock: Clock = utc_now,
        busy_timeout: float = 5.0,
        key: PrivateKey | KeyHandle | None = None,
    ) -> CertificateAuthority:
        """Open a CA created by :meth:`init_folder` (or by ``esign ca init``).

        ``key`` is the CA key when it is not in the folder (a vault entry, a token key:
        see :func:`folder_key_location`); otherwise ``ca.key.pem`` is decrypted.
        """
        target = Path(folder)
        if not (target / CA_CERT).is_file() or (key is None and not (target / CA_KEY).is_file()):
            if (target / CA_CERT).is_file() and folder_key_location(target):
                raise EsignError(
                    f"the key of the CA in {target} is at {folder_key_location(target)}:"
                    " open it and pass it as key="
                )
            raise EsignError(f"{target} is not a CA folder (no {CA_CERT} / {CA_KEY})")
        certificate = load_certificate(target / CA_CERT)
        chain = load_certificates(target / CHAIN) if (target / CHAIN).exists() else []
        if key is None:
            key = load_key(target / CA_KEY, password)
        if key.public_key() != certificate.public_key():
            raise EsignError(f"{target}: the key does not belong to the CA certificate")
        config: dict[str, Any] = {}
        if (target / CONFIG).exists():
            try:
                config = json.loads((target / CONFIG).read_text())
            except ValueError as exc:
                raise MalformedInputError(f"{target / CONFIG}: not JSON ({exc})") from exc
        return cls(
            key,
            certificate,
            chain=chain,
            clock=clock,
            registry=open_registry(
                config.get("registry") or target / REGISTRY, busy_timeout=busy_timeout
            ),
            crl_url=config.get("crl_url"),
            delta_crl_url=config.get("delta_crl_url"),
            ocsp_url=config.get("ocsp_url"),
            ca_issuers_url=config.get("ca_issuers_url"),
            qualified=_settings_from_json(config.get("qualified")),
        )


def _registry_url(registry: str | None) -> str | None:
    """The URL to record for ``registry``: canonical, SQLite paths absolute, no password."""
    if registry is None:
        return None
    from esign.sqlstore import SQLITE, StoreLocation

    location = StoreLocation.parse(registry)
    if location.dialect == SQLITE:
        if location.target == ":memory:":
            raise RegistryError("a CA folder needs a registry that outlives the process")
        return StoreLocation(SQLITE, os.path.abspath(location.target)).url
    if location.redacted() != location.url:
        raise RegistryError(
            "the registry URL holds a password, which would be written to ca.json: give it"
            " through PGPASSWORD or ~/.pgpass instead"
        )
    return location.url


def folder_key_location(folder: str | os.PathLike[str]) -> str | None:
    """Where a folder CA's key lives when it is not in the folder (``key`` of ca.json)."""
    path = Path(folder) / CONFIG
    try:
        location = json.loads(path.read_text()).get("key")
    except (OSError, ValueError, AttributeError):
        return None
    return location if isinstance(location, str) else None


def _settings_to_json(settings: QualifiedSettings | None) -> dict[str, Any] | None:
    if settings is None:
        return None
    names = q.POLICY_NAMES
    return {
        "pds": [list(p) for p in settings.pds],
        "qc_type": q.QC_TYPE_NAMES[settings.qc_type],
        "qscd": settings.qscd,
        "eidas_policies": [names[p] for p in settings.eidas_policies],
        "issuer_sign_tool": None
        if settings.issuer_sign_tool is None
        else [
            settings.issuer_sign_tool.sign_tool,
            settings.issuer_sign_tool.ca_tool,
            settings.issuer_sign_tool.sign_tool_cert,
            settings.issuer_sign_tool.ca_tool_cert,
        ],
        "subject_sign_tool": settings.subject_sign_tool,
        "ru_classes": [names[p] for p in settings.ru_classes],
    }


def _settings_from_json(data: dict[str, Any] | None) -> QualifiedSettings | None:
    if data is None:
        return None
    try:
        types = {v: k for k, v in q.QC_TYPE_NAMES.items()}
        tool = data.get("issuer_sign_tool")
        return QualifiedSettings(
            pds=tuple((str(u), str(lang)) for u, lang in data.get("pds", [])),
            qc_type=types[data.get("qc_type", "esign")],
            qscd=bool(data.get("qscd", True)),
            eidas_policies=tuple(
                q.POLICY_NAMES_REVERSE[p] for p in data.get("eidas_policies", ["QCP-n-qscd"])
            ),
            issuer_sign_tool=None if tool is None else IssuerSignTool(*map(str, tool)),
            subject_sign_tool=data.get("subject_sign_tool"),
            ru_classes=tuple(q.POLICY_NAMES_REVERSE[p] for p in data.get("ru_classes", ["KC1"])),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedInputError(f"ca.json: bad qualified settings ({exc})") from exc
