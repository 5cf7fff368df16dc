"""Sign-then-encrypt: ``seal`` a document for recipients, ``open_envelope`` it again.

The sealed form is CMS AuthEnvelopedData (RFC 5083) with AES-256-GCM (RFC 5084) around
the DER of a CMS SignedData ContentInfo with the document attached — exactly what
``openssl cms -sign -nodetach -outform DER | openssl cms -encrypt -aes-256-gcm`` produces,
so each side opens what the other sealed. ``cipher="aes-256-cbc"`` writes EnvelopedData
for older peers.

Recipient binding: the recipient records are made first, and the signer's signed
attributes carry a :class:`~esign.asn1.RecipientBinding` naming every intended recipient
and the SHA-256 of the RecipientInfos. On opening, a key that opened the envelope but is
not named is reported (``not_an_intended_recipient``: the envelope was forwarded), and
records changed after signing make opening fail (:class:`RecipientsModifiedError`).
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from asn1crypto import cms
from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from esign.asn1 import IntendedRecipient, RecipientBinding
from esign.certs.trust import TrustContext
from esign.certs.trusted_list import TrustedList
from esign.envelope.recipients import (
    Identity,
    LocalIdentity,
    PasswordIdentity,
    Recipient,
    as_recipient,
    intended_entries,
    random_cek,
)
from esign.errors import (
    DecryptionError,
    EsignError,
    KeyMismatchError,
    MalformedInputError,
    NoMatchingRecipientError,
    RecipientsModifiedError,
    UnsupportedAlgorithmError,
)
from esign.keys.algorithms import PrivateKey
from esign.signing.container import PARSE_ERRORS, load_content_info
from esign.signing.report import Finding, VerificationReport
from esign.signing.sign import Clock, _utc_now, sign
from esign.signing.verify import verify

GCM_NONCE_BYTES = 12
GCM_TAG_BYTES = 16
CBC_IV_BYTES = 16
MAX_RECIPIENTS = 256
_GCM_KEY_BYTES = {"aes128_gcm": 16, "aes192_gcm": 24, "aes256_gcm": 32}
_CBC_KEY_BYTES = {"aes128_cbc": 16, "aes192_cbc": 24, "aes256_cbc": 32}

ContentCipher = Literal["aes-256-gcm", "aes-256-cbc"]
RecipientLike = x509.Certificate | Recipient
BINDING_VERSION = 1


@dataclass
class OpenedEnvelope:
    """What came out of an envelope: the document and the verdict on its signature.

    Check ``report.valid`` before trusting ``content``: an envelope that decrypts can still
    carry a signature that does not verify, or be addressed by its signer to someone else.
    """

    content: bytes
    report: VerificationReport
    signature: bytes
    intended_recipients: list[str] = field(default_factory=list)


@dataclass
class Decrypted:
    """An envelope after decryption: what it held and which record opened it."""

    content_type: str
    plaintext: bytes
    recipient_infos: cms.RecipientInfos
    opened_by: int
    #: True for AES-GCM (the tag covers the content); False for CBC, where any fault
    #: found after decryption must look like every other (no padding oracle).
    authenticated: bool = True
    #: Tolerated deviations from the standards (they go into the report).
    warnings: list[Finding] = field(default_factory=list)


def prepare_recipients(
    recipients: Sequence[RecipientLike], cek_bytes: int = 32
) -> tuple[bytes, cms.RecipientInfos]:
    """A fresh CEK and each recipient's record for it (made before signing, for the binding)."""
    if not recipients:
        raise EsignError("an envelope needs at least one recipient")
    if len(recipients) > MAX_RECIPIENTS:
        raise EsignError(f"at most {MAX_RECIPIENTS} recipients")
    cek = random_cek(cek_bytes * 8)
    infos = cms.RecipientInfos([as_recipient(r).wrap(cek) for r in recipients])
    return cek, infos


