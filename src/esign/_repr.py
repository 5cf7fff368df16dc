"""Readable reprs: serials in hex (as the CLI and JSON show them), bytes as sizes.

A dataclass whose body sets ``__repr__ = readable_repr`` keeps the dataclass layout but
prints a serial as ``0x2bc4…`` instead of a 40-digit decimal, a certificate as its subject,
and bytes (a DER blob, a document) as their length, so a repr never dumps content.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from cryptography import x509


def show(name: str, value: Any) -> str:
    """One field as a repr shows it."""
    if name == "serial" and isinstance(value, int) and not isinstance(value, bool):
        return f"0x{value:x}"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value)} bytes>"
    if isinstance(value, x509.Certificate):
        return f"<Certificate {value.subject.rfc4514_string()} serial 0x{value.serial_number:x}>"
    return repr(value)


def readable_repr(self: Any) -> str:
    """``Class(field=value, ...)`` over the dataclass fields that have ``repr=True``."""
    parts = [
        f"{f.name}={show(f.name, getattr(self, f.name))}"
        for f in dataclasses.fields(self)
        if f.repr
    ]
    return f"{type(self).__name__}({', '.join(parts)})"
