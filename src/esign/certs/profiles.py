"""Certificate profiles: what a certificate may be used for, as one documented value each.

A profile turns "a signing certificate for this key" into key usages, extended key usages,
basic constraints, policies and (for qualified certificates) QC statements or the Russian
63-FZ fields, and refuses inputs it cannot honour: an X25519 key cannot sign, a qualified
eIDAS certificate needs a PKI disclosure statement, a Russian one needs SNILS and INN.

=================  =====================================================================
profile            what it asserts
=================  =====================================================================
signing            keyUsage digitalSignature + nonRepudiation; EKU emailProtection
encryption         keyUsage keyEncipherment (RSA) or keyAgreement (EC, X25519); EKU
                   emailProtection
tsa                keyUsage digitalSignature; EKU timeStamping, critical (RFC 3161 §2.3)
ocsp               keyUsage digitalSignature; EKU OCSPSigning; id-pkix-ocsp-nocheck
                   (RFC 6960 §4.2.2.2)
ca                 keyUsage keyCertSign + cRLSign + digitalSignature; basicConstraints CA
qualified-eidas    signing + qcStatements (QcCompliance, QcType, QcSSCD, QcPDS) and an
                   ETSI EN 319 411-2 policy (QCP-n-qscd by default) (EN 319 412-5)
qualified-ru       signing + INN/SNILS/OGRN(IP) as NumericString, subjectSignTool,
                   issuerSignTool and a KC1..KA1 policy (63-FZ, FSB order No. 795)
=================  =====================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from asn1crypto import core
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, mlkem, rsa, x25519
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from esign.asn1 import SIMPLE_ATTESTATION_EKU_OID
from esign.certs import qualified as q
from esign.errors import CertificateProfileError
from esign.keys.algorithms import ALGORITHMS, PublicKey, algorithm_name

Usage = Literal["sign", "encrypt", "ca"]
Extensions = list[tuple[x509.ExtensionType, bool]]


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
class IssuerSignTool:
    """Russian issuerSignTool: names and certificate numbers of the CA's certified tools."""

    sign_tool: str
    ca_tool: str
    sign_tool_cert: str
    ca_tool_cert: str


@dataclass(frozen=True)
class QualifiedSettings:
    """What a qualified CA states in every qualified certificate it issues.

    eIDAS: ``pds`` (URL, two-letter language) pairs for QcPDS, ``qc_type`` (esign, eseal
    or web), ``qscd`` (the key is on a qualified signature creation device: QcSSCD) and
    the EN 319 411-2 ``eidas_policies``. Russia: ``issuer_sign_tool``, the default
    ``subject_sign_tool`` and the tool classes ``ru_classes`` (KC1..KA1).
    """

    pds: tuple[tuple[str, str], ...] = ()
    qc_type: x509.ObjectIdentifier = q.QC_TYPE_ESIGN
    qscd: bool = True
    eidas_policies: tuple[x509.ObjectIdentifier, ...] = (q.QCP_N_QSCD,)
    issuer_sign_tool: IssuerSignTool | None = None
    subject_sign_tool: str | None = None
    ru_classes: tuple[x509.ObjectIdentifier, ...] = (q.RU_KC1,)


