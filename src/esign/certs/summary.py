"""A readable summary of any X.509 certificate: who, by whom, when, for what, how qualified.

This is what ``esign cert show`` prints. It reads certificates from anyone (openssl, a
national CA), so every extension is optional and a malformed one is reported, not fatal.
"""

from __future__ import annotations

import hashlib
from typing import Any

from asn1crypto import core
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from esign.asn1 import SIMPLE_ATTESTATION_EKU_OID
from esign.certs import qualified as q
from esign.errors import EsignError, MalformedInputError, UnsupportedAlgorithmError
from esign.gost.x509 import public_key_of
from esign.keys.algorithms import algorithm_name

_USAGE_NAMES = (
    ("digital_signature", "digitalSignature"),
    ("content_commitment", "nonRepudiation"),
    ("key_encipherment", "keyEncipherment"),
    ("data_encipherment", "dataEncipherment"),
    ("key_agreement", "keyAgreement"),
    ("key_cert_sign", "keyCertSign"),
    ("crl_sign", "cRLSign"),
)
_EKU_NAMES = {
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
    x509.ObjectIdentifier(SIMPLE_ATTESTATION_EKU_OID): "esignSimpleAttestation",
}
_RU_LABELS = {oid: label for label, oid in q.RU_NAME_KEYWORDS.items()}
_QC_NAMES = {
    "qc_compliance": "QcCompliance",
    "qc_sscd": "QcSSCD",
    "qc_type": "QcType",
    "qc_pki_disclosure_statements": "QcPDS",
    "qc_limit_value": "QcLimitValue",
    "qc_retention_period": "QcRetentionPeriod",
    "qc_cc_legislation": "QcCClegislation",
}


def _ext(certificate: x509.Certificate, kind: type[Any]) -> Any:
    try:
        return certificate.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def qc_statements(certificate: x509.Certificate) -> list[dict[str, Any]]:
    """The EN 319 412-5 statements of a certificate (empty if it has none)."""
    from pyhanko.sign.ades import qualified_asn1  # the whole pyhanko.sign stack: only here

    try:
        raw = certificate.extensions.get_extension_for_oid(q.QC_STATEMENTS_EXTENSION).value
    except x509.ExtensionNotFound:
        return []
    assert isinstance(raw, x509.UnrecognizedExtension)
    out: list[dict[str, Any]] = []
    try:
        for statement in qualified_asn1.QcStatements.load(raw.value):
            sid = statement["statement_id"]
            name = _QC_NAMES.get(sid.native, sid.dotted)
            item: dict[str, Any] = {"statement": name}
            info = statement["statement_info"]
            if name == "QcType":
                item["types"] = [
                    q.QC_TYPE_NAMES.get(x509.ObjectIdentifier(t.dotted), t.dotted) for t in info
                ]
            elif name == "QcPDS":
                item["locations"] = [
                    {"url": p["url"].native, "language": p["language"].native} for p in info
                ]
            out.append(item)
    except (ValueError, TypeError) as exc:
        return [{"statement": "malformed", "error": str(exc)}]
    return out


def _utf8(certificate: x509.Certificate, oid: x509.ObjectIdentifier) -> Any:
    try:
        raw = certificate.extensions.get_extension_for_oid(oid).value
    except x509.ExtensionNotFound:
        return None
    assert isinstance(raw, x509.UnrecognizedExtension)
    try:
        if oid == q.RU_ISSUER_SIGN_TOOL:
            return dict(q.IssuerSignTool.load(raw.value).native)
        return core.UTF8String.load(raw.value).native
    except (ValueError, TypeError):
        return "malformed"


def guess_profile(certificate: x509.Certificate) -> str:
    """The esign profile a certificate matches, read from its extensions."""
    constraints = _ext(certificate, x509.BasicConstraints)
    if constraints is not None and constraints.ca:
        return "ca"
    if any(s["statement"] == "QcCompliance" for s in qc_statements(certificate)):
        return "qualified-eidas"
    if _utf8(certificate, q.RU_SUBJECT_SIGN_TOOL) is not None:
        return "qualified-ru"
    ekus = _ext(certificate, x509.ExtendedKeyUsage)
    if ekus is not None and ExtendedKeyUsageOID.TIME_STAMPING in ekus:
        return "tsa"
    if ekus is not None and ExtendedKeyUsageOID.OCSP_SIGNING in ekus:
        return "ocsp"
    if ekus is not None and x509.ObjectIdentifier(SIMPLE_ATTESTATION_EKU_OID) in ekus:
        return "attestation"
    usage = _ext(certificate, x509.KeyUsage)
    encrypts = usage is not None and (usage.key_encipherment or usage.key_agreement)
    if encrypts and not usage.digital_signature:
        return "encryption"
    if usage is not None and usage.digital_signature:
        return "signing"
    return "unknown"


def describe(certificate: x509.Certificate) -> dict[str, Any]:
    """Everything ``esign cert show`` prints, as a JSON-ready dict."""
    try:
        return _describe(certificate)
    except (ValueError, TypeError) as exc:  # cryptography parses extensions lazily
        raise MalformedInputError(f"the certificate has malformed fields: {exc}") from exc


