"""The BER framing now lives in :mod:`esign.ber` (signing streams attached signatures with
it too); this name stays so existing imports keep working."""

from esign.ber import (
    EOC,
    MAX_ELEMENT,
    BerFraming,
    ChunkSource,
    DerFraming,
    Header,
    Reader,
    Sink,
    Source,
    TruncatedError,
    length_octets,
    open_indefinite,
    tlv,
)

__all__ = [
    "EOC",
    "MAX_ELEMENT",
    "BerFraming",
    "ChunkSource",
    "DerFraming",
    "Header",
    "Reader",
    "Sink",
    "Source",
    "TruncatedError",
    "length_octets",
    "open_indefinite",
    "tlv",
]
