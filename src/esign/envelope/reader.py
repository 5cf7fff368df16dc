"""The one envelope reader: decrypt-then-verify from a stream, in one pass, bounded memory.

The framing is read with :mod:`esign.envelope.ber` (DER and BER alike), the records go to
the identities, the content is decrypted piece by piece, the document inside is hashed
while it is written to ``dst``, and the signer infos (small) are verified at the end with
:func:`esign.verify` over the digests. The document reaches ``dst`` before the GCM tag and
the signature are checked: treat ``dst`` as untrusted unless the report is valid (the
command line writes to a temporary file and renames it only then).
:func:`open_envelope` and :func:`decrypt_envelope` are this reader over bytes. Internal:
the public calls are :mod:`esign.envelope` and :mod:`esign.hazmat.envelope`.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import io
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from asn1crypto import cms, core
from cryptography import x509

from esign import limits
from esign._repr import readable_repr
from esign.certs.trust import TrustContext
from esign.certs.trusted_list import TrustedList
from esign.diagnose import humanize
from esign.envelope.ber import ChunkSource, Header, Reader, TruncatedError, tlv
from esign.envelope.binding import check_bindings
from esign.envelope.cipher import GCM_TAG_BYTES, ContentAlgorithm, Decryptor
from esign.envelope.recipients import Identity, PasswordIdentity, identity_for
from esign.envelope.recipients.password import kdf_iterations
from esign.envelope.writer import MAX_RECIPIENTS, Progress, enveloped_data_version
from esign.errors import (
    DecryptionError,
    EsignError,
    InputTooLargeError,
    MalformedInputError,
    NoMatchingRecipientError,
    UnsupportedAlgorithmError,
)
from esign.signing.container import PARSE_ERRORS, unarmor
from esign.signing.report import Finding, VerificationReport
from esign.signing.sign import rebuilt
from esign.signing.verify import verify

CHUNK = 1 << 20
#: What can open an envelope: an Identity, or ``(key or KeyHandle, certificate or None)``.
IdentityLike = Identity | tuple[Any, x509.Certificate | None]
_OID_SIGNED = core.ObjectIdentifier("1.2.840.113549.1.7.2").dump()
_KINDS = {"authenticated_enveloped_data": True, "enveloped_data": False}


@dataclass
class OpenedEnvelope:
    """What came out of an envelope: the document and the verdict on its signature.

    Check ``report.valid`` before trusting ``content``: an envelope that decrypts can still
    carry a signature that does not verify, or be addressed by its signer to someone else.
    From :func:`open_stream`, ``content`` and ``signature`` are empty (the document is in
    ``dst``).
    """

    __repr__ = readable_repr

    content: bytes
    report: VerificationReport
    signature: bytes
    intended_recipients: list[str] = field(default_factory=list)

    def _repr_html_(self) -> str:
        from esign.html_views import envelope_html

        return envelope_html(self)


def as_identities(recipient: IdentityLike | Sequence[IdentityLike]) -> list[Identity]:
    """One identity, a ``(key, certificate)`` pair, or a list of either."""
    many: list[Any] = recipient if isinstance(recipient, list) else [recipient]
    return [identity_for(*one) if isinstance(one, tuple) else one for one in many]


def identity_name(identity: Identity) -> str:
    """How an error names an identity: its certificate's subject, else its kind."""
    if identity.certificate is not None:
        return identity.certificate.subject.rfc4514_string()
    return "a password" if isinstance(identity, PasswordIdentity) else "a key without certificate"


def find_cek(infos: cms.RecipientInfos, identities: Sequence[Identity]) -> tuple[bytes, int]:
    """The first acceptable record addressed to any identity: (CEK, index of that record).

    A record addressed to an identity that does not unwrap fails hard (one uniform
    :class:`DecryptionError`); a record whose algorithm an identity refuses (legacy RSA
    PKCS#1 v1.5) is passed over, so another record for the same key (RSA-OAEP) can open
    the envelope. When none opens, the error says per identity why.
    """
    if not 1 <= len(infos) <= MAX_RECIPIENTS:
        raise MalformedInputError(f"an envelope needs 1 to {MAX_RECIPIENTS} recipients")
    refused: dict[int, list[str]] = {}
    trial_failed = False
    kdf_spent = 0
    for index, recipient_info in enumerate(infos):
        for number, identity in enumerate(identities):
            if isinstance(identity, PasswordIdentity):
                kdf_spent += kdf_iterations(recipient_info)
                if kdf_spent > limits.MAX_KDF_ITERATIONS_PER_OPEN:
                    raise InputTooLargeError(
                        "the password records ask for more than "
                        f"{limits.MAX_KDF_ITERATIONS_PER_OPEN} PBKDF2 iterations in all "
                        "(esign.limits.MAX_KDF_ITERATIONS_PER_OPEN)"
                    )
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


