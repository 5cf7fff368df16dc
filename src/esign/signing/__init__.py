"""Signing: CMS SignedData out, verification reports in."""

from esign.signing.report import Finding, SignatureLevel, SignerIdentity, VerificationReport
from esign.signing.sign import sign
from esign.signing.verify import verify

__all__ = [
    "Finding",
    "SignatureLevel",
    "SignerIdentity",
    "VerificationReport",
    "sign",
    "verify",
]