def check_signer(signer: tuple[object, x509.Certificate]) -> None:
    """Refuse a signer key that does not belong to its certificate, before any document
    byte is read (cheap checks first)."""
    key, certificate = signer
    public_key = getattr(key, "public_key", None)
    if public_key is None:
        raise TypeError(f"a signer key must have public_key(), not {type(key).__name__}")
    if public_key() != certificate.public_key():
        raise KeyMismatchError("the private key does not belong to the signer certificate")


def binding_attribute(infos: cms.RecipientInfos) -> cms.CMSAttribute:
    """The signed attribute that names the intended recipients and pins their records."""
    entries = [entry for info in infos for entry in intended_entries(info)]
    binding = RecipientBinding(
        {
            "version": BINDING_VERSION,
            "recipients": entries,
            "digest_algorithm": {"algorithm": "sha256"},
            "recipient_infos_digest": hashlib.sha256(infos.dump()).digest(),
        }
    )
    return cms.CMSAttribute({"type": "esign_recipient_binding", "values": [binding]})


def content_encryption(cipher: ContentCipher) -> tuple[str, bytes]:
    """(asn1crypto algorithm name, fresh nonce or IV) for a cipher choice."""
    if cipher == "aes-256-gcm":
        return "aes256_gcm", os.urandom(GCM_NONCE_BYTES)
    if cipher == "aes-256-cbc":
        return "aes256_cbc", os.urandom(CBC_IV_BYTES)
    raise UnsupportedAlgorithmError(f"unknown content cipher {cipher!r}")


def _assemble(
    plaintext: bytes,
    cek: bytes,
    infos: cms.RecipientInfos,
    cipher: ContentCipher,
    content_type: str,
) -> bytes:
    name, nonce = content_encryption(cipher)
    if name == "aes256_gcm":
        sealed = AESGCM(cek).encrypt(nonce, plaintext, None)
        ciphertext, tag = sealed[:-GCM_TAG_BYTES], sealed[-GCM_TAG_BYTES:]
        enveloped = cms.AuthEnvelopedData(
            {
                "version": "v0",
                "recipient_infos": infos,
                "auth_encrypted_content_info": {
                    "content_type": content_type,
                    "content_encryption_algorithm": {
                        "algorithm": name,
                        "parameters": {"aes_nonce": nonce, "aes_icvlen": GCM_TAG_BYTES},
                    },
                    "encrypted_content": ciphertext,
                },
                "mac": tag,
            }
        )
        info = cms.ContentInfo(
            {"content_type": "authenticated_enveloped_data", "content": enveloped}
        )
    else:
        padder = sym_padding.PKCS7(128).padder()
        padded = padder.update(plaintext) + padder.finalize()
        encryptor = Cipher(algorithms.AES(cek), modes.CBC(nonce)).encryptor()
        ciphertext = encryptor.update(padded) + encryptor.finalize()
        enveloped = cms.EnvelopedData(
            {
                "version": enveloped_data_version(infos),
                "recipient_infos": infos,
                "encrypted_content_info": {
                    "content_type": content_type,
                    "content_encryption_algorithm": {"algorithm": name, "parameters": nonce},
                    "encrypted_content": ciphertext,
                },
            }
        )
        info = cms.ContentInfo({"content_type": "enveloped_data", "content": enveloped})
    der: bytes = info.dump()
    return der


def enveloped_data_version(infos: cms.RecipientInfos) -> str:
    """RFC 5652 §6.1: 3 with pwri/ori records, 0 if every record is version 0, else 2."""
    if any(info.name in ("pwri", "ori") for info in infos):
        return "v3"
    if all(info.chosen["version"].native == "v0" for info in infos):
        return "v0"
    return "v2"