@contextlib.contextmanager
def uniform_after_decryption(authenticated: bool) -> Iterator[None]:
    """CBC has no MAC: every fault found after the key was unwrapped (padding, parsing,
    content type, a content that is not signed) becomes the one :class:`DecryptionError`,
    so a changed ciphertext tells an attacker nothing about its plaintext."""
    if authenticated:
        yield
        return
    try:
        yield
    except (EsignError, *PARSE_ERRORS):  # type: ignore[misc]
        raise DecryptionError() from None


class _Envelope:
    """An envelope being read: its header checked, its key found, its content to come."""

    def __init__(
        self, src: BinaryIO, identities: Sequence[Identity], progress: Progress | None
    ) -> None:
        self.reader = reader = Reader(src)
        self.progress = progress
        self.warnings: list[Finding] = []
        self.headers = [reader.header(0x30)]
        kind = cms.ContentType.load(reader.element(0x06)).native
        if kind not in _KINDS:
            raise MalformedInputError(
                f"expected CMS AuthEnvelopedData or EnvelopedData, found {kind}"
            )
        self.gcm = _KINDS[kind]
        self.headers += [reader.header(0xA0), reader.header(0x30)]
        version = core.Integer.load(reader.element(0x02)).native
        if reader.peek() == 0xA0:
            raise UnsupportedAlgorithmError("originatorInfo in an envelope is not supported")
        self.infos_der = reader.element(0x31)
        self.infos = cms.RecipientInfos.load(self.infos_der)
        self._check_version(version)
        self.headers.append(reader.header(0x30))
        self.content_type = cms.ContentType.load(reader.element(0x06)).native
        if self.content_type not in ("data", "signed_data"):
            raise UnsupportedAlgorithmError(
                f"unsupported enveloped content type {self.content_type}"
            )
        self.algorithm = ContentAlgorithm.read(reader.element(0x30), self.gcm)
        self.encrypted = reader.header()
        if self.encrypted.tag not in (0x80, 0xA0):
            raise MalformedInputError("the envelope has no encrypted content")
        self.cek, self.opened_by = find_cek(self.infos, identities)
        self.input_ended = False

    def _check_version(self, version: int) -> None:
        if self.gcm:
            if version != 0:
                raise MalformedInputError("AuthEnvelopedData version must be 0")
            return
        expected = enveloped_data_version(self.infos)
        if version == 0 and expected == 3:
            # Bouncy Castle writes 0 with a password record where RFC 5652 §6.1 says 3; the
            # version changes nothing in how the rest is read.
            self.warnings.append(
                Finding(
                    "envelope_version",
                    "EnvelopedData version 0 with a password record (RFC 5652 says 3): accepted",
                )
            )
        elif version != expected:
            raise MalformedInputError("EnvelopedData version does not fit its recipient records")

    def plaintext(self, decryptor: Decryptor) -> Iterator[bytes]:
        """The decrypted content, piece by piece (unauthenticated until :meth:`finish`)."""
        done = 0
        try:
            for piece in self.reader.octet_chunks(self.encrypted):
                done += len(piece)
                if self.progress is not None:
                    self.progress(done)
                if out := decryptor.update(piece):
                    yield out
        except TruncatedError:
            self.input_ended = True  # the file ended, not the plaintext's structure
            raise
        if last := decryptor.last():
            yield last

    def finish(self, decryptor: Decryptor) -> None:
        """After the content: the rest of the framing, then the GCM tag."""
        reader = self.reader
        reader.close(self.headers[3])  # EncryptedContentInfo
        tag = None
        if self.gcm:
            if reader.peek() == 0xA1:
                raise UnsupportedAlgorithmError("attributes in AuthEnvelopedData are not supported")
            tag = reader.element(0x04, limit=64)[2:]
            if len(tag) != GCM_TAG_BYTES:
                raise UnsupportedAlgorithmError("AES-GCM needs a 16-byte tag")
        if reader.peek() in (0xA1, 0xA2):
            raise UnsupportedAlgorithmError("envelope attributes are not supported")
        for header in reversed(self.headers[:3]):
            reader.close(header)
        if not reader.at_end():
            raise MalformedInputError("trailing data after the envelope")
        decryptor.check_tag(tag)


