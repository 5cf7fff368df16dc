"""esign: electronic signatures on real standard formats.

The top level holds the everyday calls; subpackages hold the rest:
``esign.keys`` (keys), ``esign.certs`` (CA and trust), ``esign.signing`` (CMS signatures
and reports), ``esign.envelope`` (sign-then-encrypt).
"""

from typing import TYPE_CHECKING

from esign._lazy import defer_package_init, lazy_exports
from esign.errors import (
    DecryptionError,
    EsignError,
    InputTooLargeError,
    MalformedInputError,
    NoMatchingRecipientError,
    PasswordRequiredError,
    UnsupportedAlgorithmError,
    WrongPasswordError,
)

# pyHanko's package __init__s import its PDF signer and aiohttp; esign reads only some of
# their submodules, so those __init__s run only if one of their own names is used.
defer_package_init("pyhanko.sign")
defer_package_init("pyhanko.sign.validation")

if TYPE_CHECKING:
    from esign.certs import CertificateAuthority, TrustContext
    from esign.certs.trusted_list import TrustedList
    from esign.envelope import OpenedEnvelope, open_envelope, open_stream, seal, seal_stream
    from esign.signing import SignatureLevel, VerificationReport, sign, verify

__version__ = "0.1.0"

__all__ = [
    "CertificateAuthority",
    "DecryptionError",
    "EsignError",
    "InputTooLargeError",
    "MalformedInputError",
    "NoMatchingRecipientError",
    "OpenedEnvelope",
    "PasswordRequiredError",
    "SignatureLevel",
    "TrustContext",
    "TrustedList",
    "UnsupportedAlgorithmError",
    "VerificationReport",
    "WrongPasswordError",
    "open_envelope",
    "open_stream",
    "seal",
    "seal_stream",
    "sign",
    "verify",
]

lazy_exports(
    __name__,
    {
        "CertificateAuthority": "esign.certs",
        "TrustContext": "esign.certs",
        "TrustedList": "esign.certs.trusted_list",
        "OpenedEnvelope": "esign.envelope",
        "open_envelope": "esign.envelope",
        "open_stream": "esign.envelope",
        "seal": "esign.envelope",
        "seal_stream": "esign.envelope",
        "SignatureLevel": "esign.signing",
        "VerificationReport": "esign.signing",
        "sign": "esign.signing",
        "verify": "esign.signing",
    },
)