def encrypt_envelope(
    plaintext: bytes,
    recipients: Sequence[RecipientLike],
    *,
    cipher: ContentCipher = "aes-256-gcm",
    content_type: str = "data",
) -> bytes:
    """Encrypt ``plaintext`` to recipients (certificates or Recipient objects), unsigned."""
    cek, infos = prepare_recipients(recipients)
    return _assemble(plaintext, cek, infos, cipher, content_type)


def encrypt_auth_enveloped(
    plaintext: bytes, recipients: Sequence[RecipientLike], content_type: str = "data"
) -> bytes:
    """Encrypt ``plaintext`` to each recipient as AES-256-GCM AuthEnvelopedData."""
    return encrypt_envelope(plaintext, recipients, content_type=content_type)


def seal(
    document: bytes,
    *,
    signer: tuple[PrivateKey, x509.Certificate],
    recipients: Sequence[RecipientLike],
    chain: Sequence[x509.Certificate] = (),
    clock: Clock = _utc_now,
    cipher: ContentCipher = "aes-256-gcm",
    bind_recipients: bool = True,
) -> bytes:
    """Sign ``document`` (attached CMS) and encrypt the signed form to ``recipients``.

    ``recipients`` are certificates (RSA, EC, X25519, ML-KEM: the fitting kind is chosen)
    or Recipient objects such as :class:`~esign.envelope.recipients.PasswordRecipient`.
    With ``bind_recipients`` (the default) the signature names them (see module doc).
    """
    check_signer(signer)
    cek, infos = prepare_recipients(recipients)
    attributes = [binding_attribute(infos)] if bind_recipients else []
    signed = sign(
        document,
        signer=signer,
        chain=chain,
        detached=False,
        clock=clock,
        signed_attributes=attributes,
    )
    return _assemble(signed, cek, infos, cipher, "data")


def _check_auth_enveloped(enveloped: cms.AuthEnvelopedData) -> tuple[str, str, bytes, bytes]:
    """Check every field the GCM tag does not cover; return (type, alg, nonce, ct+tag)."""
    if enveloped["version"].native != "v0":
        raise MalformedInputError("AuthEnvelopedData version must be 0")
    if enveloped["originator_info"].native is not None:
        raise UnsupportedAlgorithmError("originatorInfo in an envelope is not supported")
    if enveloped["auth_attrs"].native is not None or enveloped["unauth_attrs"].native is not None:
        raise UnsupportedAlgorithmError("attributes in AuthEnvelopedData are not supported")
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
    return content_info["content_type"].native, name, nonce, ciphertext + tag


def _check_enveloped(
    enveloped: cms.EnvelopedData, warnings: list[Finding]
) -> tuple[str, str, bytes, bytes]:
    """EnvelopedData (no MAC): check the structure; return (type, alg, iv, ciphertext).

    Bouncy Castle writes version 0 with a password record where RFC 5652 §6.1 says 3; the
    version changes nothing in how the rest is read, so that one case is accepted with a
    warning. Any other mismatch is refused.
    """
    version = enveloped["version"].native
    expected = enveloped_data_version(enveloped["recipient_infos"])
    if version == "v0" and expected == "v3":
        warnings.append(
            Finding(
                "envelope_version",
                "EnvelopedData version 0 with a password record (RFC 5652 says 3): accepted",
            )
        )
    elif version != expected:
        raise MalformedInputError("EnvelopedData version does not fit its recipient records")
    if enveloped["originator_info"].native is not None:
        raise UnsupportedAlgorithmError("originatorInfo in an envelope is not supported")
    if enveloped["unprotected_attrs"].native is not None:
        raise UnsupportedAlgorithmError("unprotected attributes are not supported")
    content_info = enveloped["encrypted_content_info"]
    algorithm = content_info["content_encryption_algorithm"]
    name = algorithm["algorithm"].native
    if name not in _CBC_KEY_BYTES:
        raise UnsupportedAlgorithmError(f"unsupported content encryption {name}")
    iv = algorithm["parameters"].native
    if not isinstance(iv, bytes) or len(iv) != CBC_IV_BYTES:
        raise MalformedInputError("AES-CBC needs a 16-byte IV")
    ciphertext = content_info["encrypted_content"].native
    if ciphertext is None or len(ciphertext) % 16 or not ciphertext:
        raise MalformedInputError("the encrypted content is missing or not whole AES blocks")
    return content_info["content_type"].native, name, iv, ciphertext


