"""esign: electronic signatures on real standard formats.

The top level holds the everyday calls; subpackages hold the rest:
``esign.keys`` (keys), ``esign.certs`` (CA and trust), ``esign.signing`` (CMS signatures
and reports), ``esign.envelope`` (sign-then-encrypt).
"""

from esign.certs import CertificateAuthority, TrustContext
from esign.certs.trusted_list import TrustedList
from esign.envelope import OpenedEnvelope, open_envelope, open_stream, seal, seal_stream
from esign.errors import (
    DecryptionError,
    EsignError,
    InputTooLargeError,
    InvalidSignatureError,
    MalformedInputError,
    NoMatchingRecipientError,
    PasswordRequiredError,
    UnsupportedAlgorithmError,
    UntrustedCertificateError,
    WrongPasswordError,
)
from esign.signing import SignatureLevel, VerificationReport, sign, verify

__version__ = "0.1.0"

__all__ = [
    "CertificateAuthority",
    "DecryptionError",
    "EsignError",
    "InputTooLargeError",
    "InvalidSignatureError",
    "MalformedInputError",
    "NoMatchingRecipientError",
    "OpenedEnvelope",
    "PasswordRequiredError",
    "SignatureLevel",
    "TrustContext",
    "TrustedList",
    "UnsupportedAlgorithmError",
    "UntrustedCertificateError",
    "VerificationReport",
    "WrongPasswordError",
    "open_envelope",
    "open_stream",
    "seal",
    "seal_stream",
    "sign",
    "verify",
]
