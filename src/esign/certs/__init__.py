"""Certificates: a certificate authority, profiles, loading, and trust."""

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
