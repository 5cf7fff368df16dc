"""Envelopes: sign-then-encrypt (``seal``) and decrypt-then-verify (``open_envelope``).

What this package exports is the stable surface: the four calls, :class:`OpenedEnvelope`,
the :class:`Recipient` / :class:`Identity` protocols and the password kind;
:mod:`esign.envelope.recipients` holds every recipient kind (one module each, age's split).
Encrypting or decrypting without a signature is in :mod:`esign.hazmat.envelope`. The
implementation modules (:mod:`.writer`, :mod:`.reader`, :mod:`.cipher`, :mod:`.binding`,
:mod:`.ber`) are internal: one streaming writer and one reader, ``seal`` /
``open_envelope`` being the same over bytes.
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