def identity_name(identity: Identity) -> str:
    """How a report names an identity: its certificate's subject, else its kind."""
    if identity.certificate is not None:
        return identity.certificate.subject.rfc4514_string()
    return "a password" if isinstance(identity, PasswordIdentity) else "a key without certificate"


def find_cek(
    infos: cms.RecipientInfos, identities: Sequence[Identity], key_bytes: int
) -> tuple[bytes, int]:
    """The first acceptable record addressed to any identity: (CEK, index of that record).

    A record addressed to an identity that does not unwrap fails hard (one uniform
    :class:`DecryptionError`); a record whose algorithm an identity refuses (legacy RSA
    PKCS#1 v1.5) is passed over, so another record for the same key (RSA-OAEP) can open
    the envelope. When none opens, the error says per identity why.
    """
    count = len(infos)
    if not 1 <= count <= MAX_RECIPIENTS:
        raise MalformedInputError(f"an envelope needs 1 to {MAX_RECIPIENTS} recipients")
    refused: dict[int, list[str]] = {}
    trial_failed = False
    for index, recipient_info in enumerate(infos):
        for number, identity in enumerate(identities):
            try:
                cek = identity.unwrap(recipient_info)
            except DecryptionError:
                if identity.certificate is not None:
                    raise
                trial_failed = True  # trial decryption: a record that fails is someone else's
                continue
            except UnsupportedAlgorithmError as exc:
                refused.setdefault(number, []).append(str(exc))
                continue
            if cek is not None:
                if len(cek) != key_bytes:
                    raise DecryptionError()
                return cek, index
    if trial_failed:
        raise DecryptionError()
    reasons = []
    for number, identity in enumerate(identities):
        why = "; ".join(dict.fromkeys(refused[number])) if number in refused else None
        reasons.append(f"{identity_name(identity)}: {why or 'not addressed to me'}")
    message = "no record of the envelope opens: " + " | ".join(reasons)
    if refused:
        raise UnsupportedAlgorithmError(message)
    raise NoMatchingRecipientError(message)


def decrypt_content(name: str, cek: bytes, nonce: bytes, ciphertext: bytes) -> bytes:
    """Decrypt the content; every failure is the one uniform DecryptionError."""
    try:
        if name in _GCM_KEY_BYTES:
            return AESGCM(cek).decrypt(nonce, ciphertext, None)
        decryptor = Cipher(algorithms.AES(cek), modes.CBC(nonce)).decryptor()
        padded = decryptor.update(ciphertext) + decryptor.finalize()
        unpadder = sym_padding.PKCS7(128).unpadder()
        return unpadder.update(padded) + unpadder.finalize()
    except (InvalidTag, ValueError):
        raise DecryptionError() from None


def decrypt(envelope: bytes, identity: Identity | Sequence[Identity]) -> Decrypted:
    """Decrypt an AuthEnvelopedData or EnvelopedData for ``identity`` (or any of several)."""
    identities = [identity] if not isinstance(identity, Sequence) else list(identity)
    warnings: list[Finding] = []
    info = load_content_info(envelope)
    try:
        kind = info["content_type"].native
        enveloped = info["content"]
        if kind == "authenticated_enveloped_data":
            content_type, name, nonce, ciphertext = _check_auth_enveloped(enveloped)
        elif kind == "enveloped_data":
            content_type, name, nonce, ciphertext = _check_enveloped(enveloped, warnings)
        else:
            raise MalformedInputError(
                f"expected CMS AuthEnvelopedData or EnvelopedData, found {kind}"
            )
        if content_type not in ("data", "signed_data"):
            raise UnsupportedAlgorithmError(f"unsupported enveloped content type {content_type}")
        infos = enveloped["recipient_infos"]
        key_bytes = {**_GCM_KEY_BYTES, **_CBC_KEY_BYTES}[name]
        cek, index = find_cek(infos, identities, key_bytes)
    except EsignError:
        raise
    except PARSE_ERRORS as exc:
        raise MalformedInputError(f"malformed CMS envelope: {exc}") from exc
    plaintext = decrypt_content(name, cek, nonce, ciphertext)
    return Decrypted(content_type, plaintext, infos, index, name in _GCM_KEY_BYTES, warnings)