def _parsing(call: Any, *args: Any) -> Any:
    try:
        return call(*args)
    except EsignError:
        raise
    except PARSE_ERRORS as exc:
        raise MalformedInputError(f"malformed CMS envelope: {humanize(exc)}") from exc


# --- the document inside: a SignedData streamed to dst ------------------------------------


class _InnerSignature:
    """What the inner SignedData held, minus the document (which went to ``dst``)."""

    def __init__(self) -> None:
        self.version = b""
        self.digest_algorithms = cms.DigestAlgorithms()
        self.content_type = "data"
        self.certificates: bytes | None = None
        self.crls: bytes | None = None
        self.signer_infos = b""
        self.digests: dict[str, bytes] = {}
        self.attached = False

    def detached(self) -> cms.SignedData:
        """The SignedData with the content taken out (what a detached signature looks like)."""
        parts = self.version + self.digest_algorithms.dump()
        parts += tlv(0x30, core.ObjectIdentifier(self.content_type).dump())
        parts += (self.certificates or b"") + (self.crls or b"") + self.signer_infos
        return cms.SignedData.load(tlv(0x30, parts))


def _hashers(digest_algorithms: cms.DigestAlgorithms) -> dict[str, Any]:
    names = {algorithm["algorithm"].native for algorithm in digest_algorithms}
    if not 1 <= len(names) <= 4:
        raise MalformedInputError("a SignedData must list 1 to 4 digest algorithms")
    hashers: dict[str, Any] = {}
    for name in names:
        try:
            hashers[name] = hashlib.new(name.replace("_", "-") if name.startswith("sha3") else name)
        except ValueError as exc:
            raise UnsupportedAlgorithmError(f"unknown digest algorithm {name}") from exc
    return hashers


def _looks_signed(prefix: bytes, wrapped: bool) -> bool:
    """Whether decrypted content starts as a SignedData ContentInfo (else: raw data)."""
    if not wrapped:
        return prefix[:1] == b"\x30"
    if len(prefix) < 4 or prefix[0] != 0x30:
        return False
    size_octets = 1 if prefix[1] <= 0x80 else 1 + (prefix[1] & 0x7F)
    return prefix[1 + size_octets :].startswith(_OID_SIGNED)


def _update_all(hashers: list[Any], piece: bytes) -> None:
    for hasher in hashers:
        hasher.update(piece)


def _read_inner(reader: Reader, dst: BinaryIO, wrapped: bool) -> _InnerSignature:
    """Parse the decrypted SignedData (in its ContentInfo when ``wrapped``), streaming its
    content to ``dst`` and hashing it on the way."""
    inner = _InnerSignature()
    outer: list[Header] = []
    if wrapped:
        outer.append(reader.header(0x30))
        if reader.element(0x06) != _OID_SIGNED:
            raise MalformedInputError("the envelope does not hold a CMS SignedData")
        outer.append(reader.header(0xA0))
    signed = reader.header(0x30)
    inner.version = reader.element(0x02)
    inner.digest_algorithms = cms.DigestAlgorithms.load(reader.element(0x31))
    hashers = _hashers(inner.digest_algorithms)
    encap = reader.header(0x30)
    inner.content_type = core.ObjectIdentifier.load(reader.element(0x06)).dotted
    if not reader.at_close(encap):
        inner.attached = True
        content = reader.header(0xA0)
        octets = reader.header()
        if octets.tag not in (0x04, 0x24):
            raise MalformedInputError("the encapsulated content is not an OCTET STRING")
        with ThreadPoolExecutor(max_workers=1) as pool:  # hash while the next is decrypted
            hashing: Future[None] | None = None
            for piece in reader.octet_chunks(octets):
                if hashing is not None:
                    hashing.result()
                hashing = pool.submit(_update_all, list(hashers.values()), piece)
                dst.write(piece)
            if hashing is not None:
                hashing.result()
        reader.close(content)
    reader.close(encap)
    if reader.peek() == 0xA0:
        inner.certificates = reader.element(0xA0)
    if reader.peek() == 0xA1:
        inner.crls = reader.element(0xA1)
    inner.signer_infos = reader.element(0x31)
    reader.close(signed)
    for header in reversed(outer):
        reader.close(header)
    inner.digests = {name: hasher.digest() for name, hasher in hashers.items()}
    return inner


