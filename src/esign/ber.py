"""A small BER pull reader and writer for streaming CMS (indefinite lengths, chunked strings).

asn1crypto parses whole values in memory; a 1 GiB envelope or attached signature must not
be. This module reads and writes only the outer framing (tags, lengths, end-of-contents,
chunked OCTET STRINGs) and hands every bounded inner element to asn1crypto. It is the
same framing OpenSSL's ``-stream`` mode writes, so both read each other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from esign.errors import InputTooLargeError, MalformedInputError
from esign.limits import MAX_BER_DEPTH as MAX_DEPTH

EOC = b"\x00\x00"
MAX_ELEMENT = 16 << 20  # recipient records, certificates, signer infos: bounded


class Source(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class TruncatedError(MalformedInputError):
    """The input ended inside a structure (a truncated file or stream)."""

    code = "truncated"


@dataclass
class Header:
    """One TLV header: the identifier octet, the length (None = indefinite), raw bytes."""

    tag: int
    length: int | None
    raw: bytes
    end: int | None  # absolute position where a definite-length value ends

    @property
    def constructed(self) -> bool:
        return bool(self.tag & 0x20)


class Reader:
    """Pull BER from a byte source, tracking the position for definite lengths."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.pos = 0
        self._buf = b""
        self._off = 0

    def _fill(self) -> bool:
        chunk = self.source.read(1 << 20)
        if not chunk:
            return False
        self._buf = chunk if self._off >= len(self._buf) else self._buf[self._off :] + chunk
        self._off = 0
        return True

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes (fewer only at the end of input)."""
        if self._off >= len(self._buf):
            if size >= 1 << 16:  # large reads bypass the buffer: no copy of the content
                data = self.source.read(size)
                self.pos += len(data)
                return data
            if not self._fill():
                return b""
        if self._off == 0 and size >= len(self._buf):
            data = self._buf  # the whole buffer: no copy
        else:
            data = self._buf[self._off : self._off + size]
        self._off += len(data)
        self.pos += len(data)
        return data

    def exact(self, size: int) -> bytes:
        parts = []
        remaining = size
        while remaining:
            data = self.read(remaining)
            if not data:
                raise TruncatedError("the input is truncated")
            parts.append(data)
            remaining -= len(data)
        return b"".join(parts)

    def peek(self) -> int | None:
        """The next byte without consuming it (None at the end of input)."""
        if self._off >= len(self._buf) and not self._fill():
            return None
        return self._buf[self._off]

    def prefix(self, size: int) -> bytes:
        """Up to ``size`` upcoming bytes, without consuming them."""
        while len(self._buf) - self._off < size:
            chunk = self.source.read(1 << 20)
            if not chunk:
                break
            self._buf = self._buf[self._off :] + chunk
            self._off = 0
        return self._buf[self._off : self._off + size]

    def at_end(self) -> bool:
        return self.peek() is None

    def header(self, expect: int | None = None) -> Header:
        first = self.exact(1)
        tag = first[0]
        if tag & 0x1F == 0x1F:
            raise MalformedInputError("multi-byte BER tags are not used by CMS")
        if expect is not None and tag != expect:
            raise MalformedInputError(f"expected BER tag {expect:#04x}, found {tag:#04x}")
        length_byte = self.exact(1)
        raw = first + length_byte
        n = length_byte[0]
        length: int | None
        if n == 0x80:
            if not tag & 0x20:
                raise MalformedInputError("indefinite length on a primitive value")
            length = None
        elif n < 0x80:
            length = n
        else:
            count = n & 0x7F
            if count > 8:
                raise MalformedInputError("BER length too long")
            octets = self.exact(count)
            raw += octets
            length = int.from_bytes(octets, "big")
        return Header(tag, length, raw, None if length is None else self.pos + length)

    def close(self, header: Header) -> None:
        """Consume the end of a constructed value: EOC if indefinite, else check the length."""
        if header.length is None:
            if self.exact(2) != EOC:
                raise MalformedInputError("missing end-of-contents")
        elif self.pos != header.end:
            raise MalformedInputError("a BER value does not end where its length says")

    def at_close(self, header: Header) -> bool:
        """Whether the next thing is the end of ``header``'s value."""
        if header.length is None:
            return self.peek() == 0
        return self.pos == header.end

    def element(self, expect: int | None = None, limit: int = MAX_ELEMENT, depth: int = 0) -> bytes:
        """One whole element (header and value) as raw BER, bounded by ``limit``."""
        if depth > MAX_DEPTH:
            raise MalformedInputError("BER nesting too deep")
        header = self.header(expect)
        if header.length is not None:
            if header.length > limit:
                raise InputTooLargeError(f"a BER element is larger than {limit >> 20} MiB")
            return header.raw + self.exact(header.length)
        parts = [header.raw]
        size = 0
        while self.peek() != 0:
            child = self.element(None, limit - size, depth + 1)
            size += len(child)
            parts.append(child)
        self.close(header)
        parts.append(EOC)
        return b"".join(parts)

    def octet_chunks(self, header: Header, depth: int = 0) -> Iterator[bytes]:
        """The content of an OCTET STRING-like value, primitive or chunked, as pieces."""
        if not header.constructed:
            assert header.length is not None
            remaining = header.length
            while remaining:
                data = self.read(min(remaining, 1 << 20))
                if not data:
                    raise TruncatedError("the input is truncated")
                remaining -= len(data)
                yield data
            return
        if depth > 4:
            raise MalformedInputError("chunked OCTET STRING nested too deep")
        while not self.at_close(header):
            child = self.header()
            if child.tag not in (0x04, 0x24):
                raise MalformedInputError("a chunked OCTET STRING holds a non-OCTET STRING")
            yield from self.octet_chunks(child, depth + 1)
        self.close(header)


