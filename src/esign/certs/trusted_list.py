"""Trusted lists of qualified issuers, per jurisdiction.

A verifier decides QUALIFIED only for certificates whose issuing CA is on a trusted list it
supplies (DESIGN §6). This module holds the in-memory model every source feeds: ETSI TS
119 612 XML, esign's own simple format, or a CA given on the command line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

JURISDICTIONS = ("eidas", "ru")


def _key_id(certificate: x509.Certificate) -> bytes:
    """Identify a CA by its subject public key, so a re-issued CA certificate still matches."""
    spki = certificate.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).digest()


@dataclass
class TrustedList:
    """Qualified issuing CAs of one jurisdiction (``"eidas"`` or ``"ru"``)."""

    jurisdiction: str = "eidas"
    issuers: list[x509.Certificate] = field(default_factory=list)
    name: str = "trusted list"

    def __post_init__(self) -> None:
        if self.jurisdiction not in JURISDICTIONS:
            raise ValueError(
                f"unknown jurisdiction {self.jurisdiction!r}; known: {', '.join(JURISDICTIONS)}"
            )
        self._keys = {_key_id(c) for c in self.issuers}

    def add(self, issuers: Iterable[x509.Certificate]) -> None:
        for certificate in issuers:
            self.issuers.append(certificate)
            self._keys.add(_key_id(certificate))

    def lists_issuer(self, issuer: x509.Certificate, *, at: object = None) -> bool:
        """Whether ``issuer`` (a CA certificate in a validated path) is on this list."""
        return _key_id(issuer) in self._keys