def decrypt_envelope(envelope: bytes, identity: Identity) -> tuple[str, bytes]:
    """Decrypt an envelope for ``identity``; return (content type, plaintext)."""
    decrypted = decrypt(envelope, identity)
    return decrypted.content_type, decrypted.plaintext


def as_identity(recipient: tuple[PrivateKey, x509.Certificate | None] | Identity) -> Identity:
    """A ``(key, certificate)`` pair becomes a LocalIdentity; identities pass through."""
    return LocalIdentity(*recipient) if isinstance(recipient, tuple) else recipient


def open_envelope(
    envelope: bytes,
    *,
    recipient: tuple[PrivateKey, x509.Certificate | None] | Identity,
    trust: TrustContext,
    at: datetime.datetime | None = None,
    trusted_lists: Iterable[TrustedList] = (),
    jurisdiction: str = "eidas",
) -> OpenedEnvelope:
    """Decrypt with the recipient's key, then verify the signature and the binding inside.

    ``trusted_lists`` and ``jurisdiction`` decide the level, as in :func:`esign.verify`.

    Raises :class:`DecryptionError` (uniformly) if the envelope does not decrypt,
    :class:`NoMatchingRecipientError` if it is not addressed to this recipient and
    :class:`RecipientsModifiedError` if its recipient records changed after signing.
    The signature verdict, and ``not_an_intended_recipient`` for a forwarded envelope,
    are in the returned report.
    """
    decrypted = decrypt(envelope, as_identity(recipient))
    levels: dict[str, Any] = {"trusted_lists": trusted_lists, "jurisdiction": jurisdiction}
    if decrypted.authenticated:
        return _open_decrypted(decrypted, trust, at, levels)
    with uniform_after_decryption():
        return _open_decrypted(decrypted, trust, at, levels)


@contextlib.contextmanager
def uniform_after_decryption() -> Iterator[None]:
    """CBC has no MAC: every fault found after the key was unwrapped (padding, parsing,
    content type, a content that is not signed) becomes the one :class:`DecryptionError`,
    so a changed ciphertext tells an attacker nothing about its plaintext."""
    try:
        yield
    except DecryptionError:
        raise DecryptionError() from None
    except (EsignError, *PARSE_ERRORS):  # type: ignore[misc]
        raise DecryptionError() from None


def _open_decrypted(
    decrypted: Decrypted,
    trust: TrustContext,
    at: datetime.datetime | None,
    levels: dict[str, Any],
) -> OpenedEnvelope:
    plaintext = decrypted.plaintext
    if decrypted.content_type == "signed_data":
        # RFC 5652 nesting: the plaintext is a bare SignedData; give it its ContentInfo.
        try:
            signed_data = cms.SignedData.load(plaintext, strict=True)
            plaintext = cms.ContentInfo(
                {"content_type": "signed_data", "content": signed_data}
            ).dump()
        except PARSE_ERRORS as exc:
            raise MalformedInputError(f"the enveloped SignedData is malformed: {exc}") from exc
    if not _is_attached_signature(plaintext):
        if not decrypted.authenticated:
            raise DecryptionError()
        report = _not_signed()
        report.warnings.extend(decrypted.warnings)
        return OpenedEnvelope(content=plaintext, report=report, signature=plaintext)
    report = verify(plaintext, None, trust=trust, at=at, **levels)
    report.warnings.extend(decrypted.warnings)
    signer_infos = cms.ContentInfo.load(plaintext)["content"]["signer_infos"]
    names = check_bindings(signer_infos, decrypted.recipient_infos, decrypted.opened_by, report)
    return OpenedEnvelope(
        content=_attached_content(plaintext),
        report=report,
        signature=plaintext,
        intended_recipients=names,
    )


