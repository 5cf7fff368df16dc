"""Envelopes: sign-then-encrypt (``seal``) and decrypt-then-verify (``open_envelope``).

What this package exports is the stable surface: the four calls, :class:`OpenedEnvelope`,
the :class:`Recipient` / :class:`Identity` protocols and the password kind;
:mod:`esign.envelope.recipients` holds every recipient kind (one module each, age's split).
Encrypting or decrypting without a signature is in :mod:`esign.hazmat.envelope`. The
implementation modules (:mod:`.writer`, :mod:`.reader`, :mod:`.cipher`, :mod:`.binding`,
:mod:`.ber`) are internal: one streaming writer and one reader, ``seal`` /
``open_envelope`` being the same over bytes.
"""

from typing import TYPE_CHECKING

from esign._lazy import lazy_exports

if TYPE_CHECKING:
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

# Lazy: ``esign seal`` needs the writer, not the reader (which brings the verifier and
# pyHanko's validation stack, about half a second of start-up).
lazy_exports(
    __name__,
    {
        "OpenedEnvelope": "esign.envelope.reader",
        "open_envelope": "esign.envelope.reader",
        "open_stream": "esign.envelope.reader",
        "Identity": "esign.envelope.recipients",
        "PasswordIdentity": "esign.envelope.recipients",
        "PasswordRecipient": "esign.envelope.recipients",
        "Recipient": "esign.envelope.recipients",
        "identity_for": "esign.envelope.recipients",
        "recipient_for": "esign.envelope.recipients",
        "seal": "esign.envelope.writer",
        "seal_stream": "esign.envelope.writer",
    },
)
