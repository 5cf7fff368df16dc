"""Produce CMS SignedData (RFC 5652) with CAdES B-B signed attributes, B-T time-stamps,
parallel signers and counter-signatures.

The CMS structure and its signed attributes (content-type, message-digest, signing-time,
signing-certificate-v2, CMS algorithm protection) are built by pyHanko's signer, and so is
the signature time-stamp (B-T) when a ``timestamper`` is given; esign chooses the
algorithms, supplies the clock and turns the result into DER. Adding a parallel signer or a
counter-signature edits the SignedData with asn1crypto; the signature value itself is
always pyHanko's (``async_sign_raw``).
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Callable, Sequence
from typing import Any, BinaryIO

from asn1crypto import cms, core
from asn1crypto import crl as asn1_crl
from asn1crypto import keys as asn1_keys
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import mldsa, rsa
from pyhanko.sign.attributes import CMSAttributeProvider
from pyhanko.sign.general import as_signing_certificate_v2, simple_cms_attribute
from pyhanko.sign.signers import SimpleSigner
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.timestamps import TimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore

from esign._sync import run_sync
from esign.certs.trust import to_asn1
from esign.errors import EsignError, MalformedInputError, UnsupportedAlgorithmError
from esign.gost.keys import GostPrivateKey
from esign.keys.algorithms import ALGORITHMS, PrivateKey, algorithm_name
from esign.policy import default_digest_for
from esign.signing.container import PARSE_ERRORS, load_signed_data, unarmor

#: ML-DSA keys (FIPS 204). ``esign.keys`` does not name them yet, so signing recognises
#: them here; RFC 9882 pairs every ML-DSA parameter set with SHA-512.
MLDSA_KEYS = (mldsa.MLDSA44PrivateKey, mldsa.MLDSA65PrivateKey, mldsa.MLDSA87PrivateKey)

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
    if not isinstance(key, MLDSA_KEYS):
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
    # pyHanko embeds the signing certificate itself; the store adds only the chain.
    store = SimpleCertificateStore.from_certs([to_asn1(c) for c in chain])
    return _Signer(
        signing_cert=signing_cert,
        signing_key=asn1_keys.PrivateKeyInfo.load(pkcs8),
        cert_registry=store,
        prefer_pss=isinstance(key, rsa.RSAPrivateKey),
    )


def digest_for(key: PrivateKey) -> str:
    """The digest esign pairs with a signing key (SHA-512 for ML-DSA, RFC 9882 §3.3)."""
    if isinstance(key, MLDSA_KEYS):
        return "sha512"
    return default_digest_for(key.public_key())


def sign(
    data: bytes | BinaryIO,
    *,
    signer: Signer,
    chain: Sequence[x509.Certificate] = (),
    detached: bool = True,
    clock: Clock = _utc_now,
    signed_attributes: Sequence[cms.CMSAttribute] = (),
    timestamper: TimeStamper | None = None,
) -> bytes:
    """Sign ``data`` (bytes or a binary file object, hashed as a stream) and return DER CMS.

    ``signer`` is ``(private_key, certificate)``; ``chain`` adds intermediate certificates
    to the SignedData so a verifier can build the path. The digest is matched to the key
    (SHA-256 for P-256 and RSA, SHA-384 for P-384, SHA-512 for Ed25519 and ML-DSA).
    ``signed_attributes`` are added to the standard ones and covered by the signature.
    With a ``timestamper`` (``esign.signing.timestamps``) the signature value is
    time-stamped (RFC 3161 token as an unsigned attribute): CAdES B-T.
    """
    key, certificate = signer
    if isinstance(key, GostPrivateKey):  # GOST R 34.10-2012 + Streebog: esign.gost.cms
        from esign.gost.cms import sign as gost_sign
        from esign.gost.cms import time_stamp_with

        stamp = time_stamp_with(timestamper) if timestamper is not None else None
        return gost_sign(
            data,
            key=key,
            certificate=certificate,
            chain=chain,
            detached=detached,
            clock=clock,
            signed_attributes=signed_attributes,
            timestamp=stamp,
        )
    pyhanko_signer = _pyhanko_signer(key, certificate, chain)
    pyhanko_signer.extra_signed_attributes = tuple(signed_attributes)
    digest = digest_for(key)
    settings = PdfCMSSignedAttributes(signing_time=clock())
    content_info = run_sync(
        pyhanko_signer.async_sign_general_data(
            data,
            digest,
            detached=detached,
            signed_attr_settings=settings,
            timestamper=timestamper,
        )
    )
    der: bytes = content_info.dump()
    return der


def rebuilt(original: Any, **changes: Any) -> Any:
    """A fresh copy of an asn1crypto Sequence with some fields replaced.

    Untouched fields keep their exact encoded bytes (signed attributes of other signers stay
    byte-identical); a fresh object also avoids asn1crypto's very slow ``dump(force=True)``.
    """
    fields = {}
    for name, _spec, *_ in original._fields:
        value = changes[name] if name in changes else original[name]
        if name in changes or not isinstance(value, core.Void):
            fields[name] = value
    return type(original)(fields)


def _merged_certificates(
    signed: cms.SignedData, extra: Sequence[cms.CertificateChoices]
) -> cms.CertificateSet:
    present = [] if isinstance(signed["certificates"], core.Void) else list(signed["certificates"])
    dumped = {c.dump() for c in present}
    for choice in extra:
        if choice.dump() not in dumped:
            present.append(choice)
            dumped.add(choice.dump())
    return cms.CertificateSet(present)


def add_signer(
    signature: bytes,
    data: bytes | BinaryIO | None = None,
    *,
    signer: Signer,
    chain: Sequence[x509.Certificate] = (),
    clock: Clock = _utc_now,
    timestamper: TimeStamper | None = None,
) -> bytes:
    """Add a parallel signer to an existing SignedData (several signers, one document).

    The new SignerInfo signs the same content (``data`` for a detached signature) with its
    own key; the existing signers are untouched, so their signatures stay valid.
    """
    load_signed_data(signature)  # checks every field once ...
    signed = _fresh(signature)  # ... and an unwalked copy keeps its exact bytes on output
    try:
        content = signed["encap_content_info"]["content"].native
        if signed["encap_content_info"]["content_type"].native != "data":
            raise MalformedInputError("only id-data content can take a parallel signer")
        if content is None and data is None:
            raise MalformedInputError("detached signature: the signed data must be given")
        source: bytes | BinaryIO = content if content is not None else data  # type: ignore[assignment]
        own = sign(
            source,
            signer=signer,
            chain=chain,
            detached=True,
            clock=clock,
            timestamper=timestamper,
        )
        new = cms.ContentInfo.load(own)["content"]
        algorithms = list(signed["digest_algorithms"])
        for algorithm in new["digest_algorithms"]:
            if algorithm.dump() not in {a.dump() for a in algorithms}:
                algorithms.append(algorithm)
        merged = rebuilt(
            signed,
            digest_algorithms=cms.DigestAlgorithms(algorithms),
            certificates=_merged_certificates(signed, list(new["certificates"])),
            signer_infos=cms.SignerInfos([*signed["signer_infos"], *new["signer_infos"]]),
        )
        info = cms.ContentInfo({"content_type": "signed_data", "content": merged})
        der: bytes = info.dump()
    except PARSE_ERRORS as exc:
        raise MalformedInputError(f"malformed CMS SignedData: {exc}") from exc
    return der


def countersign(
    signature: bytes,
    *,
    signer: Signer,
    chain: Sequence[x509.Certificate] = (),
    signer_index: int = 0,
    clock: Clock = _utc_now,
) -> bytes:
    """Counter-sign one signer of a SignedData (RFC 5652 §11.4): sign its signature value.

    The counter-signature is a SignerInfo in the ``counter_signature`` unsigned attribute
    of the signer at ``signer_index``; its signed attributes are message-digest (of the
    parent signature value), signing-time, signing-certificate-v2 and CMS algorithm
    protection, and no content-type (as RFC 5652 requires).
    """
    key, certificate = signer
    pyhanko_signer = _pyhanko_signer(key, certificate, chain)
    digest = digest_for(key)
    load_signed_data(signature)  # checks every field once ...
    signed = _fresh(signature)  # ... and an unwalked copy keeps its exact bytes on output
    try:
        infos = list(signed["signer_infos"])
        if not 0 <= signer_index < len(infos):
            raise EsignError(f"no signer number {signer_index} to counter-sign")
        parent = infos[signer_index]
        hasher = hashlib.new(digest)
        hasher.update(parent["signature"].native)
        mechanism = pyhanko_signer.get_signature_mechanism_for_digest(digest)
        asn1_cert = to_asn1(certificate)
        attributes = cms.CMSAttributes(
            [
                simple_cms_attribute("message_digest", hasher.digest()),
                simple_cms_attribute("signing_time", cms.Time({"utc_time": clock()})),
                simple_cms_attribute(
                    "signing_certificate_v2", as_signing_certificate_v2(asn1_cert, digest)
                ),
                simple_cms_attribute(
                    "cms_algorithm_protection",
                    cms.CMSAlgorithmProtection(
                        {
                            "digest_algorithm": cms.DigestAlgorithm({"algorithm": digest}),
                            "signature_algorithm": mechanism,
                        }
                    ),
                ),
            ]
        )
        value = run_sync(pyhanko_signer.async_sign_raw(attributes.dump(), digest))
        counter = cms.SignerInfo(
            {
                "version": "v1",
                "sid": cms.SignerIdentifier(
                    {
                        "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                            {
                                "issuer": asn1_cert.issuer,
                                "serial_number": asn1_cert.serial_number,
                            }
                        )
                    }
                ),
                "digest_algorithm": cms.DigestAlgorithm({"algorithm": digest}),
                "signed_attrs": attributes,
                "signature_algorithm": mechanism,
                "signature": value,
            }
        )
        unsigned = (
            []
            if isinstance(parent["unsigned_attrs"], core.Void)
            else list(parent["unsigned_attrs"])
        )
        unsigned.append(cms.CMSAttribute({"type": "counter_signature", "values": [counter]}))
        infos[signer_index] = rebuilt(parent, unsigned_attrs=cms.CMSAttributes(unsigned))
        merged = rebuilt(
            signed,
            signer_infos=cms.SignerInfos(infos),
            certificates=_merged_certificates(
                signed,
                [
                    cms.CertificateChoices({"certificate": c})
                    for c in (asn1_cert, *map(to_asn1, chain))
                ],
            ),
        )
        der: bytes = cms.ContentInfo({"content_type": "signed_data", "content": merged}).dump()
    except PARSE_ERRORS as exc:
        raise MalformedInputError(f"malformed CMS SignedData: {exc}") from exc
    return der


def add_validation_data(
    signature: bytes,
    *,
    certificates: Sequence[x509.Certificate] = (),
    crls: Sequence[bytes | x509.CertificateRevocationList] = (),
) -> bytes:
    """Embed the chain and revocation data a verifier needs later, offline (CAdES B-LT).

    Certificates go to ``SignedData.certificates`` and CRLs to ``SignedData.crls`` (ETSI EN
    319 122-1 baseline B-LT), outside the signed attributes: existing signatures and
    time-stamps stay valid. ``esign.verify`` uses the embedded CRLs together with the trust
    context's own; they count only when signed by a CA in the validated path.
    """
    from cryptography.hazmat.primitives.serialization import Encoding

    load_signed_data(signature)  # checks every field once ...
    signed = _fresh(signature)  # ... and an unwalked copy keeps its exact bytes on output
    try:
        present = [] if isinstance(signed["crls"], core.Void) else list(signed["crls"])
        dumped = {c.dump() for c in present}
        for crl in crls:
            der = crl.public_bytes(Encoding.DER) if not isinstance(crl, bytes) else crl
            try:
                choice = cms.RevocationInfoChoice({"crl": asn1_crl.CertificateList.load(der)})
                choice.native  # noqa: B018 - refuse a malformed CRL now
            except PARSE_ERRORS as exc:
                raise MalformedInputError(f"not a CRL: {exc}") from exc
            if choice.dump() not in dumped:
                present.append(choice)
                dumped.add(choice.dump())
        merged = rebuilt(
            signed,
            certificates=_merged_certificates(
                signed, [cms.CertificateChoices({"certificate": to_asn1(c)}) for c in certificates]
            ),
            crls=cms.RevocationInfoChoices(present),
        )
        der_out: bytes = cms.ContentInfo({"content_type": "signed_data", "content": merged}).dump()
    except PARSE_ERRORS as exc:
        raise MalformedInputError(f"malformed CMS SignedData: {exc}") from exc
    return der_out


def _fresh(signature: bytes) -> cms.SignedData:
    """A newly parsed SignedData whose untouched parts dump their original bytes.

    asn1crypto re-encodes a structure whose algorithm identifiers were read (it normalises
    their parameters), which is slow and could alter bytes under a signature; building the
    output from a copy nobody walked avoids both.
    """
    signed: cms.SignedData = cms.ContentInfo.load(unarmor(signature))["content"]
    return signed
