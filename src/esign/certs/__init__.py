"""Certificates: a certificate authority, profiles, requests, revocation, loading, trust.

These names are the stable surface; the modules behind them are for reading, and
``esign.certs.qualified`` holds the qualified-certificate OIDs.
"""

from typing import TYPE_CHECKING

from esign._lazy import lazy_exports

if TYPE_CHECKING:
    from esign.certs.authority import CertificateAuthority, IssueRequest, parse_name
    from esign.certs.csr import CertificationRequest, create_csr, load_csr
    from esign.certs.loading import load_certificate, load_certificates, parse_certificates
    from esign.certs.ocsp_server import OcspServer
    from esign.certs.profiles import (
        PROFILES,
        IssuerSignTool,
        Profile,
        QualifiedSettings,
        get_profile,
    )
    from esign.certs.revocation import read_ocsp_response
    from esign.certs.trust import PathFailure, PathResult, TrustContext, TrustDomains
    from esign.certs.trusted_list import ListedIssuer, TrustedList, load_trusted_list

__all__ = [
    "PROFILES",
    "CertificateAuthority",
    "CertificationRequest",
    "IssueRequest",
    "IssuerSignTool",
    "ListedIssuer",
    "OcspServer",
    "PathFailure",
    "PathResult",
    "Profile",
    "QualifiedSettings",
    "TrustContext",
    "TrustDomains",
    "TrustedList",
    "create_csr",
    "get_profile",
    "load_certificate",
    "load_certificates",
    "load_csr",
    "load_trusted_list",
    "parse_certificates",
    "parse_name",
    "read_ocsp_response",
]

lazy_exports(
    __name__,
    {
        "CertificateAuthority": "esign.certs.authority",
        "IssueRequest": "esign.certs.authority",
        "parse_name": "esign.certs.authority",
        "CertificationRequest": "esign.certs.csr",
        "create_csr": "esign.certs.csr",
        "load_csr": "esign.certs.csr",
        "load_certificate": "esign.certs.loading",
        "load_certificates": "esign.certs.loading",
        "parse_certificates": "esign.certs.loading",
        "OcspServer": "esign.certs.ocsp_server",
        "PROFILES": "esign.certs.profiles",
        "IssuerSignTool": "esign.certs.profiles",
        "Profile": "esign.certs.profiles",
        "QualifiedSettings": "esign.certs.profiles",
        "get_profile": "esign.certs.profiles",
        "read_ocsp_response": "esign.certs.revocation",
        "PathFailure": "esign.certs.trust",
        "PathResult": "esign.certs.trust",
        "TrustContext": "esign.certs.trust",
        "TrustDomains": "esign.certs.trust",
        "ListedIssuer": "esign.certs.trusted_list",
        "TrustedList": "esign.certs.trusted_list",
        "load_trusted_list": "esign.certs.trusted_list",
    },
)
