"""Refusals a person can act on: what the bytes look like, instead of parser internals.

Parsers report "Insufficient data - 65535 bytes requested" or "ParseError { kind:
ShortData }"; the person holding the file needs "the file is truncated" or "it is PEM
holding a CERTIFICATE, not a CMS signature". :func:`explain` looks only at the first bytes
(no parsing beyond one DER header), so it is cheap and cannot itself fail.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_TAG_NAMES = {
    0x01: "a BOOLEAN",
    0x02: "an INTEGER",
    0x03: "a BIT STRING",
    0x04: "an OCTET STRING",
    0x05: "a NULL",
    0x06: "an OBJECT IDENTIFIER",
    0x0C: "a UTF8String",
    0x13: "a PrintableString",
    0x30: "a SEQUENCE",
    0x31: "a SET",
}

_PEM_LABEL = re.compile(rb"-----BEGIN ([A-Z0-9 #]{1,40})-----")


def _tag_name(tag: int) -> str:
    return _TAG_NAMES.get(tag, "not an ASN.1 SEQUENCE")


def _size(count: int) -> str:
    return f"{count} bytes" if count < 10**12 else "more than 10^12 bytes"


def _header(data: bytes) -> tuple[int, int | None] | None:
    """(header length, content length or None for indefinite) of the first DER value."""
    if len(data) < 2:
        return None
    first = data[1]
    if first < 0x80:
        return 2, first
    if first == 0x80:
        return 2, None
    count = first & 0x7F
    if len(data) < 2 + count:
        return None
    return 2 + count, int.from_bytes(data[2 : 2 + count], "big")


def _looks_like_text(data: bytes) -> bool:
    sample = data[:64]
    printable = all(b in b"\t\r\n" or 0x20 <= b < 0x7F for b in sample)
    return printable and len(sample) >= 4 and any(chr(b).isalpha() for b in sample)


def describe(
    data: bytes, *, pem_labels: tuple[str, ...] = (), der_only: bool = False
) -> str | None:
    """What is wrong with ``data`` as seen from its first bytes, in words (None: the outer
    DER header is sound, the fault is inside)."""
    if not data:
        return "the input is empty"
    stripped = data.lstrip()
    label = _PEM_LABEL.match(stripped[:64])
    if label is not None:
        found = label.group(1).decode("ascii")
        if pem_labels and found not in pem_labels:
            return f"it is PEM holding a {found} block, not {' or '.join(pem_labels)}"
        return f"its PEM {found} block is damaged (bad base64 or content)"
    if _looks_like_text(data):
        snippet = data[:24].decode("ascii").splitlines()[0] if data[:24].strip() else ""
        return f"the input is text ({snippet!r}...), not DER, and has no PEM header"
    if data[0] != 0x30:
        return (
            f"the input starts with byte 0x{data[0]:02x} ({_tag_name(data[0])}) where DER "
            "starts with 0x30 (a SEQUENCE)"
        )
    header = _header(data)
    if header is None:
        return f"it is truncated: only {len(data)} bytes"
    offset, length = header
    if length is None:
        if der_only:
            return "its outer SEQUENCE has an indefinite length (BER), which DER forbids"
        return None
    body = len(data) - offset
    if length > body:
        return (
            f"it is truncated or its length is forged: the outer SEQUENCE claims "
            f"{_size(length)}, {body} are present"
        )
    if length < body:
        return f"{body - length} bytes follow the end of its outer SEQUENCE"
    return None


def explain(
    data: bytes,
    what: str,
    exc: BaseException | None = None,
    *,
    advice: str = "",
    pem_labels: tuple[str, ...] = (),
    der_only: bool = False,
) -> str:
    """One line: ``not a {what}: {what is wrong}[; {advice}]``."""
    reason = describe(data, pem_labels=pem_labels, der_only=der_only)
    if reason is None:
        reason = humanize(exc) if exc is not None else "a field inside it is damaged"
    line = f"not a {what}: {reason}"
    return f"{line}; {advice}" if advice else line


_INTERNALS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (re.compile(r"Insufficient data - (\d+) bytes requested but only (\d+) available"),
     lambda m: f"a field claims {_size(int(m[1]))} but only {m[2]} remain (truncated or "
     "forged length)"),
    (re.compile(r"tag should have been (\d+), but (\d+) was found"),
     lambda m: f"a field has ASN.1 tag {m[2]} where tag {m[1]} belongs"),
    (re.compile(r"ShortData"), lambda m: "it is truncated (a field runs past the end)"),
    (re.compile(r"UnexpectedTag|expected BER tag|wrong tag", re.I),
     lambda m: "a field has the wrong ASN.1 tag"),
    (re.compile(r"ExtraData|extra data|trailing", re.I),
     lambda m: "bytes follow the end of the structure"),
    (re.compile(r"InvalidLength|indefinite", re.I),
     lambda m: "a length is invalid (DER needs definite, minimal lengths)"),
)  # fmt: skip


def humanize(exc: BaseException) -> str:
    """A parser exception in words: the known internals mapped, anything else generic."""
    text = str(exc)
    for pattern, words in _INTERNALS:
        match = pattern.search(text)
        if match is not None:
            return words(match)
    if isinstance(exc, RecursionError):
        return "it is nested too deeply"
    if isinstance(exc, (TypeError, AttributeError, KeyError, IndexError)):
        return "a field is missing or of another type"
    if len(text) > 120 or "{" in text or "asn1crypto" in text:
        return "a field inside it is damaged"
    return text
