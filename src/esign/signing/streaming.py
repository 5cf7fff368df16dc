"""Attached CMS signatures of any size, signed and verified as streams in bounded memory.

:func:`sign_stream` writes a SignedData with the document inside the way
``openssl cms -sign -nodetach -stream -binary`` does: BER with indefinite lengths, the
document as a chunked OCTET STRING hashed while it is copied, and the signer info after it,
once the digest is known. :func:`verify_stream` reads such a signature (or a DER one) in
the same order: the header, the document through the hashes (and to ``out`` when asked),
then the certificates, CRLs and signer infos. Those go to :func:`esign.verify` as a
detached signature with the digests, so the checks and the report are ``verify``'s.

Memory is about two chunks plus the parts that are not the document, whatever the
document's size; those parts keep every budget of :mod:`esign.limits`.
"""

from __future__ import annotations

import datetime
import hashlib
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, BinaryIO

from asn1crypto import cms
from cryptography import x509

from esign.ber import BerFraming, Reader, TruncatedError, tlv
from esign.diagnose import explain, humanize
from esign.errors import InputTooLargeError, MalformedInputError, UnsupportedAlgorithmError
from esign.gost.keys import GostPrivateKey
from esign.limits import MAX_CMS_BYTES, MAX_DIGEST_ALGORITHMS
from esign.signing.container import CMS_ADVICE, PARSE_ERRORS
from esign.signing.sign import Clock, Signer, _time_stamp, _utc_now
from esign.signing.signer_parts import (
    _OID_DATA,
    _OID_SIGNED_DATA,
    _VERSION_1,
    check_key,
    signer_parts,
)

if TYPE_CHECKING:
    from pyhanko.sign.timestamps import TimeStamper

    from esign.certs.trust import TrustContext
    from esign.certs.trusted_list import TrustedList
    from esign.signing.report import VerificationReport

__all__ = ["StreamedSignature", "read_signed_stream", "sign_stream", "verify_stream"]

#: Bytes read at a time.
CHUNK = 1 << 20
#: Streebog (GOST R 34.11-2012): the GOST verifier hashes the document itself.
_STREEBOG = frozenset({"1.2.643.7.1.1.2.2", "1.2.643.7.1.1.2.3"})

Progress = Callable[[int], None]
Sink = IO[bytes] | Callable[[bytes], object]


def _writer(sink: Sink) -> Callable[[bytes], object]:
    write = getattr(sink, "write", None)
    return write if write is not None else sink  # type: ignore[return-value]


def _update_all(hashers: Sequence[Any], piece: bytes) -> None:
    for hasher in hashers:
        hasher.update(piece)


def _copy(
    pieces: Iterable[bytes],
    hashers: Sequence[Any],
    write: Callable[[bytes], object] | None,
    progress: Progress | None,
) -> int:
    """Hash every piece (in a thread: hashlib releases the GIL) while it is written on."""
    total = 0
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending: Future[None] | None = None
        for piece in pieces:
            if pending is not None:
                pending.result()
            pending = pool.submit(_update_all, hashers, piece)
            if write is not None:
                write(piece)
            total += len(piece)
            if progress is not None:
                progress(total)
        if pending is not None:
            pending.result()
    return total