# --- entry points ---------------------------------------------------------------------------


@dataclass
class _Levels:
    trust: TrustContext
    at: datetime.datetime | None
    trusted_lists: list[TrustedList]
    jurisdiction: str
    known: list[x509.Certificate] = field(default_factory=list)


def _open_signed(envelope: _Envelope, dst: BinaryIO, levels: _Levels) -> OpenedEnvelope:
    decryptor = Decryptor(envelope.algorithm, envelope.cek)
    plaintext = envelope.plaintext(decryptor)
    inner_reader = Reader(ChunkSource(plaintext))
    wrapped = envelope.content_type == "data"
    inner: _InnerSignature | None = None
    try:
        if _looks_signed(inner_reader.prefix(16), wrapped):
            inner = _read_inner(inner_reader, dst, wrapped)
        else:  # not a signature: pass the plaintext through, report "not signed" at the end
            while piece := inner_reader.read(CHUNK):
                dst.write(piece)
    except TruncatedError:
        if envelope.input_ended:
            raise
        raise DecryptionError() from None  # no oracle on the structure of the plaintext
    except (MalformedInputError, *PARSE_ERRORS):  # type: ignore[misc]
        raise DecryptionError() from None  # garbage from a wrong key or a changed ciphertext
    leftover = inner_reader.read(1)
    for extra in plaintext:
        leftover += extra[:1]
    envelope.finish(decryptor)
    if leftover:
        raise DecryptionError()
    if inner is None:
        if not envelope.gcm:
            raise DecryptionError()  # CBC: nothing vouches for an unsigned plaintext
        report = VerificationReport(warnings=list(envelope.warnings))
        report.error("not_signed", "the envelope holds no attached CMS signature")
        return OpenedEnvelope(content=b"", report=report.finish(), signature=b"")
    if not inner.attached:
        raise MalformedInputError("the enveloped signature is detached: no document inside")
    signed = inner.detached()
    report = verify_digest(
        signed,
        inner.digests,
        trust=levels.trust,
        at=levels.at,
        trusted_lists=levels.trusted_lists,
        jurisdiction=levels.jurisdiction,
    )
    report.warnings.extend(envelope.warnings)
    names = check_bindings(
        signed["signer_infos"],
        envelope.infos,
        envelope.opened_by,
        report,
        envelope.infos_der,
        known=[*levels.known, *_embedded(signed)],
    )
    opened = OpenedEnvelope(content=b"", report=report, signature=b"", intended_recipients=names)
    opened.signature = signed.dump()  # replaced by the attached form in memory
    return opened


def open_stream(
    src: BinaryIO,
    dst: BinaryIO,
    *,
    recipient: IdentityLike | Sequence[IdentityLike],
    trust: TrustContext,
    at: datetime.datetime | None = None,
    progress: Progress | None = None,
    trusted_lists: Iterable[TrustedList] = (),
    jurisdiction: str = "eidas",
) -> OpenedEnvelope:
    """Decrypt ``src`` and write the document to ``dst``, then verify; bounded memory.

    ``recipient`` is one identity (an :class:`Identity`, or ``(key, certificate)`` where
    the key may be any :class:`~esign.keys.KeyHandle`), or a list of them: the first
    acceptable record addressed to any of them opens the envelope.

    Raises :class:`DecryptionError` (uniformly) if the envelope does not decrypt,
    :class:`NoMatchingRecipientError` if it is addressed to none of the identities (the
    message says per identity why), :class:`UnsupportedAlgorithmError` if the only records
    for them use a refused algorithm, and :class:`RecipientsModifiedError` if its records
    changed after signing. The signature verdict, and ``not_an_intended_recipient`` for a
    forwarded envelope, are in the returned report. ``dst`` holds the document only if this
    returns; even then, trust it only if ``report.valid``.
    """
    levels = _Levels(trust, at, list(trusted_lists), jurisdiction)
    opened = _open(src, dst, as_identities(recipient), levels, progress)
    opened.signature = b""
    return opened


