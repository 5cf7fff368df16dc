"""Simple signatures: personal-account credentials, and the
service-sealed attestation that an authenticated account approved a document."""

from esign.simple.attestation import (
    Attestation,
    AttestationService,
    read_attestation,
    verify_attestation,
)
from esign.simple.credentials import (
    Authentication,
    CredentialPolicy,
    CredentialStore,
    OtpEnrollment,
    RecoveryLink,
)

__all__ = [
    "Attestation",
    "AttestationService",
    "Authentication",
    "CredentialPolicy",
    "CredentialStore",
    "OtpEnrollment",
    "RecoveryLink",
    "read_attestation",
    "verify_attestation",
]