@dataclass(frozen=True)
class Profile:
    """A named certificate profile (see the module table)."""

    name: str
    description: str
    usage: Usage = "sign"
    ekus: tuple[x509.ObjectIdentifier, ...] = ()
    eku_critical: bool = False
    qualified: Literal["eidas", "ru"] | None = None
    ocsp_nocheck: bool = False

    @property
    def is_ca(self) -> bool:
        return self.usage == "ca"

    def key_usage(self, public_key: PublicKey) -> x509.KeyUsage:
        """The keyUsage extension for ``public_key``, or a profile error if it cannot fit."""
        algorithm = ALGORITHMS.get(algorithm_name(public_key))
        if self.usage in ("sign", "ca"):
            if algorithm is None or not algorithm.can_sign:
                raise CertificateProfileError(
                    f"profile {self.name!r} needs a signing key; "
                    f"{algorithm_name(public_key)} cannot sign"
                )
            if self.is_ca:
                return _usage(digital_signature=True, key_cert_sign=True, crl_sign=True)
            if self.name in ("tsa", "ocsp"):
                return _usage(digital_signature=True)
            return _usage(digital_signature=True, content_commitment=True)
        if isinstance(public_key, rsa.RSAPublicKey):
            return _usage(key_encipherment=True)
        if isinstance(public_key, (ec.EllipticCurvePublicKey, x25519.X25519PublicKey)):
            return _usage(key_agreement=True)
        if isinstance(public_key, (mlkem.MLKEM768PublicKey, mlkem.MLKEM1024PublicKey)):
            return _usage(key_encipherment=True)  # RFC 9935: the only usage an ML-KEM key has
        raise CertificateProfileError(
            f"profile {self.name!r} needs an RSA, EC, X25519 or ML-KEM key, "
            f"not {algorithm_name(public_key)}"
        )

    def extended_key_usage(self) -> list[x509.ObjectIdentifier]:
        """Extended key usages the profile asserts (none means "any" is not granted)."""
        return list(self.ekus)

    def check_subject(
        self, subject: x509.Name, settings: QualifiedSettings | None = None
    ) -> x509.Name:
        """The subject as the profile writes it, or an error naming what is missing."""
        if self.qualified == "eidas":
            qc_type = settings.qc_type if settings is not None else q.QC_TYPE_ESIGN
            if qc_type == q.QC_TYPE_WEB:
                raise CertificateProfileError(
                    "qualified website certificates (QcType web) are not an esign profile"
                )
            if qc_type == q.QC_TYPE_ESEAL:
                return _eidas_legal_subject(subject)
            return _eidas_subject(subject)
        if self.qualified == "ru":
            return _ru_subject(subject)
        return subject

    def extensions(
        self,
        settings: QualifiedSettings | None,
        *,
        subject_sign_tool: str | None = None,
    ) -> Extensions:
        """Profile extensions beyond keyUsage/basicConstraints (which the CA writes)."""
        out: Extensions = []
        if self.ekus:
            out.append((x509.ExtendedKeyUsage(list(self.ekus)), self.eku_critical))
        if self.ocsp_nocheck:
            out.append((x509.OCSPNoCheck(), False))
        if self.qualified is None:
            return out
        if settings is None:
            raise CertificateProfileError(
                f"profile {self.name!r} needs a qualified CA: create it with qualified=..."
            )
        if self.qualified == "eidas":
            out.append((_qc_statements(settings), False))
            policies = settings.eidas_policies
            if not policies or not set(policies) <= q.QUALIFIED_POLICIES:
                raise CertificateProfileError(
                    "a qualified eIDAS certificate needs an EN 319 411-2 policy (QCP-n, "
                    "QCP-l, QCP-n-qscd or QCP-l-qscd)"
                )
            if settings.qscd and not set(policies) & q.QSCD_POLICIES:
                raise CertificateProfileError("QcSSCD is stated but the policy is not a -qscd one")
        else:
            tool = subject_sign_tool or settings.subject_sign_tool
            if not tool or len(tool) > 200:
                raise CertificateProfileError(
                    "a Russian qualified certificate needs subjectSignTool (1..200 chars): "
                    "the subject's certified signature tool"
                )
            if settings.issuer_sign_tool is None:
                raise CertificateProfileError(
                    "a Russian qualified certificate needs issuerSignTool: "
                    "give QualifiedSettings(issuer_sign_tool=...)"
                )
            out.append((_raw(q.RU_SUBJECT_SIGN_TOOL, core.UTF8String(tool).dump()), False))
            ist = settings.issuer_sign_tool
            value = q.IssuerSignTool(
                {
                    "sign_tool": ist.sign_tool,
                    "ca_tool": ist.ca_tool,
                    "sign_tool_cert": ist.sign_tool_cert,
                    "ca_tool_cert": ist.ca_tool_cert,
                }
            )
            out.append((_raw(q.RU_ISSUER_SIGN_TOOL, value.dump()), False))
            policies = settings.ru_classes
            if not policies or not set(policies) <= q.RU_CLASS_POLICIES:
                raise CertificateProfileError(
                    "a Russian qualified certificate needs a tool class policy (KC1..KA1)"
                )
        out.append(
            (x509.CertificatePolicies([x509.PolicyInformation(p, None) for p in policies]), False)
        )
        return out


def _raw(oid: x509.ObjectIdentifier, der: bytes) -> x509.UnrecognizedExtension:
    return x509.UnrecognizedExtension(oid, der)


def _qc_statements(settings: QualifiedSettings) -> x509.UnrecognizedExtension:
    """The RFC 3739 qcStatements extension with the EN 319 412-5 statements."""
    # pyhanko.sign.* imports all of pyHanko's signing stack: only when a QC is made.
    from pyhanko.sign.ades import qualified_asn1

    if not settings.pds:
        raise CertificateProfileError(
            "a qualified eIDAS certificate needs QcPDS: give QualifiedSettings(pds=((url, lang),))"
        )
    for url, lang in settings.pds:
        if not url.startswith("https://") or len(lang) != 2 or not lang.isalpha():
            raise CertificateProfileError(
                f"a PDS location is an https URL and an ISO 639-1 language: {url!r}, {lang!r}"
            )
    if settings.qc_type not in q.QC_TYPE_NAMES:
        raise CertificateProfileError(f"unknown QcType {settings.qc_type.dotted_string}")
    statements: list[dict[str, object]] = [{"statement_id": "qc_compliance"}]
    statements.append(
        {
            "statement_id": "qc_type",
            "statement_info": qualified_asn1.QcCertificateType([settings.qc_type.dotted_string]),
        }
    )
    if settings.qscd:
        statements.append({"statement_id": "qc_sscd"})
    statements.append(
        {
            "statement_id": "qc_pki_disclosure_statements",
            "statement_info": qualified_asn1.PKIDisclosureStatements(
                [{"url": url, "language": lang.lower()} for url, lang in settings.pds]
            ),
        }
    )
    return _raw(q.QC_STATEMENTS_EXTENSION, qualified_asn1.QcStatements(statements).dump())


