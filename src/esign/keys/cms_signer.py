"""A pyHanko ``Signer`` whose raw signature comes from a :class:`~esign.keys.KeyHandle`.

This is how signing/ plugs in a key wherever it lives (local, vault, PKCS#11): pyHanko
builds the CMS and its signed attributes, the handle signs them, and the private key never
has to be a ``cryptography`` object in this process.
"""

from __future__ import annotations

from collections.abc import Sequence

from asn1crypto import algos
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.sign.signers.pdf_cms import Signer, SimpleSigner
from pyhanko_certvalidator.registry import SimpleCertificateStore

from esign.keys.handle import KeyHandle


def _asn1(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(Encoding.DER))


class HashLengthPss:
    """pyHanko's signature mechanism, with RSA-PSS's salt as long as the hash (RFC 4055,
    ETSI TS 119 312; what gpgsm expects and PKCS#11 tokens produce) instead of the
    longest salt pyHanko picks."""

    def get_signature_mechanism_for_digest(self, digest: str | None) -> algos.SignedDigestAlgorithm:
        mechanism: algos.SignedDigestAlgorithm = super().get_signature_mechanism_for_digest(  # type: ignore[misc]
            digest
        )
        if mechanism["algorithm"].native != "rsassa_pss":
            return mechanism
        copy = algos.SignedDigestAlgorithm.load(mechanism.dump())  # the rest byte for byte
        params = copy["parameters"]
        digest_name = params["hash_algorithm"]["algorithm"].native
        params["salt_length"] = {"sha256": 32, "sha384": 48, "sha512": 64}[digest_name]
        return algos.SignedDigestAlgorithm.load(copy.dump(force=True))


class LocalSigner(HashLengthPss, SimpleSigner):  # type: ignore[misc]
    """pyHanko's signer for an in-memory key, RSA-PSS with a hash-length salt."""


class HandleSigner(HashLengthPss, Signer):  # type: ignore[misc]
    """pyHanko builds the signed attributes; the handle signs them."""

    def __init__(
        self,
        handle: KeyHandle,
        certificate: x509.Certificate,
        chain: Sequence[x509.Certificate] = (),
    ) -> None:
        signing_cert = _asn1(certificate)
        store = SimpleCertificateStore.from_certs([signing_cert, *map(_asn1, chain)])
        super().__init__(prefer_pss=True, signing_cert=signing_cert, cert_registry=store)
        self.handle = handle

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
        name = mechanism["algorithm"].native
        scheme = None
        if name == "rsassa_pss":
            scheme = "rsa-pss"
        elif "rsa" in name:
            scheme = "rsa-pkcs1v15"
        return self.handle.sign(data, digest=digest_algorithm, scheme=scheme)
