"""Produce CMS SignedData (RFC 5652) with CAdES B-B signed attributes.

The CMS structure and its signed attributes (content-type, message-digest, signing-time,
signing-certificate-v2, CMS algorithm protection) are built by pyHanko's signer; esign
chooses the algorithms, supplies the clock and turns the result into DER.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from typing import BinaryIO

from asn1crypto import cms
from asn1crypto import keys as asn1_keys
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pyhanko.sign.attributes import CMSAttributeProvider
from pyhanko.sign.signers import SimpleSigner
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko_certvalidator.registry import SimpleCertificateStore

from esign._sync import run_sync
from esign.certs.trust import to_asn1
from esign.errors import EsignError, UnsupportedAlgorithmError
from esign.keys.algorithms import ALGORITHMS, PrivateKey, algorithm_name
from esign.policy import default_digest_for

Clock = Callable[[], datetime.datetime]
Signer = tuple[PrivateKey, x509.Certificate]


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


class _FixedAttribute(CMSAttributeProvider):  # type: ignore[misc]
    """Hands pyHanko a signed attribute that esign built itself."""

    def __init__(self, attribute: cms.CMSAttribute) -> None:
        self.attribute = attribute
        self.attribute_type = attribute["type"].native

    async def get_attribute(self, dry_run: bool = False) -> cms.CMSAttribute:
        return self.attribute


class _Signer(SimpleSigner):  # type: ignore[misc]
    """pyHanko's signer, plus the extra signed attributes esign adds (e.g. recipients)."""

    extra_signed_attributes: Sequence[cms.CMSAttribute] = ()

    def _signed_attr_providers(self, *args: object, **kwargs: object) -> object:
        yield from super()._signed_attr_providers(*args, **kwargs)
        for attribute in self.extra_signed_attributes:
            yield _FixedAttribute(attribute)


def _pyhanko_signer(
    key: PrivateKey, certificate: x509.Certificate, chain: Sequence[x509.Certificate]
) -> _Signer:
    name = algorithm_name(key)
    if name not in ALGORITHMS or not ALGORITHMS[name].can_sign:
        raise UnsupportedAlgorithmError(f"a {name} key cannot sign")
    if key.public_key() != certificate.public_key():
        raise EsignError("the private key does not belong to the signer certificate")
    pkcs8 = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    signing_cert = to_asn1(certificate)
    store = SimpleCertificateStore.from_certs([signing_cert, *(to_asn1(c) for c in chain)])
    return _Signer(
        signing_cert=signing_cert,
        signing_key=asn1_keys.PrivateKeyInfo.load(pkcs8),
        cert_registry=store,
        prefer_pss=isinstance(key, rsa.RSAPrivateKey),
    )


def sign(
    data: bytes | BinaryIO,
    *,
    signer: Signer,
    chain: Sequence[x509.Certificate] = (),
    detached: bool = True,
    clock: Clock = _utc_now,
    signed_attributes: Sequence[cms.CMSAttribute] = (),
) -> bytes:
    """Sign ``data`` (bytes or a binary file object, hashed as a stream) and return DER CMS.

    ``signer`` is ``(private_key, certificate)``; ``chain`` adds intermediate certificates
    to the SignedData so a verifier can build the path. The digest is matched to the key
    (SHA-256 for P-256 and RSA, SHA-384 for P-384, SHA-512 for Ed25519).
    ``signed_attributes`` are added to the standard ones and covered by the signature.
    """
    key, certificate = signer
    pyhanko_signer = _pyhanko_signer(key, certificate, chain)
    pyhanko_signer.extra_signed_attributes = tuple(signed_attributes)
    digest = default_digest_for(certificate.public_key())  # type: ignore[arg-type]
    settings = PdfCMSSignedAttributes(signing_time=clock())
    content_info = run_sync(
        pyhanko_signer.async_sign_general_data(
            data, digest, detached=detached, signed_attr_settings=settings
        )
    )
    der: bytes = content_info.dump()
    return der