def _batched(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """Small pieces (openssl -stream writes 4 KiB ones) joined into about CHUNK bytes, so
    the per-piece costs (a thread hand-off, a write) are paid per MiB."""
    batch: list[bytes] = []
    held = 0
    for piece in pieces:
        if not batch and len(piece) >= CHUNK:
            yield piece
            continue
        batch.append(piece)
        held += len(piece)
        if held >= CHUNK:
            yield b"".join(batch)
            batch, held = [], 0
    if batch:
        yield b"".join(batch)


def _chunks(source: BinaryIO) -> Iterator[bytes]:
    while chunk := source.read(CHUNK):
        yield chunk


# --- signing --------------------------------------------------------------------------------


def sign_stream(
    source: BinaryIO,
    sink: Sink,
    *,
    signer: Signer,
    chain: Sequence[x509.Certificate] = (),
    clock: Clock = _utc_now,
    signed_attributes: Sequence[cms.CMSAttribute] = (),
    timestamper: TimeStamper | None = None,
    progress: Progress | None = None,
) -> int:
    """Sign the document read from ``source`` into an attached signature written to ``sink``.

    ``sink`` is a binary file object or a callable taking bytes. The output is BER (what
    ``openssl cms -sign -nodetach -stream`` writes, which openssl and :func:`verify_stream`
    read); ``signer``, ``chain``, ``clock``, ``signed_attributes`` and ``timestamper`` are
    :func:`esign.sign`'s. ``progress`` gets the bytes read so far. The key and its
    certificate are checked before anything is read or written. Returns the document's
    size. If signing fails after the document was copied, ``sink`` holds an unfinished
    signature: write to a temporary file and keep it only when this returns.
    """
    key, certificate = signer
    if isinstance(key, GostPrivateKey):
        raise UnsupportedAlgorithmError(
            "GOST signatures are not streamed: sign them with esign.sign (in memory)"
        )
    key = check_key(key, certificate)
    parts = signer_parts(key, certificate, chain)
    extra = [attribute.dump() for attribute in signed_attributes]
    out = BerFraming(_writer(sink))
    out.open(0x30)  # ContentInfo
    out.raw(_OID_SIGNED_DATA)
    out.open(0xA0)
    out.open(0x30)  # SignedData v1: issuerAndSerialNumber, id-data
    out.raw(_VERSION_1 + parts.digest_algorithms)
    out.open(0x30)  # EncapsulatedContentInfo
    out.raw(_OID_DATA)
    out.open(0xA0)
    out.open_string(0x04)
    hasher = parts.hasher()
    size = _copy(_chunks(source), [hasher], out.piece, progress)
    out.close_string()
    out.close()  # [0]
    out.close()  # EncapsulatedContentInfo
    attributes = parts.signed_attributes(hasher.digest(), clock(), extra)
    signature = parts.sign(key, attributes)
    unsigned = b"" if timestamper is None else _time_stamp(timestamper, signature, parts.digest)
    out.raw(parts.certificates + tlv(0x31, parts.signer_info(attributes, signature, unsigned)))
    out.close()  # SignedData
    out.close()  # [0]
    out.close()  # ContentInfo
    return size


# --- reading ------------------------------------------------------------------------------


@dataclass
class StreamedSignature:
    """A SignedData read from a stream: every part but the document, and its digests."""

    version: bytes = b""
    digest_algorithms: bytes = b""
    content_type: bytes = b""  # the DER OBJECT IDENTIFIER
    certificates: bytes = b""
    crls: bytes = b""
    signer_infos: bytes = b""
    attached: bool = False
    size: int = 0  # of the document
    digests: dict[str, bytes] = field(default_factory=dict)
    #: A copy of the document, kept only when a verifier must read it again (GOST).
    spool: IO[bytes] | None = None

    def detached(self) -> bytes:
        """The signature with the document taken out: a detached ContentInfo (BER inside
        where the input was BER), for :func:`esign.verify` with the digests."""
        body = self.version + self.digest_algorithms + tlv(0x30, self.content_type)
        body += self.certificates + self.crls + self.signer_infos
        return tlv(0x30, _OID_SIGNED_DATA + tlv(0xA0, tlv(0x30, body)))


def _hashers(digest_algorithms: bytes) -> tuple[dict[str, Any], bool]:
    """A hasher for every announced digest hashlib knows, and whether one is Streebog."""
    try:
        algorithms = cms.DigestAlgorithms.load(digest_algorithms)
        names = {algorithm["algorithm"].native for algorithm in algorithms}
    except PARSE_ERRORS as exc:
        raise MalformedInputError("the SignedData's digest algorithms are damaged") from exc
    if len(names) > MAX_DIGEST_ALGORITHMS:
        raise InputTooLargeError(
            f"more than {MAX_DIGEST_ALGORITHMS} digest algorithms, each a hash over the "
            "whole document (esign.limits.MAX_DIGEST_ALGORITHMS)"
        )
    hashers: dict[str, Any] = {}
    for name in names:
        try:
            hashers[name] = hashlib.new(name.replace("_", "-") if name.startswith("sha3") else name)
        except ValueError:
            continue  # the signer check names a digest nobody can compute
    return hashers, bool(names & _STREEBOG)


def _element(reader: Reader, tag: int, budget: list[int], what: str) -> bytes:
    """One part after the document, counted against the non-content budget."""
    too_large = InputTooLargeError(
        f"the {what} of the signature exceed {MAX_CMS_BYTES >> 20} MiB "
        "(esign.limits.MAX_CMS_BYTES; the document itself has no limit)"
    )
    try:
        encoded = reader.element(tag, limit=budget[0])
    except InputTooLargeError:
        raise too_large from None
    if len(encoded) > budget[0]:  # the element's limit counts its value, not its header
        raise too_large
    budget[0] -= len(encoded)
    return encoded


def read_signed_stream(
    source: BinaryIO,
    out: Sink | None = None,
    *,
    progress: Progress | None = None,
) -> StreamedSignature:
    """Read a CMS SignedData (DER or BER) from ``source``, the document hashed on the way
    with every announced digest and written to ``out`` if given (before any check: treat
    it as untrusted until the signature verified)."""
    reader = Reader(source)
    start = reader.prefix(32)
    if start.lstrip().startswith(b"-----BEGIN"):
        raise MalformedInputError(
            "a PEM signature is read in memory: give it to esign.verify, or convert it to "
            "DER (openssl cms -cmsout -inform PEM -outform DER) to stream it"
        )
    if start[:1] != b"\x30":
        raise MalformedInputError(explain(start, "CMS signature", advice=CMS_ADVICE))
    found = StreamedSignature()
    part = "its outer structure"
    try:
        outer = reader.header(0x30)
        if reader.element(0x06, limit=64) != _OID_SIGNED_DATA:
            raise MalformedInputError("not a CMS signature: it holds another kind of CMS content")
        wrapper = reader.header(0xA0)
        signed = reader.header(0x30)
        part = "its header (version, digest algorithms)"
        found.version = reader.element(0x02, limit=16)
        found.digest_algorithms = reader.element(0x31, limit=4096)
        hashers, streebog = _hashers(found.digest_algorithms)
        part = "its encapsulated content"
        encap = reader.header(0x30)
        found.content_type = reader.element(0x06, limit=256)
        if not reader.at_close(encap):
            found.attached = True
            holder = reader.header(0xA0)
            octets = reader.header()
            if octets.tag not in (0x04, 0x24):
                raise MalformedInputError("the encapsulated content is not an OCTET STRING")
            write = None if out is None else _writer(out)
            if streebog:
                found.spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the caller
                spool, sink = found.spool, write

                def write(piece: bytes) -> None:
                    spool.write(piece)
                    if sink is not None:
                        sink(piece)

            pieces = _batched(reader.octet_chunks(octets))
            found.size = _copy(pieces, list(hashers.values()), write, progress)
            reader.close(holder)
        reader.close(encap)
        budget = [MAX_CMS_BYTES]
        part = "its certificates"
        if reader.peek() == 0xA0:
            found.certificates = _element(reader, 0xA0, budget, "certificates")
        part = "its revocation data"
        if reader.peek() == 0xA1:
            found.crls = _element(reader, 0xA1, budget, "certificates and CRLs")
        part = "its signer infos"
        found.signer_infos = _element(reader, 0x31, budget, "certificates, CRLs and signers")
        part = "its closing end-of-contents markers"
        reader.close(signed)
        reader.close(wrapper)
        reader.close(outer)
        if not reader.at_end():
            raise MalformedInputError("not a CMS signature: bytes follow its end")
    except TruncatedError:
        _discard(found)
        raise TruncatedError(f"the signature is truncated: it ends inside {part}") from None
    except InputTooLargeError:
        _discard(found)
        raise
    except MalformedInputError as exc:
        _discard(found)
        if str(exc).startswith("not a CMS signature"):
            raise
        raise MalformedInputError(
            f"not a CMS signature: {part} is damaged ({humanize(exc)})"
        ) from None
    found.digests = {name: hasher.digest() for name, hasher in hashers.items()}
    return found


def _discard(found: StreamedSignature) -> None:
    if found.spool is not None:
        found.spool.close()
        found.spool = None


# --- verifying ----------------------------------------------------------------------------


def verify_stream(
    source: BinaryIO,
    *,
    trust: TrustContext,
    out: Sink | None = None,
    at: datetime.datetime | None = None,
    certificates: Iterable[x509.Certificate] = (),
    trusted_lists: Iterable[TrustedList] = (),
    jurisdiction: str = "eidas",
    tsa_trust: TrustContext | None = None,
    progress: Progress | None = None,
) -> VerificationReport:
    """Verify an attached CMS signature read from ``source`` (DER or BER), in one pass.

    The same checks and report as :func:`esign.verify`, with the same options; the
    document may be of any size. ``out`` (a binary file object or a callable) receives
    the document as it is read, before the verdict: keep it only if ``report.valid`` (the
    command line writes to a temporary file and renames it then). A detached signature is
    refused: give it to :func:`esign.verify` with its data.
    """
    from esign.certs.trusted_list import JURISDICTIONS
    from esign.signing.verify import verify

    if jurisdiction not in JURISDICTIONS:  # before reading gigabytes, not after
        raise ValueError(
            f"unknown jurisdiction {jurisdiction!r}; known: {', '.join(JURISDICTIONS)}"
        )
    found = read_signed_stream(source, out, progress=progress)
    options: dict[str, Any] = {
        "trust": trust,
        "at": at,
        "certificates": certificates,
        "trusted_lists": trusted_lists,
        "jurisdiction": jurisdiction,
        "tsa_trust": tsa_trust,
    }
    if not found.attached:
        raise MalformedInputError(
            "detached signature: it carries no document; give the signed data "
            "(esign.verify(signature, data), esign verify --data FILE)"
        )
    if found.spool is not None:  # GOST: its verifier hashes the document itself
        with found.spool as spool:
            spool.seek(0)
            return verify(found.detached(), spool, **options)  # type: ignore[arg-type]
    return verify(found.detached(), digests=found.digests, **options)
