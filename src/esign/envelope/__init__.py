"""Envelopes: sign-then-encrypt (``seal``) and decrypt-then-verify (``open_envelope``).

One pipeline: :mod:`.writer` and :mod:`.reader` stream; ``seal`` / ``open_envelope`` are
the same over bytes. Recipients (who an envelope is for) and identities (what can open
one) follow age's split, one module per kind in :mod:`.recipients`. Lower layers —
:mod:`.cipher` (content encryption), :mod:`.binding` (recipient binding), :mod:`.ber`
(streaming framing), ``writer.encrypt_envelope`` / ``reader.decrypt_envelope`` (no
signature) — are for tests and special needs, not everyday use.
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
