"""Envelopes: sign-then-encrypt (``seal``) and decrypt-then-verify (``open_envelope``)."""

from esign.envelope.recipients import (
    EcdhRecipient,
    Identity,
    LocalIdentity,
    Recipient,
    RsaOaepRecipient,
    recipient_for,
)
from esign.envelope.sealing import (
    OpenedEnvelope,
    decrypt_envelope,
    encrypt_auth_enveloped,
    open_envelope,
    seal,
)

__all__ = [
    "EcdhRecipient",
    "Identity",
    "LocalIdentity",
    "OpenedEnvelope",
    "Recipient",
    "RsaOaepRecipient",
    "decrypt_envelope",
    "encrypt_auth_enveloped",
    "open_envelope",
    "recipient_for",
    "seal",
]