def read_binding(signer_info: cms.SignerInfo) -> RecipientBinding | None:
    """The signer's recipient binding, if the signed attributes carry exactly one."""
    attrs = signer_info["signed_attrs"]
    if attrs.native is None:
        return None
    found = [a for a in attrs if a["type"].native == "esign_recipient_binding"]
    if not found:
        return None
    if len(found) != 1 or len(found[0]["values"]) != 1:
        raise MalformedInputError("more than one recipient binding in the signed attributes")
    binding: RecipientBinding = found[0]["values"][0]
    binding.native  # noqa: B018 - parse it all now, so faults surface here
    return binding


def describe(entry: IntendedRecipient) -> str:
    """A human name for a binding entry (for reports)."""
    if entry.name == "issuer_and_serial_number":
        issuer = entry.chosen["issuer"].human_friendly
        return f"certificate serial {entry.chosen['serial_number'].native:x} from {issuer}"
    if entry.name == "subject_key_identifier":
        return f"key id {entry.chosen.native.hex()}"
    return f"password record {entry.chosen.native.hex()[:16]}"


def check_bindings(
    signer_infos: cms.SignerInfos,
    infos: cms.RecipientInfos,
    opened_by: int,
    report: VerificationReport,
    infos_der: bytes | None = None,
) -> list[str]:
    """Check every signer's recipient binding against the envelope; return the names bound.

    Each signer speaks for itself: a forwarder who adds his own signature binding the new
    recipient does not vouch for the original signer, whose binding still names someone
    else, so the envelope is not valid. ``report`` is the first signer's report, with the
    others in ``report.cosigners`` (the order of ``signer_infos``). Only a signature whose
    value verified can vouch for its binding; without one, the report already says why it
    is not valid.
    """
    reports = [report, *report.cosigners]
    if len(reports) != len(signer_infos):
        raise MalformedInputError("the report does not match the signers")
    mine = {entry.dump() for entry in intended_entries(infos[opened_by])}
    digest = hashlib.sha256(infos.dump() if infos_der is None else infos_der).digest()
    names: list[str] = []
    for number, (signer_info, own) in enumerate(zip(signer_infos, reports, strict=True), 1):
        who = "the signer" if len(reports) == 1 else f"signer {number}"
        try:
            binding = read_binding(signer_info)
        except PARSE_ERRORS as exc:
            raise MalformedInputError(f"the recipient binding is malformed: {exc}") from exc
        if binding is None:
            report.warn(
                "no_recipient_binding",
                f"{who} did not name the intended recipients: forwarding cannot be detected",
            )
            continue
        bound = [describe(entry) for entry in binding["recipients"]]
        names.extend(name for name in bound if name not in names)
        if not own.signature_intact:
            continue
        if binding["version"].native != BINDING_VERSION:
            raise UnsupportedAlgorithmError("unknown recipient binding version")
        if binding["digest_algorithm"]["algorithm"].native != "sha256":
            raise UnsupportedAlgorithmError("the recipient binding must use SHA-256")
        if not mine & {entry.dump() for entry in binding["recipients"]}:
            report.error(
                "not_an_intended_recipient",
                f"{who} sealed this document for someone else "
                f"({'; '.join(bound)}): it was re-encrypted and forwarded",
            )
        elif digest != binding["recipient_infos_digest"].native:
            raise RecipientsModifiedError()
    report.finish()
    return names


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
