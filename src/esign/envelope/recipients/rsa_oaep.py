"""RSA-OAEP key transport (RFC 8017, parameters per RFC 4055)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from asn1crypto import algos, cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from esign.envelope.recipients.common import (
    HASHES,
    addressed_to,
    decrypt_oaep,
    issuer_and_serial,
    require_usage,
)
from esign.errors import DecryptionError, UnsupportedAlgorithmError


def rsa_public_key(certificate: x509.Certificate) -> rsa.RSAPublicKey:
    """The certificate's RSA key, after checking it may carry a wrapped key."""
    require_usage(certificate, "key_encipherment")
    public = certificate.public_key()
    if not isinstance(public, rsa.RSAPublicKey):
        raise UnsupportedAlgorithmError("RSA recipients need an RSA certificate")
    return public


def key_transport_record(
    certificate: x509.Certificate, algorithm: dict[str, Any], encrypted_key: bytes
) -> cms.RecipientInfo:
    """A KeyTransRecipientInfo naming the certificate by issuer and serial (version 0)."""
    return cms.RecipientInfo(
        name="ktri",
        value=cms.KeyTransRecipientInfo(
            {
                "version": "v0",
                "rid": cms.RecipientIdentifier(
                    name="issuer_and_serial_number", value=issuer_and_serial(certificate)
                ),
                "key_encryption_algorithm": algorithm,
                "encrypted_key": encrypted_key,
            }
        ),
    )


def key_transport_for(
    info: cms.RecipientInfo, certificate: x509.Certificate | None, algorithm: str
) -> cms.KeyTransRecipientInfo | None:
    """The ktri record if it is addressed to ``certificate`` and uses ``algorithm``."""
    if info.name != "ktri" or not addressed_to(info.chosen["rid"], certificate):
        return None
    ktri: cms.KeyTransRecipientInfo = info.chosen
    if ktri["key_encryption_algorithm"]["algorithm"].native != algorithm:
        return None
    return ktri


@dataclass
class RsaOaepRecipient:
    """RSA-OAEP key transport (RFC 8017, RFC 4055 parameters): SHA-256 and MGF1-SHA-256."""

    certificate: x509.Certificate

    def wrap(self, cek: bytes) -> cms.RecipientInfo:
        public = rsa_public_key(self.certificate)
        sha256 = hashes.SHA256()
        oaep = padding.OAEP(mgf=padding.MGF1(sha256), algorithm=sha256, label=None)
        params = algos.RSAESOAEPParams(
            {
                "hash_algorithm": {"algorithm": "sha256"},
                "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": "sha256"}},
            }
        )
        return key_transport_record(
            self.certificate,
            {"algorithm": "rsaes_oaep", "parameters": params},
            public.encrypt(cek, oaep),
        )


@dataclass
class RsaOaepIdentity:
    """An RSA private key (or a key handle that decrypts OAEP) that opens RSA-OAEP records.

    A PKCS#1 v1.5 record addressed to it is refused by name ("legacy algorithm refused"),
    so another record for the same key can still open the envelope.
    """

    key: Any
    certificate: x509.Certificate | None = None

    def unwrap(self, info: cms.RecipientInfo) -> bytes | None:
        if key_transport_for(info, self.certificate, "rsaes_pkcs1v15") is not None:
            raise UnsupportedAlgorithmError(
                "legacy algorithm refused: RSA key transport other than OAEP "
                "(PKCS#1 v1.5 needs the legacy_pkcs1v15 opt-in)"
            )
        ktri = key_transport_for(info, self.certificate, "rsaes_oaep")
        if ktri is None:
            return None
        params = ktri["key_encryption_algorithm"]["parameters"]
        hash_name = params["hash_algorithm"]["algorithm"].native
        mgf_hash = params["mask_gen_algorithm"]["parameters"]["algorithm"].native
        if hash_name not in HASHES or mgf_hash not in HASHES:
            raise UnsupportedAlgorithmError(f"unsupported OAEP hash {hash_name}/{mgf_hash}")
        label = params["p_source_algorithm"]["parameters"].native or None
        try:
            return decrypt_oaep(self.key, ktri["encrypted_key"].native, hash_name, mgf_hash, label)
        except ValueError:
            raise DecryptionError() from None
