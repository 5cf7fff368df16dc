"""Envelopes: sign-then-encrypt (``seal``) and decrypt-then-verify (``open_envelope``).

Recipients (who an envelope is for) and identities (what can open one) follow age's split;
``seal_stream`` / ``open_stream`` do the same for files of any size in bounded memory.
"""

from esign.envelope.recipients import (
    EcdhRecipient,
    Identity,
    LocalIdentity,
    MlKemRecipient,
    PasswordIdentity,
    PasswordRecipient,
    Recipient,
    RsaOaepRecipient,
    RsaPkcs1v15Recipient,
    X25519Recipient,
    recipient_for,
)
from esign.envelope.sealing import (
    OpenedEnvelope,
    decrypt_envelope,
    encrypt_auth_enveloped,
    encrypt_envelope,
    open_envelope,
    seal,
)
from esign.envelope.streaming import open_stream, seal_stream, verify_digest

__all__ = [
    "EcdhRecipient",
    "Identity",
    "LocalIdentity",
    "MlKemRecipient",
    "OpenedEnvelope",
    "PasswordIdentity",
    "PasswordRecipient",
    "Recipient",
    "RsaOaepRecipient",
    "RsaPkcs1v15Recipient",
    "X25519Recipient",
    "decrypt_envelope",
    "encrypt_auth_enveloped",
    "encrypt_envelope",
    "open_envelope",
    "open_stream",
    "recipient_for",
    "seal",
    "seal_stream",
    "verify_digest",
]
