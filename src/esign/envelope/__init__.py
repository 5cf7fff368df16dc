"""Envelopes: sign-then-encrypt (``seal``) and decrypt-then-verify (``open_envelope``).

One pipeline: :mod:`.writer` and :mod:`.reader` stream; ``seal`` / ``open_envelope`` are
the same over bytes. Recipients (who an envelope is for) and identities (what can open
one) follow age's split, one module per kind in :mod:`.recipients`. Lower layers —
:mod:`.cipher` (content encryption), :mod:`.binding` (recipient binding), :mod:`.ber`
(streaming framing), ``writer.encrypt_envelope`` / ``reader.decrypt_envelope`` (no
signature) — are for tests and special needs, not everyday use.
"""

from esign.envelope.reader import OpenedEnvelope, open_envelope, open_stream
from esign.envelope.recipients import (
    Identity,
    PasswordIdentity,
    PasswordRecipient,
    Recipient,
    identity_for,
    recipient_for,
)
from esign.envelope.writer import seal, seal_stream

__all__ = [
    "Identity",
    "OpenedEnvelope",
    "PasswordIdentity",
    "PasswordRecipient",
    "Recipient",
    "identity_for",
    "open_envelope",
    "open_stream",
    "recipient_for",
    "seal",
    "seal_stream",
]