def _has(subject: x509.Name, oid: x509.ObjectIdentifier) -> bool:
    return bool(subject.get_attributes_for_oid(oid))


def _eidas_subject(subject: x509.Name) -> x509.Name:
    """ETSI EN 319 412-2 §4.2.4: C, CN, serialNumber and a name (GN/SN) or a pseudonym."""
    missing = [
        label
        for label, oid in (
            ("C", NameOID.COUNTRY_NAME),
            ("CN", NameOID.COMMON_NAME),
            ("serialNumber", NameOID.SERIAL_NUMBER),
        )
        if not _has(subject, oid)
    ]
    named = _has(subject, NameOID.GIVEN_NAME) or _has(subject, NameOID.SURNAME)
    if not named and not _has(subject, NameOID.PSEUDONYM):
        missing.append("givenName/surname or pseudonym")
    if missing:
        raise CertificateProfileError(
            "a qualified eIDAS subject (EN 319 412-2) lacks: " + ", ".join(missing)
        )
    return subject


def _eidas_legal_subject(subject: x509.Name) -> x509.Name:
    """ETSI EN 319 412-3 §4.2.1 (e-seals): C, O, organizationIdentifier, CN."""
    missing = [
        label
        for label, oid in (
            ("C", NameOID.COUNTRY_NAME),
            ("O", NameOID.ORGANIZATION_NAME),
            ("organizationIdentifier", NameOID.ORGANIZATION_IDENTIFIER),
            ("CN", NameOID.COMMON_NAME),
        )
        if not _has(subject, oid)
    ]
    if missing:
        raise CertificateProfileError(
            "a qualified e-seal subject (EN 319 412-3) lacks: " + ", ".join(missing)
        )
    return subject


def _ru_subject(subject: x509.Name) -> x509.Name:
    """FSB order No. 795: identifiers as NumericString with valid control digits."""
    rdns: list[x509.RelativeDistinguishedName] = []
    for rdn in subject.rdns:
        attributes = []
        for attribute in rdn:
            if attribute.oid in q.RU_ID_LENGTHS:
                value = attribute.value if isinstance(attribute.value, str) else ""
                if not q.ru_checksum_ok(attribute.oid, value):
                    label = next(k for k, v in q.RU_NAME_KEYWORDS.items() if v == attribute.oid)
                    raise CertificateProfileError(
                        f"{label} {value!r} is not {q.RU_ID_LENGTHS[attribute.oid]} digits "
                        "with valid control digits"
                    )
                attribute = x509.NameAttribute(attribute.oid, value, _type=_ASN1Type.NumericString)
            attributes.append(attribute)
        rdns.append(x509.RelativeDistinguishedName(attributes))
    name = x509.Name(rdns)
    person = _has(name, q.RU_SNILS) and _has(name, q.RU_INN)
    entity = _has(name, q.RU_OGRN) and _has(name, q.RU_INNLE)
    missing = [
        label
        for label, oid in (("C", NameOID.COUNTRY_NAME), ("CN", NameOID.COMMON_NAME))
        if not _has(name, oid)
    ]
    if not (person or entity):
        missing.append("SNILS + INN (a person) or OGRN + INNLE (an organisation)")
    if missing:
        raise CertificateProfileError(
            "a Russian qualified subject (63-FZ) lacks: " + ", ".join(missing)
        )
    return name


_EMAIL = (ExtendedKeyUsageOID.EMAIL_PROTECTION,)

PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("signing", "end-entity signing: digitalSignature + nonRepudiation", ekus=_EMAIL),
        Profile(
            "encryption",
            "end-entity encryption: keyEncipherment (RSA) or keyAgreement (EC, X25519)",
            usage="encrypt",
            ekus=_EMAIL,
        ),
        Profile(
            "tsa",
            "time-stamping authority: digitalSignature, EKU timeStamping (critical)",
            ekus=(ExtendedKeyUsageOID.TIME_STAMPING,),
            eku_critical=True,
        ),
        Profile(
            "ocsp",
            "delegated OCSP responder: digitalSignature, EKU OCSPSigning, ocsp-nocheck",
            ekus=(ExtendedKeyUsageOID.OCSP_SIGNING,),
            ocsp_nocheck=True,
        ),
        Profile(
            "attestation",
            "simple-signature attestation seal: digitalSignature + nonRepudiation, "
            "EKU esign simpleAttestation (critical)",
            ekus=(x509.ObjectIdentifier(SIMPLE_ATTESTATION_EKU_OID),),
            eku_critical=True,
        ),
        Profile("ca", "certificate authority: keyCertSign + cRLSign, basicConstraints CA", "ca"),
        Profile(
            "qualified-eidas",
            "eIDAS qualified signing: QcCompliance, QcType, QcSSCD, QcPDS, QCP-n-qscd",
            ekus=_EMAIL,
            qualified="eidas",
        ),
        Profile(
            "qualified-ru",
            "63-FZ qualified signing: INN, SNILS, OGRN, sign tools, KC1..KA1",
            ekus=_EMAIL,
            qualified="ru",
        ),
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
