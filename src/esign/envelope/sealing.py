"""Sign-then-encrypt: ``seal`` a document for recipients, ``open_envelope`` it again.

The sealed form is CMS AuthEnvelopedData (RFC 5083) with AES-256-GCM (RFC 5084) around
the DER of a CMS SignedData ContentInfo with the document attached — exactly what
``openssl cms -sign -nodetach -outform DER | openssl cms -encrypt -aes-256-gcm`` produces,
so each side opens what the other sealed.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Sequence
from dataclasses import dataclass

from asn1crypto import cms
from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from esign.certs.trust import TrustContext
from esign.envelope.recipients import Identity, LocalIdentity, random_cek, recipient_for
from esign.errors import (
    DecryptionError,
    EsignError,
    MalformedInputError,
    NoMatchingRecipientError,
    UnsupportedAlgorithmError,
)
from esign.keys.algorithms import PrivateKey
from esign.signing.container import PARSE_ERRORS, load_content_info
from esign.signing.report import VerificationReport
from esign.signing.sign import Clock, _utc_now, sign
from esign.signing.verify import verify

GCM_NONCE_BYTES = 12
GCM_TAG_BYTES = 16
MAX_RECIPIENTS = 256
_GCM_KEY_BYTES = {"aes128_gcm": 16, "aes192_gcm": 24, "aes256_gcm": 32}


@dataclass
class OpenedEnvelope:
    """What came out of an envelope: the document and the verdict on its signature.

    Check ``report.valid`` before trusting ``content``: an envelope that decrypts can still
    carry a signature that does not verify.
    """

    content: bytes
    report: VerificationReport
    signature: bytes


def encrypt_auth_enveloped(
    plaintext: bytes, recipients: Sequence[x509.Certificate], content_type: str = "data"
) -> bytes:
    """Encrypt ``plaintext`` to each recipient certificate as AES-256-GCM AuthEnvelopedData."""
    if not recipients:
        raise EsignError("an envelope needs at least one recipient")
    if len(recipients) > MAX_RECIPIENTS:
        raise EsignError(f"at most {MAX_RECIPIENTS} recipients")
    cek = random_cek(256)
    infos = [recipient_for(cert).wrap(cek) for cert in recipients]
    nonce = os.urandom(GCM_NONCE_BYTES)
    sealed = AESGCM(cek).encrypt(nonce, plaintext, None)
    ciphertext, tag = sealed[:-GCM_TAG_BYTES], sealed[-GCM_TAG_BYTES:]
    enveloped = cms.AuthEnvelopedData(
        {
            "version": "v0",
            "recipient_infos": infos,
            "auth_encrypted_content_info": {
                "content_type": content_type,
                "content_encryption_algorithm": {
                    "algorithm": "aes256_gcm",
                    "parameters": {"aes_nonce": nonce, "aes_icvlen": GCM_TAG_BYTES},
                },
                "encrypted_content": ciphertext,
            },
            "mac": tag,
        }
    )
    info = cms.ContentInfo({"content_type": "authenticated_enveloped_data", "content": enveloped})
    der: bytes = info.dump()
    return der


def seal(
    document: bytes,
    *,
    signer: tuple[PrivateKey, x509.Certificate],
    recipients: Sequence[x509.Certificate],
    chain: Sequence[x509.Certificate] = (),
    clock: Clock = _utc_now,
) -> bytes:
    """Sign ``document`` (attached CMS) and encrypt the signed form to ``recipients``."""
    signed = sign(document, signer=signer, chain=chain, detached=False, clock=clock)
    return encrypt_auth_enveloped(signed, recipients)


def _check_structure(enveloped: cms.AuthEnvelopedData) -> tuple[str, bytes, bytes, bytes]:
    """Check every field that the GCM tag does not cover; return (type, nonce, ct, tag)."""
    if enveloped["version"].native != "v0":
        raise MalformedInputError("AuthEnvelopedData version must be 0")
    if enveloped["originator_info"].native is not None:
        raise UnsupportedAlgorithmError("originatorInfo in an envelope is not supported")
    if enveloped["auth_attrs"].native is not None or enveloped["unauth_attrs"].native is not None:
        raise UnsupportedAlgorithmError("attributes in AuthEnvelopedData are not supported")
    recipient_count = len(enveloped["recipient_infos"])
    if not 1 <= recipient_count <= MAX_RECIPIENTS:
        raise MalformedInputError(f"an envelope needs 1 to {MAX_RECIPIENTS} recipients")
    content_info = enveloped["auth_encrypted_content_info"]
    algorithm = content_info["content_encryption_algorithm"]
    name = algorithm["algorithm"].native
    if name not in _GCM_KEY_BYTES:
        raise UnsupportedAlgorithmError(f"unsupported content encryption {name}")
    params = algorithm["parameters"]
    nonce = params["aes_nonce"].native
    icvlen = params["aes_icvlen"].native
    tag = enveloped["mac"].native
    if len(nonce) != GCM_NONCE_BYTES or icvlen != GCM_TAG_BYTES or len(tag) != icvlen:
        raise UnsupportedAlgorithmError("AES-GCM needs a 12-byte nonce and a 16-byte tag")
    ciphertext = content_info["encrypted_content"].native
    if ciphertext is None:
        raise MalformedInputError("the envelope has no encrypted content")
    content_type = content_info["content_type"].native
    if content_type not in ("data", "signed_data"):
        raise UnsupportedAlgorithmError(f"unsupported enveloped content type {content_type}")
    return content_type, nonce, ciphertext, tag


def decrypt_envelope(envelope: bytes, identity: Identity) -> tuple[str, bytes]:
    """Decrypt an AuthEnvelopedData for ``identity``; return (content type, plaintext)."""
    info = load_content_info(envelope)
    try:
        if info["content_type"].native != "authenticated_enveloped_data":
            raise MalformedInputError(
                f"expected CMS AuthEnvelopedData, found {info['content_type'].native}"
            )
        enveloped = info["content"]
        content_type, nonce, ciphertext, tag = _check_structure(enveloped)
        key_bytes = _GCM_KEY_BYTES[
            enveloped["auth_encrypted_content_info"]["content_encryption_algorithm"][
                "algorithm"
            ].native
        ]
        cek: bytes | None = None
        for recipient_info in enveloped["recipient_infos"]:
            try:
                cek = identity.unwrap(recipient_info)
            except DecryptionError:
                if identity.certificate is not None:
                    raise
                continue  # trial decryption: a record that fails is someone else's
            if cek is not None:
                break
    except EsignError:
        raise
    except PARSE_ERRORS as exc:
        raise MalformedInputError(f"malformed CMS AuthEnvelopedData: {exc}") from exc
    if cek is None and identity.certificate is None:
        raise DecryptionError()
    if cek is None:
        raise NoMatchingRecipientError("the envelope is not addressed to this key's certificate")
    if len(cek) != key_bytes:
        raise DecryptionError()
    try:
        plaintext = AESGCM(cek).decrypt(nonce, ciphertext + tag, None)
    except InvalidTag:
        raise DecryptionError() from None
    return content_type, plaintext


def open_envelope(
    envelope: bytes,
    *,
    recipient: tuple[PrivateKey, x509.Certificate | None] | Identity,
    trust: TrustContext,
    at: datetime.datetime | None = None,
) -> OpenedEnvelope:
    """Decrypt with the recipient's key, then verify the signature inside.

    Raises :class:`DecryptionError` (uniformly) if the envelope does not decrypt and
    :class:`NoMatchingRecipientError` if it is not addressed to this recipient. The
    signature verdict is in the returned report.
    """
    identity = LocalIdentity(*recipient) if isinstance(recipient, tuple) else recipient
    content_type, plaintext = decrypt_envelope(envelope, identity)
    if content_type == "signed_data":
        # RFC 5652 nesting: the plaintext is a bare SignedData; give it its ContentInfo.
        try:
            signed_data = cms.SignedData.load(plaintext, strict=True)
            plaintext = cms.ContentInfo(
                {"content_type": "signed_data", "content": signed_data}
            ).dump()
        except PARSE_ERRORS as exc:
            raise MalformedInputError(f"the enveloped SignedData is malformed: {exc}") from exc
    report = (
        verify(plaintext, None, trust=trust, at=at)
        if _is_attached_signature(plaintext)
        else _not_signed()
    )
    content = (
        _attached_content(plaintext)
        if report.signer is not None or _is_attached_signature(plaintext)
        else plaintext
    )
    return OpenedEnvelope(content=content, report=report, signature=plaintext)


def _is_attached_signature(data: bytes) -> bool:
    try:
        info = cms.ContentInfo.load(data, strict=True)
        if info["content_type"].native != "signed_data":
            return False
        return info["content"]["encap_content_info"]["content"].native is not None
    except PARSE_ERRORS:
        return False


def _attached_content(signature: bytes) -> bytes:
    info = cms.ContentInfo.load(signature, strict=True)
    content: bytes = info["content"]["encap_content_info"]["content"].native
    return content


def _not_signed() -> VerificationReport:
    report = VerificationReport()
    report.error("not_signed", "the envelope holds no attached CMS signature")
    return report.finish()