def _embedded(signed: cms.SignedData) -> list[x509.Certificate]:
    """The certificates inside the signature (bounded by the container checks)."""
    found: list[x509.Certificate] = []
    certificates = signed["certificates"]
    if isinstance(certificates, core.Void):
        return found
    for choice in certificates:
        if choice.name == "certificate":
            with contextlib.suppress(ValueError):
                found.append(x509.load_der_x509_certificate(choice.chosen.dump()))
    return found


def _open(
    src: BinaryIO,
    dst: BinaryIO,
    identities: list[Identity],
    levels: _Levels,
    progress: Progress | None,
) -> OpenedEnvelope:
    """Read the header and find the key, then the rest: for CBC, uniformly."""
    levels.known = [i.certificate for i in identities if i.certificate is not None]
    envelope: _Envelope = _parsing(_Envelope, src, identities, progress)
    with uniform_after_decryption(envelope.gcm):
        opened: OpenedEnvelope = _parsing(_open_signed, envelope, dst, levels)
    return opened


def open_envelope(
    envelope: bytes,
    *,
    recipient: IdentityLike | Sequence[IdentityLike],
    trust: TrustContext,
    at: datetime.datetime | None = None,
    trusted_lists: Iterable[TrustedList] = (),
    jurisdiction: str = "eidas",
) -> OpenedEnvelope:
    """:func:`open_stream` over bytes (DER, BER or PEM); ``content`` is the document and
    ``signature`` the attached SignedData (DER), as it was inside."""
    levels = _Levels(trust, at, list(trusted_lists), jurisdiction)
    dst = io.BytesIO()
    opened = _open(io.BytesIO(unarmor(envelope)), dst, as_identities(recipient), levels, None)
    opened.content = dst.getvalue()
    if opened.signature:
        signed = cms.SignedData.load(opened.signature)
        content_type = signed["encap_content_info"]["content_type"]
        encap = cms.ContentInfo({"content_type": content_type, "content": opened.content})
        attached = rebuilt(signed, encap_content_info=encap)
        opened.signature = cms.ContentInfo(
            {"content_type": "signed_data", "content": attached}
        ).dump()
    else:
        opened.signature = opened.content
    return opened


def decrypt_stream(
    src: BinaryIO, dst: BinaryIO, recipient: IdentityLike | Sequence[IdentityLike]
) -> str:
    """Decrypt only (nothing verified): the plaintext to ``dst``; return its content type."""
    envelope: _Envelope = _parsing(_Envelope, src, as_identities(recipient), None)

    def run() -> None:
        decryptor = Decryptor(envelope.algorithm, envelope.cek)
        for piece in envelope.plaintext(decryptor):
            dst.write(piece)
        envelope.finish(decryptor)

    _parsing(run)
    content_type: str = envelope.content_type
    return content_type


def decrypt_envelope(
    envelope: bytes, recipient: IdentityLike | Sequence[IdentityLike]
) -> tuple[str, bytes]:
    """:func:`decrypt_stream` over bytes: (content type, plaintext)."""
    dst = io.BytesIO()
    content_type = decrypt_stream(io.BytesIO(unarmor(envelope)), dst, recipient)
    return content_type, dst.getvalue()


def verify_digest(
    signed: cms.SignedData,
    digests: dict[str, bytes],
    *,
    trust: TrustContext,
    at: datetime.datetime | None = None,
    trusted_lists: Iterable[TrustedList] = (),
    jurisdiction: str = "eidas",
) -> VerificationReport:
    """Verify a SignedData whose content was hashed while streaming: :func:`esign.verify`
    with the digests in place of the content (same checks, levels and time-stamps)."""
    signature = cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump()
    return verify(
        signature,
        trust=trust,
        at=at,
        digests=digests,
        trusted_lists=trusted_lists,
        jurisdiction=jurisdiction,
    )