def _describe(certificate: x509.Certificate) -> dict[str, Any]:
    usage = _ext(certificate, x509.KeyUsage)
    ekus = _ext(certificate, x509.ExtendedKeyUsage)
    constraints = _ext(certificate, x509.BasicConstraints)
    san = _ext(certificate, x509.SubjectAlternativeName)
    policies = _ext(certificate, x509.CertificatePolicies)
    aia = _ext(certificate, x509.AuthorityInformationAccess)
    cdp = _ext(certificate, x509.CRLDistributionPoints)
    try:
        key = algorithm_name(certificate.public_key())  # type: ignore[arg-type]
    except UnsupportedAlgorithm:  # cryptography cannot read GOST keys: esign.gost can
        try:
            key = algorithm_name(public_key_of(certificate))
        except EsignError as exc:
            key = f"unsupported ({exc})"
    except UnsupportedAlgorithmError:
        key = type(certificate.public_key()).__name__
    ru = {
        _RU_LABELS[a.oid]: a.value
        for a in certificate.subject
        if a.oid in _RU_LABELS and isinstance(a.value, str)
    }
    qualified: dict[str, Any] = {}
    statements = qc_statements(certificate)
    if statements:
        qualified["eidas"] = statements
    tools = {
        "subject_sign_tool": _utf8(certificate, q.RU_SUBJECT_SIGN_TOOL),
        "issuer_sign_tool": _utf8(certificate, q.RU_ISSUER_SIGN_TOOL),
    }
    if ru or any(tools.values()):
        qualified["ru"] = {**ru, **{k: v for k, v in tools.items() if v is not None}}
    return {
        "subject": certificate.subject.rfc4514_string(),
        "issuer": certificate.issuer.rfc4514_string(),
        "serial": f"{certificate.serial_number:x}",
        "not_before": certificate.not_valid_before_utc.isoformat(),
        "not_after": certificate.not_valid_after_utc.isoformat(),
        "key": key,
        "profile": guess_profile(certificate),
        "ca": bool(constraints and constraints.ca),
        "path_length": constraints.path_length if constraints else None,
        "key_usage": [label for attr, label in _USAGE_NAMES if usage and getattr(usage, attr)],
        "extended_key_usage": [_EKU_NAMES.get(o, o.dotted_string) for o in ekus or []],
        "emails": san.get_values_for_type(x509.RFC822Name) if san else [],
        "uris": san.get_values_for_type(x509.UniformResourceIdentifier) if san else [],
        "policies": [
            q.POLICY_NAMES.get(p.policy_identifier, p.policy_identifier.dotted_string)
            for p in policies or []
        ],
        "qualified": qualified,
        "ocsp": [
            d.access_location.value
            for d in aia or []
            if d.access_method == x509.oid.AuthorityInformationAccessOID.OCSP
        ],
        "crl_distribution_points": [
            n.value.rfc4514_string() if isinstance(n.value, x509.Name) else str(n.value)
            for p in cdp or []
            for n in p.full_name or []
        ],
        "common_name": next(
            (str(a.value) for a in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)),
            None,
        ),
        "sha256": hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest(),
    }


def render(summary: dict[str, Any]) -> str:
    """The summary as aligned text lines."""
    lines = [
        f"subject:     {summary['subject']}",
        f"issuer:      {summary['issuer']}",
        f"serial:      {summary['serial']}",
        f"valid:       {summary['not_before']} .. {summary['not_after']}",
        f"key:         {summary['key']}",
        f"profile:     {summary['profile']}",
        f"key usage:   {', '.join(summary['key_usage']) or '-'}",
    ]
    if summary["extended_key_usage"]:
        lines.append(f"ext. usage:  {', '.join(summary['extended_key_usage'])}")
    if summary["ca"]:
        length = summary["path_length"]
        lines.append(f"CA:          yes, path length {'unlimited' if length is None else length}")
    for label, key in (("e-mail:", "emails"), ("URI:", "uris"), ("policies:", "policies")):
        if summary[key]:
            lines.append(f"{label:<12} {', '.join(summary[key])}")
    for statement in summary["qualified"].get("eidas", []):
        extra = ""
        if "types" in statement:
            extra = " " + ", ".join(statement["types"])
        if "locations" in statement:
            extra = " " + ", ".join(f"{p['url']} ({p['language']})" for p in statement["locations"])
        lines.append(f"qualified:   {statement['statement']}{extra}")
    for key, value in summary["qualified"].get("ru", {}).items():
        if isinstance(value, dict):
            value = "; ".join(f"{k}={v}" for k, v in value.items())
        lines.append(f"qualified:   {key} {value}")
    if summary["ocsp"]:
        lines.append(f"OCSP:        {', '.join(summary['ocsp'])}")
    if summary["crl_distribution_points"]:
        lines.append(f"CRL:         {', '.join(summary['crl_distribution_points'])}")
    lines.append(f"SHA-256:     {summary['sha256']}")
    return "\n".join(lines)
