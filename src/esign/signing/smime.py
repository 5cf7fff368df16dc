"""S/MIME 4.0 signed messages (RFC 8551): multipart/signed and application/pkcs7-mime.

Writing: the signed MIME entity is canonicalised (CRLF line ends, RFC 8551 §3.1.1) before
it is signed, and is sent exactly as signed. Reading: the first part of a multipart/signed
is cut out of the raw bytes by its boundary (never re-serialised by a MIME library, which
would change the bytes under the signature), after the same canonicalisation; headers and
the signature part are parsed with the standard library's ``email`` package.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from asn1crypto import cms
from cryptography import x509

from esign.errors import MalformedInputError
from esign.signing.container import MAX_CMS_BYTES, PARSE_ERRORS

if TYPE_CHECKING:  # pyHanko's TSA client (and aiohttp) only when a timestamper is used
    from email.message import Message

    from pyhanko.sign.timestamps import TimeStamper

    from esign.signing.sign import Signer  # the mail parser and the signer: where used

MAX_HEADER_BYTES = 64 << 10
SIGNATURE_TYPES = ("application/pkcs7-signature", "application/x-pkcs7-signature")
MIME_TYPES = ("application/pkcs7-mime", "application/x-pkcs7-mime")
_MICALG = {"sha256": "sha-256", "sha384": "sha-384", "sha512": "sha-512", "sha1": "sha-1"}
# Streebog (by OID: asn1crypto has no name for it), as openssl's GOST engine writes it.
_MICALG.update(
    {"1.2.643.7.1.1.2.2": "gostr3411-2012-256", "1.2.643.7.1.1.2.3": "gostr3411-2012-512"}
)
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_NOT_MIME: tuple[type[Exception], ...] = (MalformedInputError, *PARSE_ERRORS)
#: what the stdlib MIME parser raises on undecodable parameters (RFC 2231 charsets)
_UNREADABLE: tuple[type[Exception], ...] = (*PARSE_ERRORS, LookupError)


@dataclass
class SmimeMessage:
    """A signed S/MIME message: the CMS signature and, for multipart/signed, the signed
    MIME entity (``content``, canonical bytes); ``content`` is None when encapsulated."""

    signature: bytes
    content: bytes | None
    kind: str  # "multipart/signed" or "application/pkcs7-mime"


def canonicalize(data: bytes) -> bytes:
    """CRLF line ends everywhere (RFC 8551 §3.1.1): bare LF or CR become CRLF."""
    return re.sub(rb"\r\n|\r|\n", b"\r\n", data)


def _as_entity(data: bytes) -> bytes:
    """``data`` as a MIME entity: kept if it starts with a Content-Type header, else text."""
    head = data[:MAX_HEADER_BYTES].lower()
    if head.startswith(b"content-type:") or b"\ncontent-type:" in head.split(b"\n\n", 1)[0]:
        return canonicalize(data)
    return b"Content-Type: text/plain\r\n\r\n" + canonicalize(data)


def _b64_lines(der: bytes) -> bytes:
    body = base64.b64encode(der)
    return b"\r\n".join(body[i : i + 64] for i in range(0, len(body), 64)) + b"\r\n"


def _digest_name(der: bytes) -> str:
    info = cms.ContentInfo.load(der)
    return str(info["content"]["signer_infos"][0]["digest_algorithm"]["algorithm"].native)


def write_smime(
    data: bytes,
    *,
    signer: Signer,
    chain: Sequence[x509.Certificate] = (),
    detached: bool = True,
    timestamper: TimeStamper | None = None,
) -> bytes:
    """Sign ``data`` (a MIME entity, or plain text) as an S/MIME message.

    ``detached`` gives multipart/signed (readable by any mail client), otherwise
    application/pkcs7-mime; smime-type=signed-data.
    """
    entity = _as_entity(data)
    from esign.signing.sign import sign

    der = sign(entity, signer=signer, chain=chain, detached=detached, timestamper=timestamper)
    if not detached:
        return (
            b"MIME-Version: 1.0\r\n"
            b'Content-Disposition: attachment; filename="smime.p7m"\r\n'
            b'Content-Type: application/pkcs7-mime; smime-type=signed-data; name="smime.p7m"\r\n'
            b"Content-Transfer-Encoding: base64\r\n\r\n" + _b64_lines(der)
        )
    boundary = b"----esign-" + secrets.token_hex(16).encode()
    micalg = _MICALG.get(_digest_name(der), "sha-256").encode()
    return b"".join(
        [
            b"MIME-Version: 1.0\r\n",
            b'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; ',
            b'micalg="' + micalg + b'"; boundary="' + boundary + b'"\r\n\r\n',
            b"This is an S/MIME signed message\r\n\r\n",
            b"--" + boundary + b"\r\n",
            entity,
            b"\r\n--" + boundary + b"\r\n",
            b'Content-Type: application/pkcs7-signature; name="smime.p7s"\r\n',
            b"Content-Transfer-Encoding: base64\r\n",
            b'Content-Disposition: attachment; filename="smime.p7s"\r\n\r\n',
            _b64_lines(der),
            b"\r\n--" + boundary + b"--\r\n",
        ]
    )


def _headers(data: bytes) -> Message:
    match = _HEADER_END.search(data[:MAX_HEADER_BYTES])
    if match is None:
        raise MalformedInputError("not a MIME message: no end of headers")
    import email
    import email.policy

    return email.message_from_bytes(data[: match.end()], policy=email.policy.compat32)


_TRANSFER_ENCODINGS = ("base64", "binary", "7bit", "8bit")


def _header(headers: Message, name: str, default: str) -> str:
    """A header as text: compat32 gives an ``email.header.Header`` for non-ASCII bytes."""
    value = headers.get(name)
    return default if value is None else str(value)


def _transfer_encoding(headers: Message) -> str:
    encoding = _header(headers, "Content-Transfer-Encoding", "base64").strip().lower()
    if encoding not in _TRANSFER_ENCODINGS:
        raise MalformedInputError(
            f"unknown Content-Transfer-Encoding {encoding[:40]!r}: expected base64 or binary"
        )
    return encoding


def _protocol(headers: Message) -> str:
    """The multipart/signed ``protocol`` parameter, also in its RFC 2231 form."""
    value = headers.get_param("protocol")
    if value is None:
        return ""
    import email.utils

    return str(email.utils.collapse_rfc2231_value(value)).lower()


def is_smime(data: bytes) -> bool:
    """Whether ``data`` looks like a signed S/MIME message (not DER or PEM CMS)."""
    if data[:1] == b"\x30" or data.lstrip().startswith(b"-----BEGIN"):
        return False
    try:
        kind = _headers(data).get_content_type()
    except _NOT_MIME:
        return False
    return kind == "multipart/signed" or kind in MIME_TYPES


def _decode_base64(payload: bytes) -> bytes:
    try:
        return base64.b64decode(b"".join(payload.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedInputError("the S/MIME signature is not valid base64") from exc


def read_smime(data: bytes) -> SmimeMessage:
    """Split a signed S/MIME message into its CMS signature and signed entity."""
    try:
        return _read_smime(data)
    except _UNREADABLE as exc:
        # the stdlib parser decodes RFC 2231 parameters (boundary*=, protocol*=) with
        # str(); a NUL byte or an unknown charset there raises, as it should, here
        raise MalformedInputError(f"not a readable MIME message: {exc}") from exc


def _read_smime(data: bytes) -> SmimeMessage:
    if len(data) > MAX_CMS_BYTES:
        raise MalformedInputError(f"S/MIME message larger than {MAX_CMS_BYTES >> 20} MiB")
    data = canonicalize(data)
    headers = _headers(data)
    kind = headers.get_content_type()
    body = data[_HEADER_END.search(data[:MAX_HEADER_BYTES]).end() :]  # type: ignore[union-attr]
    if kind in MIME_TYPES:
        der = _decode_base64(body) if _transfer_encoding(headers) == "base64" else body
        return SmimeMessage(der, None, "application/pkcs7-mime")
    if kind != "multipart/signed":
        raise MalformedInputError(f"not a signed S/MIME message: {kind}")
    protocol = _protocol(headers)
    if protocol not in SIGNATURE_TYPES:
        raise MalformedInputError(f"multipart/signed with unknown protocol {protocol!r}")
    boundary = headers.get_boundary()
    if not boundary or len(boundary) > 70:
        raise MalformedInputError("multipart/signed without a valid boundary")
    delimiter = b"--" + boundary.encode("ascii", "replace")
    # Parts are delimited by CRLF--boundary; the first delimiter may open the body.
    start = body.find(delimiter + b"\r\n")
    if start < 0 or (start > 0 and body[start - 2 : start] != b"\r\n"):
        raise MalformedInputError("multipart/signed: first boundary not found")
    first = start + len(delimiter) + 2
    second = body.find(b"\r\n" + delimiter + b"\r\n", first)
    if second < 0:
        raise MalformedInputError("multipart/signed: second part not found")
    content = body[first:second]
    rest = body[second + 2 + len(delimiter) + 2 :]
    close = rest.find(b"\r\n" + delimiter + b"--")
    if close < 0:
        raise MalformedInputError("multipart/signed: closing boundary not found")
    part = rest[:close]
    part_headers = _headers(part + b"\r\n\r\n")
    if part_headers.get_content_type() not in SIGNATURE_TYPES:
        raise MalformedInputError("multipart/signed: the second part is not a signature")
    end_of_headers = _HEADER_END.search(part)
    part_body = part[end_of_headers.end() :] if end_of_headers else b""
    der = _decode_base64(part_body) if _transfer_encoding(part_headers) == "base64" else part_body
    return SmimeMessage(der, content, "multipart/signed")
