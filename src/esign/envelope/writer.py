"""The one envelope writer: sign-then-encrypt (or encrypt only) from a stream, in one pass.

The sealed form is CMS AuthEnvelopedData (RFC 5083) with AES-256-GCM (RFC 5084), or
EnvelopedData with AES-256-CBC for older peers, around a CMS SignedData ContentInfo with
the document attached: what ``openssl cms -sign -nodetach | openssl cms -encrypt``
produces, so each side opens what the other sealed. The document is hashed and encrypted
as it is read; the signer info follows once the digest is known. Streams are written in
BER with indefinite lengths (as ``openssl cms -stream`` does); the in-memory wrappers
:func:`seal` and :func:`encrypt_envelope` write the same calls as DER. Internal: the
public calls are :mod:`esign.envelope` and :mod:`esign.hazmat.envelope`.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, BinaryIO

from asn1crypto import cms, core
from cryptography import x509

from esign.envelope.ber import BerFraming, DerFraming, tlv
from esign.envelope.binding import binding_attribute
from esign.envelope.cipher import ContentAlgorithm, ContentCipher, Encryptor
from esign.envelope.recipients import Recipient, recipient_for
from esign.errors import EsignError, KeyMismatchError
from esign.limits import MAX_RECIPIENTS as MAX_RECIPIENTS
from esign.signing.sign import Clock, _utc_now, digest_for

CHUNK = 1 << 20
Progress = Callable[[int], None]
RecipientLike = x509.Certificate | Recipient
#: A signer: a private key or any KeyHandle (local, vault, PKCS#11), with its certificate.
SignerLike = tuple[Any, x509.Certificate]
_OID_DATA = core.ObjectIdentifier("1.2.840.113549.1.7.1").dump()
_OID_SIGNED = core.ObjectIdentifier("1.2.840.113549.1.7.2").dump()
_OID_AUTH_ENVELOPED = core.ObjectIdentifier("1.2.840.113549.1.9.16.1.23").dump()
_OID_ENVELOPED = core.ObjectIdentifier("1.2.840.113549.1.7.3").dump()


@dataclass(frozen=True)
class PreparedRecipients:
    """A fresh CEK and each recipient's record for it, made before signing (the binding)."""

    cek: bytes
    infos: cms.RecipientInfos


def as_recipient(recipient: RecipientLike) -> Recipient:
    """A certificate becomes the recipient kind that fits it; a Recipient passes through."""
    if isinstance(recipient, x509.Certificate):
        return recipient_for(recipient)
    return recipient


def prepare_recipients(
    recipients: Sequence[RecipientLike], cek_bytes: int = 32
) -> PreparedRecipients:
    """Wrap a fresh CEK for every recipient (checking each one's key usage first)."""
    if not recipients:
        raise ValueError("an envelope needs at least one recipient")
    if len(recipients) > MAX_RECIPIENTS:
        raise ValueError(f"at most {MAX_RECIPIENTS} recipients")
    cek = os.urandom(cek_bytes)
    return PreparedRecipients(
        cek, cms.RecipientInfos([as_recipient(r).wrap(cek) for r in recipients])
    )


def check_signer(signer: SignerLike) -> None:
    """Refuse a signer key that does not belong to its certificate, before any document
    byte is read (cheap checks first)."""
    key, certificate = signer
    public_key = getattr(key, "public_key", None)
    if public_key is None:
        raise TypeError(f"a signer key must have public_key(), not {type(key).__name__}")
    if public_key() != certificate.public_key():
        raise KeyMismatchError("the private key does not belong to the signer certificate")


def enveloped_data_version(infos: cms.RecipientInfos) -> int:
    """RFC 5652 §6.1: 3 with pwri/ori records, 0 if every record is version 0, else 2."""
    if any(info.name in ("pwri", "ori") for info in infos):
        return 3
    if all(info.chosen["version"].native == "v0" for info in infos):
        return 0
    return 2


# --- signing over a digest computed while streaming ----------------------------------------


def digest_name_for(key: Any) -> str:
    """The digest paired with a signing key or handle (SHA-512 for ML-DSA, RFC 9882)."""
    return digest_for(key)


def sign_digest(
    signer: SignerLike,
    chain: Sequence[x509.Certificate],
    digest: bytes,
    digest_name: str,
    clock: Clock,
    attributes: Sequence[cms.CMSAttribute],
) -> cms.SignedData:
    """A detached SignedData over a digest computed while streaming: the same signed
    attributes as :func:`esign.sign`, plus ``attributes`` (the binding); a key handle
    signs without ever exporting its key."""
    from esign.signing.sign import sign_digest as cms_sign_digest

    if digest_name != digest_for(signer[0]):
        raise ValueError(f"the content was hashed with {digest_name}, not the signer's digest")
    der = cms_sign_digest(
        digest, signer=signer, chain=chain, clock=clock, signed_attributes=attributes
    )
    signed: cms.SignedData = cms.ContentInfo.load(der)["content"]
    return signed


# --- the writer -----------------------------------------------------------------------------