class ChunkSource:
    """A byte source over an iterator of chunks (decrypted plaintext, for the inner reader)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""
        self._off = 0

    def read(self, size: int = -1, /) -> bytes:
        while self._off >= len(self._buf):
            try:
                self._buf = next(self._chunks)
            except StopIteration:
                return b""
            self._off = 0
        end = len(self._buf) if size < 0 else self._off + size
        data = self._buf[self._off : end]
        self._off += len(data)
        return data


# --- writing -----------------------------------------------------------------------------


def length_octets(length: int | None) -> bytes:
    """BER length: short, long, or 0x80 for indefinite."""
    if length is None:
        return b"\x80"
    if length < 0x80:
        return bytes([length])
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + length_octets(len(value)) + value


def open_indefinite(tag: int) -> bytes:
    return bytes([tag, 0x80])


Sink = Callable[[bytes], object]


class BerFraming:
    """Writes as it goes: indefinite lengths and chunked strings (``openssl -stream``)."""

    def __init__(self, write: Sink) -> None:
        self._write = write

    def open(self, tag: int) -> None:
        """Start a constructed value."""
        self._write(open_indefinite(tag))

    def close(self) -> None:
        self._write(EOC)

    def raw(self, encoded: bytes) -> None:
        """A whole element, already encoded (asn1crypto's DER)."""
        self._write(encoded)

    def open_string(self, tag: int) -> None:
        """Start an OCTET STRING-like value (``tag`` is its primitive form) given in pieces."""
        self._write(open_indefinite(tag | 0x20))

    def piece(self, data: bytes) -> None:
        if data:
            self._write(b"\x04" + length_octets(len(data)))
            self._write(data)  # no copy of large pieces

    def close_string(self) -> None:
        self._write(EOC)


class DerFraming(BerFraming):
    """The same calls, written as DER: each value is held until it closes (in memory)."""

    def __init__(self, write: Sink) -> None:
        super().__init__(write)
        self._stack: list[tuple[int, list[bytes]]] = []

    def _add(self, encoded: bytes) -> None:
        if self._stack:
            self._stack[-1][1].append(encoded)
        else:
            self._write(encoded)

    def open(self, tag: int) -> None:
        self._stack.append((tag, []))

    def close(self) -> None:
        tag, parts = self._stack.pop()
        self._add(tlv(tag, b"".join(parts)))

    def raw(self, encoded: bytes) -> None:
        self._add(encoded)

    def open_string(self, tag: int) -> None:
        self.open(tag)

    def piece(self, data: bytes) -> None:
        self._stack[-1][1].append(data)

    def close_string(self) -> None:
        self.close()
