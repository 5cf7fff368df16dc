"""Seal and open files of any size with bounded memory, in one pass each way.

Sealing writes the same CMS as :func:`~esign.envelope.sealing.seal`, but in BER with
indefinite lengths, as ``openssl cms -stream`` does: the inner SignedData header, the
document as chunked OCTET STRINGs (hashed and encrypted as it is read), then the
certificates and the signer info once the digest is known — all inside AES-GCM
(AuthEnvelopedData) or AES-CBC (EnvelopedData) written chunk by chunk.

Opening reads the framing with :mod:`esign.envelope.ber`, decrypts chunk by chunk, hashes
the document while writing it to ``dst``, and verifies the signer info (small) at the end.
The document reaches ``dst`` before the GCM tag and the signature are checked: treat
``dst`` as untrusted unless :func:`open_stream` returns a valid report (the command line
writes to a temporary file and renames it only then).
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, BinaryIO

from asn1crypto import cms, core
from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes

from esign._sync import run_sync
from esign.certs.trust import TrustContext
from esign.certs.trusted_list import TrustedList
from esign.envelope.ber import (
    EOC,
    ChunkSource,
    Header,
    Reader,
    TruncatedError,
    length_octets,
    open_indefinite,
    tlv,
)
from esign.envelope.recipients import Identity
from esign.envelope.sealing import (
    GCM_TAG_BYTES,
    ContentCipher,
    OpenedEnvelope,
    RecipientLike,
    _check_auth_enveloped,
    _check_enveloped,
    as_identity,
    binding_attribute,
    check_bindings,
    check_signer,
    content_encryption,
    enveloped_data_version,
    find_cek,
    prepare_recipients,
    uniform_after_decryption,
)
from esign.errors import (
    DecryptionError,
    EsignError,
    MalformedInputError,
    UnsupportedAlgorithmError,
)
from esign.keys.algorithms import PrivateKey
from esign.policy import default_digest_for
from esign.signing.container import PARSE_ERRORS
from esign.signing.report import Finding, VerificationReport
from esign.signing.sign import Clock, _pyhanko_signer, _utc_now
from esign.signing.verify import verify

CHUNK = 1 << 20
Progress = Callable[[int], None]
_OID_DATA = core.ObjectIdentifier("1.2.840.113549.1.7.1").dump()
_OID_SIGNED = core.ObjectIdentifier("1.2.840.113549.1.7.2").dump()


class _Encryptor:
    """Content encryption as a sink: plaintext in, ciphertext OCTET STRING chunks to ``dst``.

    Small pieces (BER headers) are gathered; large pieces (document chunks) go straight
    through, so the document is never copied on its way.
    """

    def __init__(self, cipher: ContentCipher, cek: bytes, nonce: bytes, dst: BinaryIO) -> None:
        self.gcm = cipher == "aes-256-gcm"
        mode: Any = modes.GCM(nonce) if self.gcm else modes.CBC(nonce)
        self._enc = Cipher(algorithms.AES(cek), mode).encryptor()
        self._pad = None if self.gcm else sym_padding.PKCS7(128).padder()
        self._dst = dst
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if len(data) < 4096:
            self._pending.append(data)
            return
        self.flush()
        self._emit(data)

    def flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending = []
            self._emit(data)

    def _emit(self, data: bytes) -> None:
        if self._pad is not None:
            data = self._pad.update(data)
        self._out(self._enc.update(data))

    def _out(self, ciphertext: bytes) -> None:
        if ciphertext:
            self._dst.write(b"\x04" + length_octets(len(ciphertext)))
            self._dst.write(ciphertext)

    def finish(self) -> bytes:
        """Flush everything; return the GCM tag (empty for CBC)."""
        self.flush()
        if self._pad is not None:
            self._out(self._enc.update(self._pad.finalize()))
        self._out(self._enc.finalize())
        return bytes(getattr(self._enc, "tag", b""))


def _sign_digest(
    signer: tuple[PrivateKey, x509.Certificate],
    chain: Sequence[x509.Certificate],
    digest: bytes,
    digest_name: str,
    clock: Clock,
    attributes: Sequence[cms.CMSAttribute],
) -> cms.SignedData:
    """A detached SignedData over a digest computed while streaming.

    The same pyHanko signer and signed attributes as :func:`esign.sign`; only the hashing
    moved out, so the document is read once and hashed in 1 MiB steps.
    """
    pyhanko_signer = _pyhanko_signer(signer[0], signer[1], chain)
    pyhanko_signer.extra_signed_attributes = tuple(attributes)
    info = run_sync(
        pyhanko_signer.async_sign(
            data_digest=digest,
            digest_algorithm=digest_name,
            is_pdf_sig=False,
            encap_content_info={"content_type": "data"},
            signed_attr_settings=PdfCMSSignedAttributes(signing_time=clock()),
        )
    )
    signed: cms.SignedData = info["content"]
    return signed


def seal_stream(
    src: BinaryIO,
    dst: BinaryIO,
    *,
    signer: tuple[PrivateKey, x509.Certificate],
    recipients: Sequence[RecipientLike],
    chain: Sequence[x509.Certificate] = (),
    clock: Clock = _utc_now,
    cipher: ContentCipher = "aes-256-gcm",
    progress: Progress | None = None,
) -> int:
    """Sign and encrypt ``src`` into ``dst`` in one pass; return the document size.

    Memory stays bounded (about two chunks of 1 MiB) whatever the size of ``src``;
    ``progress`` is called with the number of document bytes read so far.
    """
    certificate = signer[1]
    check_signer(signer)
    cek, infos = prepare_recipients(recipients)
    name, nonce = content_encryption(cipher)
    algorithm = cms.EncryptionAlgorithm(
        {"algorithm": name, "parameters": {"aes_nonce": nonce, "aes_icvlen": GCM_TAG_BYTES}}
        if cipher == "aes-256-gcm"
        else {"algorithm": name, "parameters": nonce}
    )
    digest_name = default_digest_for(certificate.public_key())  # type: ignore[arg-type]
    digest_algorithms = cms.DigestAlgorithms([{"algorithm": digest_name}])

    gcm = cipher == "aes-256-gcm"
    outer_type = "1.2.840.113549.1.9.16.1.23" if gcm else "1.2.840.113549.1.7.3"
    version = 0 if gcm else int(enveloped_data_version(infos)[1:])
    dst.write(open_indefinite(0x30) + core.ObjectIdentifier(outer_type).dump())
    dst.write(open_indefinite(0xA0) + open_indefinite(0x30))
    dst.write(core.Integer(version).dump() + infos.dump())
    dst.write(open_indefinite(0x30) + _OID_DATA + algorithm.dump() + open_indefinite(0xA0))

    sink = _Encryptor(cipher, cek, nonce, dst)
    # Inner SignedData up to the content; version 1: issuerAndSerialNumber, id-data.
    sink.write(open_indefinite(0x30) + _OID_SIGNED + open_indefinite(0xA0))
    sink.write(open_indefinite(0x30) + core.Integer(1).dump() + digest_algorithms.dump())
    sink.write(open_indefinite(0x30) + _OID_DATA + open_indefinite(0xA0) + open_indefinite(0x24))
    hasher = hashlib.new(digest_name)
    total = 0
    with ThreadPoolExecutor(max_workers=1) as pool:  # hashlib hashes without the GIL
        hashing: Future[None] | None = None
        while chunk := src.read(CHUNK):
            if hashing is not None:
                hashing.result()
            hashing = pool.submit(hasher.update, chunk)
            sink.write(b"\x04" + length_octets(len(chunk)))
            sink.write(chunk)
            total += len(chunk)
            if progress is not None:
                progress(total)
        if hashing is not None:
            hashing.result()
    signed = _sign_digest(
        signer, chain, hasher.digest(), digest_name, clock, [binding_attribute(infos)]
    )
    if signed["version"].native != "v1" or signed["digest_algorithms"].dump() != (
        digest_algorithms.dump()
    ):
        raise EsignError("the signer chose other algorithms than the stream header announced")
    sink.write(EOC + EOC + EOC)  # chunked OCTET STRING, [0], encapContentInfo
    certificates = signed["certificates"]
    if certificates.native is not None:
        sink.write(certificates.dump())
    sink.write(signed["signer_infos"].dump() + EOC + EOC + EOC)
    tag = sink.finish()
    dst.write(EOC + EOC)  # encryptedContent [0], EncryptedContentInfo
    if gcm:
        dst.write(tlv(0x04, tag))
    dst.write(EOC + EOC + EOC)
    return total


# --- opening ------------------------------------------------------------------------------


class _Decryptor:
    """Content decryption over the ciphertext chunks of the outer reader."""

    def __init__(self, name: str, cek: bytes, nonce: bytes) -> None:
        self.gcm = name.endswith("_gcm")
        mode: Any = modes.GCM(nonce) if self.gcm else modes.CBC(nonce)
        self._dec = Cipher(algorithms.AES(cek), mode).decryptor()
        self._unpad = None if self.gcm else sym_padding.PKCS7(128).unpadder()

    def chunks(self, ciphertext: Iterator[bytes]) -> Iterator[bytes]:
        for piece in ciphertext:
            out = self._dec.update(piece)
            if self._unpad is not None:
                out = self._unpad.update(out)
            if out:
                yield out
        if self._unpad is not None:  # CBC holds the last block back until the padding
            try:
                last = self._unpad.update(self._dec.finalize()) + self._unpad.finalize()
            except ValueError:
                raise DecryptionError() from None
            if last:
                yield last

    def finish(self, tag: bytes | None) -> None:
        """Check the GCM tag (CBC has none: its padding was checked with the last block)."""
        if not self.gcm:
            return
        assert tag is not None
        try:
            self._dec.finalize_with_tag(tag)
        except (InvalidTag, ValueError):
            raise DecryptionError() from None


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
        if self.certificates is not None:
            parts += self.certificates
        if self.crls is not None:
            parts += self.crls
        parts += self.signer_infos
        return cms.SignedData.load(tlv(0x30, parts))


def _looks_signed(prefix: bytes) -> bool:
    """Whether decrypted content starts as a SignedData ContentInfo (else: raw data)."""
    if len(prefix) < 4 or prefix[0] != 0x30:
        return False
    size_octets = 1 if prefix[1] <= 0x80 else 1 + (prefix[1] & 0x7F)
    return prefix[1 + size_octets :].startswith(_OID_SIGNED)


def _update_all(hashers: list[Any], piece: bytes) -> None:
    for hasher in hashers:
        hasher.update(piece)


def _read_inner(reader: Reader, dst: BinaryIO) -> _InnerSignature:
    """Parse the decrypted SignedData ContentInfo, streaming its content to ``dst``."""
    inner = _InnerSignature()
    info = reader.header(0x30)
    if reader.element(0x06) != _OID_SIGNED:
        raise MalformedInputError("the envelope does not hold a CMS SignedData")
    explicit = reader.header(0xA0)
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
    reader.close(explicit)
    reader.close(info)
    inner.digests = {name: hasher.digest() for name, hasher in hashers.items()}
    return inner


def open_stream(
    src: BinaryIO,
    dst: BinaryIO,
    *,
    recipient: tuple[PrivateKey, x509.Certificate | None] | Identity,
    trust: TrustContext,
    at: datetime.datetime | None = None,
    progress: Progress | None = None,
    trusted_lists: Iterable[TrustedList] = (),
    jurisdiction: str = "eidas",
) -> OpenedEnvelope:
    """Decrypt ``src`` and write the document to ``dst``, then verify; bounded memory.

    Errors are those of :func:`~esign.envelope.sealing.open_envelope`. ``dst`` holds the
    document only if this returns; even then, trust it only if ``report.valid``.
    The returned ``content`` is empty (the document is in ``dst``).
    """
    identity = as_identity(recipient)
    reader = Reader(src)
    try:
        levels = {"trusted_lists": list(trusted_lists), "jurisdiction": jurisdiction}
        return _open(reader, dst, identity, trust, at, progress, levels)
    except EsignError:
        raise
    except PARSE_ERRORS as exc:
        raise MalformedInputError(f"malformed CMS envelope: {exc}") from exc


def _open(
    reader: Reader,
    dst: BinaryIO,
    identity: Identity,
    trust: TrustContext,
    at: datetime.datetime | None,
    progress: Progress | None,
    levels: dict[str, Any],
) -> OpenedEnvelope:
    info = reader.header(0x30)
    kind = cms.ContentType.load(reader.element(0x06)).native
    if kind not in ("authenticated_enveloped_data", "enveloped_data"):
        raise MalformedInputError(f"expected CMS AuthEnvelopedData or EnvelopedData, found {kind}")
    gcm = kind == "authenticated_enveloped_data"
    explicit = reader.header(0xA0)
    enveloped = reader.header(0x30)
    version = reader.element(0x02)
    if reader.peek() == 0xA0:
        raise UnsupportedAlgorithmError("originatorInfo in an envelope is not supported")
    infos_der = reader.element(0x31)
    infos = cms.RecipientInfos.load(infos_der)
    eci = reader.header(0x30)
    content_type_der = reader.element(0x06)
    algorithm_der = reader.element(0x30)
    encrypted = reader.header()
    if encrypted.tag not in (0x80, 0xA0):
        raise MalformedInputError("the envelope has no encrypted content")

    # Check the non-content fields with the in-memory checks, on an empty-content stand-in.
    warnings: list[Finding] = []
    eci_stub = tlv(0x30, content_type_der + algorithm_der + b"\x80\x00")
    if gcm:
        stub = cms.AuthEnvelopedData.load(
            tlv(0x30, version + infos_der + eci_stub + tlv(0x04, bytes(GCM_TAG_BYTES)))
        )
        content_type, name, nonce, _ = _check_auth_enveloped(stub)
    else:
        stub_cbc = cms.EnvelopedData.load(tlv(0x30, version + infos_der + eci_stub))
        stub_cbc["encrypted_content_info"]["encrypted_content"] = bytes(16)
        content_type, name, nonce, _ = _check_enveloped(stub_cbc, warnings)
    if content_type != "data":
        raise UnsupportedAlgorithmError(f"unsupported enveloped content type {content_type}")
    key_bytes = {"aes128": 16, "aes192": 24, "aes256": 32}[name[:6]]
    cek, opened_by = find_cek(infos, [identity], key_bytes)
    if gcm:
        return _decrypt_and_verify(
            reader, dst, _Opening(name, cek, nonce, infos, infos_der, opened_by, warnings),
            (info, explicit, enveloped, eci, encrypted), trust, at, progress, levels,
        )  # fmt: skip
    with uniform_after_decryption():
        return _decrypt_and_verify(
            reader, dst, _Opening(name, cek, nonce, infos, infos_der, opened_by, warnings),
            (info, explicit, enveloped, eci, encrypted), trust, at, progress, levels,
        )  # fmt: skip


@dataclass
class _Opening:
    """What the envelope header gave: the content cipher, its key, and the records."""

    name: str
    cek: bytes
    nonce: bytes
    infos: cms.RecipientInfos
    infos_der: bytes
    opened_by: int
    warnings: list[Finding]


def _decrypt_and_verify(
    reader: Reader,
    dst: BinaryIO,
    opening: _Opening,
    headers: tuple[Header, Header, Header, Header, Header],
    trust: TrustContext,
    at: datetime.datetime | None,
    progress: Progress | None,
    levels: dict[str, Any],
) -> OpenedEnvelope:
    info, explicit, enveloped, eci, encrypted = headers
    name, cek, nonce = opening.name, opening.cek, opening.nonce
    infos, infos_der, opened_by = opening.infos, opening.infos_der, opening.opened_by
    gcm = name.endswith("_gcm")
    decryptor = _Decryptor(name, cek, nonce)
    done = 0

    input_ended = False

    def ciphertext() -> Iterator[bytes]:
        nonlocal done, input_ended
        try:
            for piece in reader.octet_chunks(encrypted):
                done += len(piece)
                if progress is not None:
                    progress(done)
                yield piece
        except TruncatedError:
            input_ended = True  # the file ended, not the plaintext's structure
            raise

    plaintext = decryptor.chunks(ciphertext())
    inner_reader = Reader(ChunkSource(plaintext))
    inner: _InnerSignature | None = None
    try:
        if _looks_signed(inner_reader.prefix(16)):
            inner = _read_inner(inner_reader, dst)
        else:  # not a signature: pass the plaintext through, report "not signed" at the end
            while piece := inner_reader.read(CHUNK):
                dst.write(piece)
    except TruncatedError:
        if input_ended:
            raise
        raise DecryptionError() from None  # no oracle on the structure of the plaintext
    except (MalformedInputError, *PARSE_ERRORS):  # type: ignore[misc]
        raise DecryptionError() from None  # garbage from a wrong key or a changed ciphertext
    leftover = inner_reader.read(1)
    for extra in plaintext:
        leftover += extra[:1]
    reader.close(eci)
    tag = None
    if gcm:
        if reader.peek() == 0xA1:
            raise UnsupportedAlgorithmError("attributes in AuthEnvelopedData are not supported")
        tag = reader.element(0x04, limit=64)[2:]
        if len(tag) != GCM_TAG_BYTES:
            raise UnsupportedAlgorithmError("AES-GCM needs a 16-byte tag")
    if reader.peek() in (0xA1, 0xA2):
        raise UnsupportedAlgorithmError("envelope attributes are not supported")
    reader.close(enveloped)
    reader.close(explicit)
    reader.close(info)
    if not reader.at_end():
        raise MalformedInputError("trailing data after the envelope")
    decryptor.finish(tag)
    if leftover:
        raise DecryptionError()
    if inner is None:
        if not gcm:
            raise DecryptionError()  # CBC: nothing vouches for an unsigned plaintext
        report = VerificationReport(warnings=list(opening.warnings))
        report.error("not_signed", "the envelope holds no attached CMS signature")
        return OpenedEnvelope(content=b"", report=report.finish(), signature=b"")
    if not inner.attached:
        raise MalformedInputError("the enveloped signature is detached: no document inside")

    signed = inner.detached()
    report = verify_digest(signed, inner.digests, trust=trust, at=at, **levels)
    report.warnings.extend(opening.warnings)
    names = check_bindings(signed["signer_infos"], infos, opened_by, report, infos_der)
    return OpenedEnvelope(content=b"", report=report, signature=b"", intended_recipients=names)


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
