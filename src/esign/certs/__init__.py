"""Certificates: a certificate authority, profiles, loading, and trust."""

from typing import TYPE_CHECKING

from esign._lazy import lazy_exports

if TYPE_CHECKING:
    from esign.certs.authority import CertificateAuthority, parse_name
    from esign.certs.loading import load_certificate, load_certificates, parse_certificates
    from esign.certs.profiles import PROFILES, Profile, get_profile
    from esign.certs.trust import PathFailure, PathResult, TrustContext

__all__ = [
    "PROFILES",
    "CertificateAuthority",
    "PathFailure",
    "PathResult",
    "Profile",
    "TrustContext",
    "get_profile",
    "load_certificate",
    "load_certificates",
    "parse_certificates",
    "parse_name",
]

lazy_exports(
    __name__,
    {
        "CertificateAuthority": "esign.certs.authority",
        "parse_name": "esign.certs.authority",
        "load_certificate": "esign.certs.loading",
        "load_certificates": "esign.certs.loading",
        "parse_certificates": "esign.certs.loading",
        "PROFILES": "esign.certs.profiles",
        "Profile": "esign.certs.profiles",
        "get_profile": "esign.certs.profiles",
        "PathFailure": "esign.certs.trust",
        "PathResult": "esign.certs.trust",
        "TrustContext": "esign.certs.trust",
    },
)
