"""Certificates the CA helper does not issue yet, built with cryptography's builder for tests:
qualified (eIDAS QC statements, RU 63-FZ fields), time-stamping and ML-DSA certificates."""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from asn1crypto import core
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.sign.ades.qualified_asn1 import QcCertificateType, QcStatement, QcStatements

from esign.certs import CertificateAuthority
from esign.certs import qualified as q
from esign.certs.authority import signature_hash
from esign.keys import generate_key
from esign.keys.algorithms import PrivateKey

NOW = datetime.datetime.now(datetime.timezone.utc)


def qc_statements_extension(*statements: str, qc_type: str | None = None) -> x509.Extension:
    """A qcStatements extension with the given statement OIDs (and a QcType)."""
    items = [QcStatement({"statement_id": s}) for s in statements]
    if qc_type is not None:
        items.append(
            QcStatement(
                {
                    "statement_id": q.QC_TYPE.dotted_string,
                    "statement_info": QcCertificateType([qc_type]),
                }
            )
        )
    der = QcStatements(items).dump()
    value = x509.UnrecognizedExtension(q.QC_STATEMENTS_EXTENSION, der)
    return x509.Extension(q.QC_STATEMENTS_EXTENSION, False, value)


def eidas_extensions(
    *, sscd: bool = True, compliance: bool = True, policy: bool = True
) -> list[x509.Extension]:
    statements = [q.QC_COMPLIANCE.dotted_string] if compliance else []
    if sscd:
        statements.append(q.QC_SSCD.dotted_string)
    found = [qc_statements_extension(*statements, qc_type=q.QC_TYPE_ESIGN.dotted_string)]
    if policy:
        policies = x509.CertificatePolicies([x509.PolicyInformation(q.QCP_N_QSCD, None)])
        found.append(x509.Extension(policies.oid, False, policies))
    return found


class _IssuerSignTool(core.Sequence):
    """FSB order 795 IssuerSignTool: four UTF8Strings."""

    _fields = [  # noqa: RUF012 - asn1crypto spec
        ("tool", core.UTF8String),
        ("ca_tool", core.UTF8String),
        ("tool_cert", core.UTF8String),
        ("ca_tool_cert", core.UTF8String),
    ]


def ru_extensions() -> list[x509.Extension]:
    def utf8(text: str) -> bytes:
        return core.UTF8String(text).dump()

    tool = x509.UnrecognizedExtension(q.RU_SUBJECT_SIGN_TOOL, utf8("CryptoPro CSP 5.0"))
    issuer_tool = x509.UnrecognizedExtension(
        q.RU_ISSUER_SIGN_TOOL,
        _IssuerSignTool(
            {
                "tool": "CryptoPro CSP",
                "ca_tool": "CryptoPro UC",
                "tool_cert": "cert 1",
                "ca_tool_cert": "cert 2",
            }
        ).dump(),
    )
    policies = x509.CertificatePolicies([x509.PolicyInformation(q.RU_KC1, None)])
    return [
        x509.Extension(tool.oid, False, tool),
        x509.Extension(issuer_tool.oid, False, issuer_tool),
        x509.Extension(policies.oid, False, policies),
    ]


RU_SUBJECT = x509.Name(
    [
        x509.NameAttribute(NameOID.COMMON_NAME, "Ivan Ivanov"),
        x509.NameAttribute(q.RU_SNILS, "12345678901"),
        x509.NameAttribute(q.RU_INN, "123456789012"),
    ]
)


def issue(
    ca: CertificateAuthority,
    public_key: object,
    subject: str | x509.Name,
    *,
    extensions: Sequence[x509.Extension] = (),
    eku: x509.ObjectIdentifier | None = ExtendedKeyUsageOID.EMAIL_PROTECTION,
    not_before: datetime.datetime | None = None,
    days: int = 365,
) -> x509.Certificate:
    """An end-entity signing certificate with extra extensions, signed by ``ca``."""
    name = (
        subject
        if isinstance(subject, x509.Name)
        else x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    )
    start = not_before or NOW - datetime.timedelta(days=1)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(ca.certificate.subject)
        .public_key(public_key)  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.certificate.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    )
    if eku is not None:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([eku]), critical=eku == ExtendedKeyUsageOID.TIME_STAMPING
        )
    for ext in extensions:
        builder = builder.add_extension(ext.value, critical=ext.critical)
    return builder.sign(ca.key, signature_hash(ca.key))  # type: ignore[arg-type]


def tsa(ca: CertificateAuthority) -> tuple[PrivateKey, x509.Certificate]:
    """A time-stamping key and certificate (EKU timeStamping, critical) from ``ca``."""
    key = generate_key("ec-p256")
    return key, issue(
        ca,
        key.public_key(),
        "Test TSA",
        eku=ExtendedKeyUsageOID.TIME_STAMPING,
        not_before=NOW - datetime.timedelta(days=3650),
        days=7300,
    )
