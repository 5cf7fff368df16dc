"""Envelopes without signatures: encrypt to recipients, decrypt with identities.

Nothing here signs or verifies: :func:`decrypt_envelope` says nothing about who made the
content, and :func:`encrypt_envelope` binds no recipients. Use them to re-encrypt a
document that is already signed (forwarding), to read an unsigned envelope from a peer,
or to build records first (:func:`prepare_recipients`) and encrypt later.
"""

from esign.envelope.reader import decrypt_envelope, decrypt_stream
from esign.envelope.writer import PreparedRecipients, encrypt_envelope, prepare_recipients

__all__ = [
    "PreparedRecipients",
    "decrypt_envelope",
    "decrypt_stream",
    "encrypt_envelope",
    "prepare_recipients",
]
