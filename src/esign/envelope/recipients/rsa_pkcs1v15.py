"""RSA PKCS#1 v1.5 key transport: legacy, for peers that write nothing else (gpgsm,
``cryptography``'s PKCS7 builder, openssl's default). Never chosen by default, opened only
on request: its padding check is an oracle (Bleichenbacher)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import padding

from esign.envelope.recipients.rsa_oaep import (
    key_transport_for,
    key_transport_record,
    rsa_public_key,
)
from esign.errors import DecryptionError, UnsupportedAlgorithmError
from esign.keys.handle import KeyHandle


@dataclass
class RsaPkcs1v15Recipient:
    """RSA PKCS#1 v1.5 key transport: only for peers that read nothing else."""

    certificate: x509.Certificate

    def wrap(self, cek: bytes) -> cms.RecipientInfo:
        public = rsa_public_key(self.certificate)
        return key_transport_record(
            self.certificate,
            {"algorithm": "rsaes_pkcs1v15"},
            public.encrypt(cek, padding.PKCS1v15()),
        )


@dataclass
class RsaPkcs1v15Identity:
    """An RSA private key in memory that opens PKCS#1 v1.5 records (the legacy opt-in)."""

    key: Any
    certificate: x509.Certificate | None = None

    def unwrap(self, info: cms.RecipientInfo) -> bytes | None:
        ktri = key_transport_for(info, self.certificate, "rsaes_pkcs1v15")
        if ktri is None:
            return None
        if isinstance(self.key, KeyHandle):
            raise UnsupportedAlgorithmError("key handles decrypt RSA-OAEP only")
        try:
            cek: bytes = self.key.decrypt(ktri["encrypted_key"].native, padding.PKCS1v15())
        except ValueError:
            raise DecryptionError() from None
        return cek
