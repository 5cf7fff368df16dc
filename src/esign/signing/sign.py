"""Produce CMS SignedData (RFC 5652) with CAdES B-B signed attributes, B-T time-stamps,
parallel signers and counter-signatures.

A signature is written from parts encoded once per signer certificate
(:mod:`esign.signing.signer_parts`): the signed attributes (content-type, signing-time,
message-digest, CMS algorithm protection, ESS signing-certificate-v2, plus the caller's),
the SignerInfo and the SignedData are joined as DER, in exactly the form pyHanko's signer
writes them. The key is any ``cryptography`` private key or any
:class:`~esign.keys.KeyHandle` (local, hosted vault, PKCS#11 token); nothing exports a
private key to sign. With a ``timestamper`` the signature value is time-stamped (B-T).
Adding a parallel signer or a counter-signature edits the SignedData with asn1crypto.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO

from asn1crypto import cms, core
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from esign.errors import EsignError, MalformedInputError, UnsupportedAlgorithmError
from esign.gost.keys import GostPrivateKey
from esign.keys.algorithms import ALGORITHMS, algorithm_name
from esign.keys.handle import KeyHandle, LocalKey
from esign.signing.container import PARSE_ERRORS, load_signed_data, required_version, unarmor
from esign.signing.signer_parts import (
    MLDSA_KEYS,
    SigningKey,
    check_key,
    digest_for_public,
    signer_parts,
    unsigned_time_stamp,
)

if TYPE_CHECKING:
    from pyhanko.sign.timestamps import TimeStamper

__all__ = [
    "MLDSA_KEYS",
    "Clock",
    "Signer",
    "add_signer",
    "countersign",
    "digest_for",
    "sign",
    "sign_digest",
]

Clock = Callable[[], datetime.datetime]
Signer = tuple[SigningKey, x509.Certificate]

#: Bytes read at a time when a file object is hashed.
CHUNK = 1 << 20


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _to_asn1(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


@functools.cache
def _with_extra_attributes(base: type) -> type:
    """A pyHanko signer class that also signs the attributes in ``extra_signed_attributes``
    (what the streaming sealer sets: the recipients binding)."""
    from pyhanko.sign.attributes import CMSAttributeProvider

    class Fixed(CMSAttributeProvider):  # type: ignore[misc]
        def __init__(self, attribute: cms.CMSAttribute) -> None:
            self.attribute = attribute
            self.attribute_type = attribute["type"].native

        async def get_attribute(self, dry_run: bool = False) -> cms.CMSAttribute:
            return self.attribute

    class WithExtra(base):  # type: ignore[misc]
        extra_signed_attributes: Sequence[cms.CMSAttribute] = ()

        def _signed_attr_providers(self, *args: object, **kwargs: object) -> object:
            yield from super()._signed_attr_providers(*args, **kwargs)
            for attribute in self.extra_signed_attributes:
                yield Fixed(attribute)

    return WithExtra


def _pyhanko_signer(
    key: SigningKey, certificate: x509.Certificate, chain: Sequence[x509.Certificate]
) -> Any:
    """A pyHanko signer for the paths pyHanko drives itself (PDF, the TSA's tokens).

    A key handle that is not local signs through :class:`esign.keys.cms_signer.HandleSigner`,
    so its private key never leaves it. Extra signed attributes go in
    ``extra_signed_attributes``.
    """
    from asn1crypto import keys as asn1_keys
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    from esign.keys.cms_signer import LocalSigner

    if isinstance(key, LocalKey):
        key = key.private_key
    if isinstance(key, KeyHandle):
        from esign.keys.cms_signer import HandleSigner

        check_key(key, certificate)
        return _with_extra_attributes(HandleSigner)(key, certificate, chain)
    if not isinstance(key, MLDSA_KEYS):
        name = algorithm_name(key)
        if name not in ALGORITHMS or not ALGORITHMS[name].can_sign:
            raise UnsupportedAlgorithmError(f"a {name} key cannot sign")
    check_key(key, certificate)
    pkcs8 = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    signing_cert = _to_asn1(certificate)
    # pyHanko embeds the signing certificate itself; the store adds only the chain.
    store = SimpleCertificateStore.from_certs([_to_asn1(c) for c in chain])
    return _with_extra_attributes(LocalSigner)(
        signing_cert=signing_cert,
        signing_key=asn1_keys.PrivateKeyInfo.load(pkcs8),
        cert_registry=store,
        prefer_pss=isinstance(key, rsa.RSAPrivateKey),
    )


def digest_for(key: SigningKey) -> str:
    """The digest esign pairs with a signing key (SHA-512 for ML-DSA, RFC 9882 §3.3)."""
    return digest_for_public(key.public_key())


def _digest_and_content(
    data: bytes | BinaryIO, digest: str, detached: bool
) -> tuple[bytes, bytes | None]:
    """The message digest of ``data`` and the content to embed (``None`` if detached)."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        content = bytes(data)
        return hashlib.new(digest, content).digest(), None if detached else content
    if not detached:
        content = data.read()
        return hashlib.new(digest, content).digest(), content
    hasher = hashlib.new(digest)
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    readinto = getattr(data, "readinto", None)
    while True:
        if readinto is not None:
            n = readinto(buffer)
            if not n:
                break
            hasher.update(view[:n])
        else:
            chunk = data.read(CHUNK)
            if not chunk:
                break
            hasher.update(chunk)
    return hasher.digest(), None


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

    ``signer`` is ``(key, certificate)``, the key a ``cryptography`` private key or any
    :class:`~esign.keys.KeyHandle`; ``chain`` adds intermediate certificates to the
    SignedData so a verifier can build the path. The digest is matched to the key
    (SHA-256 for P-256 and RSA, SHA-384 for P-384, SHA-512 for Ed25519 and ML-DSA).
    ``signed_attributes`` are added to the standard ones and covered by the signature.
    With a ``timestamper`` (``esign.signing.timestamps``) the signature value is
    time-stamped (RFC 3161 token as an unsigned attribute): CAdES B-T.

    A certificate whose key usage allows no signature is refused
    (:class:`~esign.errors.KeyUsageError`) before the document is read.
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
    key = check_key(key, certificate)
    parts = signer_parts(key, certificate, chain)
    extra = [attribute.dump() for attribute in signed_attributes]
    encapsulated: bytes | None = None
    content_type = b""
    if isinstance(data, (cms.ContentInfo, cms.EncapsulatedContentInfo)):
        # content of another type than id-data (a simple-signature statement)
        message_digest = hashlib.new(parts.digest, bytes(data["content"])).digest()
        content_type = data["content_type"].dump()
        content = None
        if detached:
            encapsulated = cms.EncapsulatedContentInfo(
                {"content_type": data["content_type"]}
            ).dump()
        else:
            encapsulated = data.dump()
        if data["content_type"].native == "data":
            content_type, encapsulated = b"", None
            content = None if detached else bytes(data["content"])
    else:
        message_digest, content = _digest_and_content(data, parts.digest, detached)
    attributes = parts.signed_attributes(message_digest, clock(), extra, content_type=content_type)
    signature = parts.sign(key, attributes)
    unsigned = b""
    if timestamper is not None:
        unsigned = _time_stamp(timestamper, signature, parts.digest)
    signer_info = parts.signer_info(attributes, signature, unsigned)
    return parts.content_info(signer_info, content, encapsulated)


def sign_digest(
    message_digest: bytes,
    *,
    signer: Signer,
    chain: Sequence[x509.Certificate] = (),
    clock: Clock = _utc_now,
    signed_attributes: Sequence[cms.CMSAttribute] = (),
) -> bytes:
    """A detached signature (DER CMS) over content hashed elsewhere, e.g. while streaming.

    ``message_digest`` must be made with :func:`digest_for` of the key; the output is what
    :func:`sign` writes for the same content.
    """
    key, certificate = signer
    key = check_key(key, certificate)
    parts = signer_parts(key, certificate, chain)
    if len(message_digest) != hashlib.new(parts.digest).digest_size:
        raise ValueError(f"the message digest must be a {parts.digest} digest")
    extra = [attribute.dump() for attribute in signed_attributes]
    attributes = parts.signed_attributes(message_digest, clock(), extra)
    return parts.content_info(parts.signer_info(attributes, parts.sign(key, attributes)), None)


def _time_stamp(timestamper: TimeStamper, signature: bytes, digest: str) -> bytes:
    """The unsigned attributes with a time-stamp token over the signature value (B-T)."""
    from esign._sync import run_sync

    token = run_sync(timestamper.async_timestamp(hashlib.new(digest, signature).digest(), digest))
    return unsigned_time_stamp(token.dump())


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
        if content is None:
            _check_same_document(signed["signer_infos"], source)
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


def _check_same_document(infos: cms.SignerInfos, data: bytes | BinaryIO) -> None:
    """Refuse to add a signer over other data than the existing signers signed.

    A detached signature does not carry its document, so a co-signer given the wrong file
    would produce a SignedData whose first signers no longer verify: compare the data's
    digest with each existing signer's messageDigest attribute first.
    """
    expected: dict[str, set[bytes]] = {}
    for info in infos:
        if not info["signed_attrs"]:
            continue
        for attribute in info["signed_attrs"]:
            if attribute["type"].native == "message_digest":
                name = info["digest_algorithm"]["algorithm"].native
                expected.setdefault(name, set()).add(attribute["values"][0].native)
    hashers = {}
    for name in expected:
        try:
            hashers[name] = hashlib.new(name)
        except ValueError:
            continue  # a digest hashlib lacks (GOST): its signer is checked by verify
    if not hashers:
        return
    if isinstance(data, bytes):
        for hasher in hashers.values():
            hasher.update(data)
    else:
        start = data.tell()
        while chunk := data.read(1 << 20):
            for hasher in hashers.values():
                hasher.update(chunk)
        data.seek(start)
    if not any(hasher.digest() in expected[name] for name, hasher in hashers.items()):
        raise MalformedInputError(
            "the data given is not the document the existing signature signed "
            "(its digest differs from the signers' message digest): give the same file"
        )


def _named_signer(
    infos: Sequence[cms.SignerInfo], target: x509.Certificate | None, signer_index: int | None
) -> int:
    """The position of the SignerInfo the caller named.

    SignerInfos are a DER SET, sorted by their encoding, so a position says nothing about
    the order signers were added: with several signers only the certificate names one.
    """
    if target is not None:
        asn1_target = _to_asn1(target)
        try:
            ski: bytes | None = target.extensions.get_extension_for_class(
                x509.SubjectKeyIdentifier
            ).value.digest
        except x509.ExtensionNotFound:
            ski = None
        found = []
        for index, info in enumerate(infos):
            sid = info["sid"]
            if sid.name == "issuer_and_serial_number":
                match = (
                    sid.chosen["serial_number"].native == target.serial_number
                    and sid.chosen["issuer"] == asn1_target.issuer
                )
            else:
                match = ski is not None and sid.chosen.native == ski
            if match:
                found.append(index)
        if not found:
            raise EsignError(
                f"no signer with certificate {target.subject.rfc4514_string()} "
                f"(serial {target.serial_number:x}) to counter-sign"
            )
        if len(found) > 1:
            raise EsignError("that certificate made several signatures here: cannot tell which")
        return found[0]
    if len(infos) > 1:
        raise EsignError(
            f"{len(infos)} signers: name the one to counter-sign with target=<its certificate> "
            "(their stored order is the DER sort order, not the order they were added)"
        )
    index = 0 if signer_index is None else signer_index
    if index != 0 or not infos:
        raise EsignError(f"no signer number {index} to counter-sign")
    return index


def countersign(
    signature: bytes,
    *,
    signer: Signer,
    chain: Sequence[x509.Certificate] = (),
    target: x509.Certificate | None = None,
    signer_index: int | None = None,
    clock: Clock = _utc_now,
) -> bytes:
    """Counter-sign one signer of a SignedData (RFC 5652 §11.4): sign its signature value.

    The counter-signature is a SignerInfo in the ``counter_signature`` unsigned attribute
    of the signer whose certificate is ``target`` (needed when there are several signers:
    a DER SET keeps them sorted by encoding, not in the order they were added); with a
    single signer ``target`` may be left out (``signer_index=0`` also names it). Its signed
    attributes are message-digest (of the parent signature value), signing-time,
    signing-certificate-v2 and CMS algorithm protection, and no content-type (as RFC 5652
    requires).
    """
    if target is not None and signer_index is not None:
        raise ValueError("name the signer to counter-sign by target or signer_index, not both")
    key, certificate = signer
    key = check_key(key, certificate)
    parts = signer_parts(key, certificate, chain)
    load_signed_data(signature)  # checks every field once ...
    signed = _fresh(signature)  # ... and an unwalked copy keeps its exact bytes on output
    try:
        infos = list(signed["signer_infos"])
        position = _named_signer(infos, target, signer_index)
        parent = infos[position]
        md = hashlib.new(parts.digest, parent["signature"].native).digest()
        attributes = parts.signed_attributes(md, clock(), content_type=None)
        counter = cms.SignerInfo.load(parts.signer_info(attributes, parts.sign(key, attributes)))
        unsigned = (
            []
            if isinstance(parent["unsigned_attrs"], core.Void)
            else list(parent["unsigned_attrs"])
        )
        unsigned.append(cms.CMSAttribute({"type": "counter_signature", "values": [counter]}))
        infos[position] = rebuilt(parent, unsigned_attrs=cms.CMSAttributes(unsigned))
        merged = rebuilt(
            signed,
            signer_infos=cms.SignerInfos(infos),
            certificates=_merged_certificates(
                signed,
                [
                    cms.CertificateChoices({"certificate": c})
                    for c in (_to_asn1(certificate), *map(_to_asn1, chain))
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
    ocsps: Sequence[bytes] = (),
) -> bytes:
    """Embed the chain and revocation data a verifier needs later, offline (CAdES B-LT).

    Certificates go to ``SignedData.certificates``, CRLs and OCSP responses (DER, as the
    RFC 5940 ``id-ri-ocsp-response`` format) to ``SignedData.crls`` (ETSI EN 319 122-1
    baseline B-LT), outside the signed attributes: existing signatures and time-stamps
    stay valid. ``esign.verify`` uses the embedded data together with the trust
    context's own; it counts only when signed by a CA (or responder) of the validated path.
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
        for response in ocsps:
            try:
                parsed = asn1_ocsp.OCSPResponse.load(response)
                parsed.native  # noqa: B018 - refuse a malformed response now
                if parsed["response_status"].native != "successful":
                    raise MalformedInputError("only a successful OCSP response can be embedded")
                choice = cms.RevocationInfoChoice(
                    name="other",
                    value={"other_rev_info_format": "ocsp_response", "other_rev_info": parsed},
                )
            except PARSE_ERRORS as exc:
                raise MalformedInputError(f"not an OCSP response: {exc}") from exc
            if choice.dump() not in dumped:
                present.append(choice)
                dumped.add(choice.dump())
        merged = rebuilt(
            signed,
            certificates=_merged_certificates(
                signed, [cms.CertificateChoices({"certificate": _to_asn1(c)}) for c in certificates]
            ),
            crls=cms.RevocationInfoChoices(present),
        )
        merged["version"] = required_version(merged)  # 5 once an OCSP response is in
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