def write_envelope(
    dst: BinaryIO,
    prepared: PreparedRecipients,
    cipher: ContentCipher,
    body: Callable[[BerFraming], None],
    *,
    der: bool = False,
) -> None:
    """Write the envelope around ``body``, which writes the plaintext through a framing
    that feeds the content encryption (id-data content type, as openssl writes it)."""
    algorithm = ContentAlgorithm.new(cipher)
    framing = DerFraming if der else BerFraming
    outer = framing(dst.write)
    outer.open(0x30)
    outer.raw(_OID_AUTH_ENVELOPED if algorithm.gcm else _OID_ENVELOPED)
    outer.open(0xA0)
    outer.open(0x30)
    version = 0 if algorithm.gcm else enveloped_data_version(prepared.infos)
    outer.raw(core.Integer(version).dump() + prepared.infos.dump())
    outer.open(0x30)
    outer.raw(_OID_DATA + algorithm.identifier().dump())
    outer.open_string(0x80)  # encryptedContent [0] IMPLICIT OCTET STRING
    encryptor = Encryptor(algorithm, prepared.cek, outer.piece)
    inner = framing(encryptor.write)
    body(inner)
    tag = encryptor.finish()
    outer.close_string()
    outer.close()  # EncryptedContentInfo
    if algorithm.gcm:
        outer.raw(tlv(0x04, tag))
    outer.close()  # (Auth)EnvelopedData
    outer.close()  # [0]
    outer.close()  # ContentInfo


def _signed_body(
    src: BinaryIO,
    signer: SignerLike,
    chain: Sequence[x509.Certificate],
    clock: Clock,
    attributes: Sequence[cms.CMSAttribute],
    progress: Progress | None,
    total: list[int],
) -> Callable[[BerFraming], None]:
    """The inner SignedData ContentInfo, document attached, hashed as it is written."""
    digest_name = digest_name_for(signer[0])
    digest_algorithms = cms.DigestAlgorithms([{"algorithm": digest_name}])

    def body(inner: BerFraming) -> None:
        inner.open(0x30)
        inner.raw(_OID_SIGNED)
        inner.open(0xA0)
        inner.open(0x30)  # SignedData version 1: issuerAndSerialNumber, id-data
        inner.raw(core.Integer(1).dump() + digest_algorithms.dump())
        inner.open(0x30)
        inner.raw(_OID_DATA)
        inner.open(0xA0)
        inner.open_string(0x04)
        hasher = hashlib.new(digest_name)
        with ThreadPoolExecutor(max_workers=1) as pool:  # hashlib hashes without the GIL
            hashing: Future[None] | None = None
            while chunk := src.read(CHUNK):
                if hashing is not None:
                    hashing.result()
                hashing = pool.submit(hasher.update, chunk)
                inner.piece(chunk)
                total[0] += len(chunk)
                if progress is not None:
                    progress(total[0])
            if hashing is not None:
                hashing.result()
        inner.close_string()
        inner.close()  # [0]
        inner.close()  # EncapsulatedContentInfo
        signed = sign_digest(signer, chain, hasher.digest(), digest_name, clock, attributes)
        if signed["version"].native != "v1" or (
            signed["digest_algorithms"].dump() != digest_algorithms.dump()
        ):
            raise EsignError("the signer chose other algorithms than the stream header announced")
        # presence only: ``.native`` would parse every certificate, and asn1crypto cannot
        # read an ML-DSA key (the certificates are copied as they are)
        if not isinstance(signed["certificates"], core.Void):
            inner.raw(signed["certificates"].dump())
        inner.raw(signed["signer_infos"].dump())
        inner.close()  # SignedData
        inner.close()  # [0]
        inner.close()  # ContentInfo

    return body


def seal_stream(
    src: BinaryIO,
    dst: BinaryIO,
    *,
    signer: SignerLike,
    recipients: Sequence[RecipientLike],
    chain: Sequence[x509.Certificate] = (),
    clock: Clock = _utc_now,
    cipher: ContentCipher = "aes-256-gcm",
    progress: Progress | None = None,
    bind_recipients: bool = True,
    der: bool = False,
) -> int:
    """Sign ``src`` and encrypt the signed form to ``recipients`` into ``dst``, in one pass;
    return the document size.

    ``signer`` is ``(key, certificate)`` where the key is a private key or any
    :class:`~esign.keys.KeyHandle` (a vault entry, a PKCS#11 token key). ``recipients`` are
    certificates (RSA, EC, X25519, ML-KEM: the fitting kind is chosen) or Recipient objects
    such as :class:`~esign.envelope.recipients.PasswordRecipient`. With
    ``bind_recipients`` the signature names them (:mod:`esign.envelope.binding`).
    Memory stays bounded (about two 1 MiB chunks); ``progress`` gets the bytes read so far.
    """
    check_signer(signer)
    prepared = prepare_recipients(recipients)
    attributes = [binding_attribute(prepared.infos)] if bind_recipients else []
    total = [0]
    body = _signed_body(src, signer, chain, clock, attributes, progress, total)
    write_envelope(dst, prepared, cipher, body, der=der)
    return total[0]


def seal(
    document: bytes,
    *,
    signer: SignerLike,
    recipients: Sequence[RecipientLike],
    chain: Sequence[x509.Certificate] = (),
    clock: Clock = _utc_now,
    cipher: ContentCipher = "aes-256-gcm",
    bind_recipients: bool = True,
) -> bytes:
    """:func:`seal_stream` over bytes, written as DER."""
    out = io.BytesIO()
    seal_stream(
        io.BytesIO(document),
        out,
        signer=signer,
        recipients=recipients,
        chain=chain,
        clock=clock,
        cipher=cipher,
        bind_recipients=bind_recipients,
        der=True,
    )
    return out.getvalue()


def encrypt_envelope(
    plaintext: bytes,
    recipients: Sequence[RecipientLike] | PreparedRecipients,
    *,
    cipher: ContentCipher = "aes-256-gcm",
) -> bytes:
    """Encrypt ``plaintext`` (unsigned) to recipients, or to records already prepared."""
    prepared = (
        recipients if isinstance(recipients, PreparedRecipients) else prepare_recipients(recipients)
    )
    out = io.BytesIO()

    def body(inner: BerFraming) -> None:
        inner.raw(plaintext)

    write_envelope(out, prepared, cipher, body, der=True)
    return out.getvalue()
