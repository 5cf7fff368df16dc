"""A small, strict DER reader that splits a CMS SignedData into what verification needs.

Why: building asn1crypto object trees for every SignerInfo cost about two thirds of a
verification, many times the ECDSA check it wraps. This reader walks the bytes once and
hands out slices of the input (``memoryview``: no copies, no re-encoding) plus the few
signed-attribute values the checks read (message digest, content type, signing time,
ESS signing-certificate(-v2), CMS algorithm protection).

It is strict on purpose and knows only the ordinary shape of a signature: definite,
minimal lengths that stay inside their parent, no trailing bytes, low tag numbers,
primitive strings, known versions, one signer with issuer-and-serial, signed attributes
that are valid DER (RFC 5652 §5.4 signs their DER encoding), each known attribute once
with one value, no unsigned attributes, no embedded revocation data. Anything else raises
:class:`NotPlain`, and the caller hands the input to the asn1crypto reader, which stays
the reference for every unusual case (BER, counter-signatures, time-stamp tokens,
several signers, ...).
"""

from __future__ import annotations

import datetime
import itertools
from dataclasses import dataclass
from typing import TypeVar

from esign.limits import MAX_ASN1_DEPTH, MAX_ATTRIBUTES, MAX_CERTIFICATES

SIGNED_DATA = "1.2.840.113549.1.7.2"
_ID_DATA = "1.2.840.113549.1.7.1"
CONTENT_TYPE = "1.2.840.113549.1.9.3"
MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
SIGNING_TIME = "1.2.840.113549.1.9.5"
ALGORITHM_PROTECTION = "1.2.840.113549.1.9.52"
SIGNING_CERTIFICATE_V2 = "1.2.840.113549.1.9.16.2.47"
SIGNING_CERTIFICATE = "1.2.840.113549.1.9.16.2.12"
_KNOWN_ATTRIBUTES = frozenset(
    {
        CONTENT_TYPE,
        MESSAGE_DIGEST,
        SIGNING_TIME,
        ALGORITHM_PROTECTION,
        SIGNING_CERTIFICATE_V2,
        SIGNING_CERTIFICATE,
    }
)

_SEQUENCE, _SET, _INTEGER, _OCTET_STRING, _OID, _NULL = 0x30, 0x31, 0x02, 0x04, 0x06, 0x05
_BOOLEAN, _BIT_STRING, _UTC_TIME, _GENERALIZED_TIME = 0x01, 0x03, 0x17, 0x18
_DIGITS = frozenset(b"0123456789")
_UTC = datetime.timezone.utc
#: Bound on the reader's caches (decoded OIDs, attributes already checked).
MAX_CACHED = 4096


_T = TypeVar("_T")


def lookup(cache: dict[bytes, _T], view: memoryview) -> _T | None:
    """``cache[view]`` without copying: a read-only memoryview of bytes hashes and compares
    as the bytes it shows."""
    return cache.get(view)  # type: ignore[call-overload, no-any-return]


class NotPlain(Exception):
    """The input is not the plain DER shape this reader knows: use the reference reader."""


Tlv = tuple[int, int, int, int]  # (tag, start of the element, start and end of the value)


def tlv(buf: memoryview, pos: int, end: int) -> Tlv:
    """The tag, start, value start and value end of the DER element at ``pos``."""
    head = pos
    if pos + 2 > end:
        raise NotPlain("truncated element")
    tag = buf[pos]
    if tag & 0x1F == 0x1F:
        raise NotPlain("high tag number")
    first = buf[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > end:
            raise NotPlain("indefinite or oversized length")
        length = int.from_bytes(buf[pos : pos + count], "big")
        if length < 0x80 or buf[pos] == 0:
            raise NotPlain("length not in its shortest form")
        pos += count
    if pos + length > end:
        raise NotPlain("length beyond its container")
    return tag, head, pos, pos + length


def children(buf: memoryview, start: int, end: int) -> list[Tlv]:
    """The elements inside ``buf[start:end]``, which they must fill exactly."""
    found = []
    pos = start
    while pos < end:
        element = tlv(buf, pos, end)
        found.append(element)
        pos = element[3]
    return found


def expect(element: Tlv, tag: int) -> Tlv:
    if element[0] != tag:
        raise NotPlain(f"expected tag {tag:#x}, found {element[0]:#x}")
    return element


#: OID content octets already decoded (a signature repeats the same dozen OIDs).
_OIDS: dict[bytes, str] = {}


def oid(buf: memoryview, element: Tlv) -> str:
    """An OBJECT IDENTIFIER in dotted form, each sub-identifier in its shortest form."""
    tag, _, start, end = element
    if tag != _OID:
        raise NotPlain("not an OBJECT IDENTIFIER")
    raw = buf[start:end]
    hit = lookup(_OIDS, raw)
    if hit is None:
        hit = _decode_oid(raw)
        if len(_OIDS) >= MAX_CACHED:
            _OIDS.clear()
        _OIDS[raw.tobytes()] = hit
    return hit


def _decode_oid(raw: memoryview) -> str:
    if not raw or raw[-1] & 0x80:
        raise NotPlain("malformed OBJECT IDENTIFIER")
    arcs: list[int] = []
    value = 0
    fresh = True
    for byte in raw:
        if fresh and byte == 0x80:
            raise NotPlain("OBJECT IDENTIFIER sub-identifier not in its shortest form")
        value = (value << 7) | (byte & 0x7F)
        fresh = not byte & 0x80
        if fresh:
            arcs.append(value)
            value = 0
    first = arcs[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(map(str, head + arcs[1:]))


def integer(buf: memoryview, element: Tlv) -> int:
    """An INTEGER in its shortest two's-complement form."""
    tag, _, start, end = element
    if tag != _INTEGER or start == end:
        raise NotPlain("malformed INTEGER")
    if end - start > 1 and (buf[start], buf[start + 1] >> 7) in ((0, 0), (0xFF, 1)):
        raise NotPlain("INTEGER not in its shortest form")
    return int.from_bytes(buf[start:end], "big", signed=True)


def time(buf: memoryview, element: Tlv) -> datetime.datetime:
    """A UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ) in DER's one form."""
    tag, _, start, end = element
    text = bytes(buf[start:end])
    if text[-1:] != b"Z" or not _DIGITS.issuperset(text[:-1]):
        raise NotPlain("not a DER time")
    if tag == _UTC_TIME and len(text) == 13:
        year = int(text[:2])
        year += 2000 if year < 50 else 1900
        rest = text[2:12]
    elif tag == _GENERALIZED_TIME and len(text) == 15:
        year = int(text[:4])
        rest = text[4:14]
    else:
        raise NotPlain("not a DER time")
    try:
        return datetime.datetime(
            year, int(rest[0:2]), int(rest[2:4]), int(rest[4:6]), int(rest[6:8]),
            int(rest[8:10]), tzinfo=_UTC,
        )  # fmt: skip
    except ValueError as exc:
        raise NotPlain("impossible date") from exc


def check_der(buf: memoryview, start: int, end: int, depth: int = 0) -> None:
    """Raise :class:`NotPlain` unless ``buf[start:end]`` is a series of DER elements.

    Lengths (checked by :func:`tlv`), primitive strings, shortest INTEGERs and OIDs,
    BOOLEAN and NULL values, BIT STRING padding, and SET OF members in ascending order.
    Stricter than DER in one corner (a SET OF whose members differ only by trailing
    zero bytes), which only sends such input to the reference reader.
    """
    if depth > MAX_ASN1_DEPTH:
        raise NotPlain("nested too deep")
    for element in children(buf, start, end):
        tag, _, vstart, vend = element
        if tag & 0x20:  # constructed
            if tag & 0xC0 == 0 and tag & 0x1F not in (0x10, 0x11):
                raise NotPlain("a constructed universal string")
            if tag == _SET:
                in_der_order(buf, children(buf, vstart, vend))
            check_der(buf, vstart, vend, depth + 1)
        elif tag in (0x10, 0x11):
            raise NotPlain("a primitive SEQUENCE or SET")
        elif tag == _INTEGER:
            integer(buf, element)
        elif tag == _OID:
            oid(buf, element)
        elif tag == _BOOLEAN:
            if vend - vstart != 1 or buf[vstart] not in (0, 0xFF):
                raise NotPlain("a BOOLEAN that is not DER")
        elif tag == _NULL:
            if vend != vstart:
                raise NotPlain("a NULL with content")
        elif tag == _BIT_STRING:
            if vend == vstart or buf[vstart] > 7 or (vend - vstart == 1 and buf[vstart]):
                raise NotPlain("a malformed BIT STRING")
            if buf[vstart] and buf[vend - 1] & ((1 << buf[vstart]) - 1):
                raise NotPlain("a BIT STRING with non-zero padding")
        elif tag in (_UTC_TIME, _GENERALIZED_TIME):
            time(buf, element)


@dataclass(frozen=True, slots=True)
class EssCertId:
    """The first ESSCertID(v2) of a signing-certificate attribute."""

    hash_algorithm: str  # dotted OID (SHA-1 for the v1 attribute)
    cert_hash: bytes
    #: The [4] directoryName contents of the issuer GeneralNames, and the serial (if any).
    issuer_names: tuple[bytes, ...] | None
    serial: int | None


@dataclass(frozen=True, slots=True)
class SignerParts:
    """One SignerInfo, as slices of the input and the values verification reads."""

    issuer: memoryview  # the sid's issuer Name, its whole DER
    serial: int
    digest_algorithm: memoryview  # AlgorithmIdentifier, whole DER
    digest_algorithm_value: memoryview  # ... its content octets
    digest_oid: str
    signed_attributes: memoryview  # the [0] IMPLICIT attributes, whole DER
    content_type: str
    message_digest: memoryview
    signing_time: datetime.datetime | None
    ess: EssCertId | None
    ess_v2: bool
    protection: tuple[bytes, bytes] | None  # digest, signature algorithm contents
    signature_algorithm: memoryview  # AlgorithmIdentifier, whole DER
    signature_algorithm_value: memoryview
    signature_oid: str
    signature: memoryview

    def signed_bytes(self) -> bytes:
        """What the signature covers: the attributes re-tagged as a SET OF (RFC 5652 §5.4)."""
        return b"\x31" + self.signed_attributes[1:].tobytes()


@dataclass(frozen=True, slots=True)
class SignedDataParts:
    """A SignedData with one signer, split into slices of the input."""

    digest_algorithms: memoryview  # the SET, whole DER
    content_type: str
    content: memoryview | None  # the encapsulated content octets (None: detached)
    certificates: tuple[memoryview, ...]  # each certificate's DER
    signer: SignerParts


def in_der_order(buf: memoryview, members: list[Tlv]) -> None:
    """Raise :class:`NotPlain` unless SET OF ``members`` are in ascending DER order."""
    encodings = [buf[m[1] : m[3]].tobytes() for m in members]
    for left, right in itertools.pairwise(encodings):
        if left > right:
            raise NotPlain("SET OF members out of DER order")


def _whole(buf: memoryview, element: Tlv) -> memoryview:
    return buf[element[1] : element[3]]


def _inside(buf: memoryview, element: Tlv, tag: int) -> list[Tlv]:
    """The members of ``element``, which must carry ``tag``."""
    return children(buf, *expect(element, tag)[2:])


def split_signed_data(der: bytes) -> SignedDataParts:
    """Split a DER ContentInfo holding a plain SignedData, or raise :class:`NotPlain`."""
    buf = memoryview(der)
    top = expect(tlv(buf, 0, len(buf)), _SEQUENCE)
    if top[3] != len(buf):
        raise NotPlain("trailing bytes")
    info = children(buf, top[2], top[3])
    if len(info) != 2 or oid(buf, info[0]) != SIGNED_DATA:
        raise NotPlain("not a SignedData")
    wrapper = expect(info[1], 0xA0)
    inner = children(buf, wrapper[2], wrapper[3])
    if len(inner) != 1:
        raise NotPlain("content [0] holds more than one element")
    fields = _inside(buf, inner[0], _SEQUENCE)
    if len(fields) < 4:
        raise NotPlain("malformed SignedData")
    version = integer(buf, fields[0])
    digest_algorithms = expect(fields[1], _SET)
    for algorithm in children(buf, digest_algorithms[2], digest_algorithms[3]):
        expect(algorithm, _SEQUENCE)
    encap = _inside(buf, fields[2], _SEQUENCE)
    if not 1 <= len(encap) <= 2:
        raise NotPlain("malformed encapContentInfo")
    content_type = oid(buf, encap[0])
    content = None
    if len(encap) == 2:
        explicit = expect(encap[1], 0xA0)
        octets = children(buf, explicit[2], explicit[3])
        if len(octets) != 1:
            raise NotPlain("eContent [0] holds more than one element")
        _, _, start, end = expect(octets[0], _OCTET_STRING)
        content = buf[start:end]
    # RFC 5652 §5.1 derives the version from the structure: 1 for id-data with
    # issuerAndSerialNumber signers (the only sid taken here), 3 for other content; an
    # altered version goes to the reference verifier, which refuses it by name
    if version != (1 if content_type == _ID_DATA else 3):
        raise NotPlain("an unusual SignedData version")
    rest = fields[3:]
    certificates: tuple[memoryview, ...] = ()
    if rest and rest[0][0] == 0xA0:
        members = children(buf, rest[0][2], rest[0][3])
        if len(members) > MAX_CERTIFICATES:
            raise NotPlain("too many certificates")
        # only X.509 certificates; attribute and other certificate choices go the long way
        certificates = tuple(_whole(buf, expect(m, _SEQUENCE)) for m in members)
        rest = rest[1:]
    if len(rest) != 1:  # crls [1] present, or fields after signerInfos
        raise NotPlain("embedded revocation data or extra fields")
    signers = _inside(buf, rest[0], _SET)
    if len(signers) != 1:
        raise NotPlain("not exactly one signer")
    return SignedDataParts(
        digest_algorithms=_whole(buf, digest_algorithms),
        content_type=content_type,
        content=content,
        certificates=certificates,
        signer=_split_signer(buf, expect(signers[0], _SEQUENCE)),
    )


def _algorithm(buf: memoryview, element: Tlv) -> tuple[memoryview, memoryview, str]:
    parts = _inside(buf, element, _SEQUENCE)
    if not 1 <= len(parts) <= 2:
        raise NotPlain("malformed AlgorithmIdentifier")
    return _whole(buf, element), buf[element[2] : element[3]], oid(buf, parts[0])


def _split_signer(buf: memoryview, element: Tlv) -> SignerParts:
    fields = children(buf, element[2], element[3])
    # version 1, issuerAndSerialNumber, digest, [0] signed attributes, signature
    # algorithm, signature: nothing more (no unsigned attributes), nothing less
    if len(fields) != 6 or integer(buf, fields[0]) != 1:
        raise NotPlain("an unusual SignerInfo")
    sid = _inside(buf, fields[1], _SEQUENCE)
    if len(sid) != 2:
        raise NotPlain("malformed issuerAndSerialNumber")
    issuer = _whole(buf, expect(sid[0], _SEQUENCE))
    serial = integer(buf, sid[1])
    digest_whole, digest_value, digest_oid = _algorithm(buf, fields[2])
    attrs = expect(fields[3], 0xA0)
    members = children(buf, attrs[2], attrs[3])
    if len(members) > MAX_ATTRIBUTES:
        raise NotPlain("too many signed attributes")
    in_der_order(buf, members)  # a SET OF, tagged [0] IMPLICIT
    meaning: dict[str, object] = {}
    for member in members:
        kind, value = _attribute(buf, member)
        if kind in meaning:
            raise NotPlain("a repeated attribute")
        meaning[kind] = value
    content_type = meaning.get(CONTENT_TYPE)
    message_digest = meaning.get(MESSAGE_DIGEST)
    if not isinstance(content_type, str) or not isinstance(message_digest, memoryview):
        raise NotPlain("no content-type or message-digest attribute")
    signing_time = meaning.get(SIGNING_TIME)
    assert signing_time is None or isinstance(signing_time, datetime.datetime)
    if SIGNING_CERTIFICATE_V2 in meaning and SIGNING_CERTIFICATE in meaning:
        raise NotPlain("both ESS signing-certificate attributes")
    ess = meaning.get(SIGNING_CERTIFICATE_V2) or meaning.get(SIGNING_CERTIFICATE)
    assert ess is None or isinstance(ess, EssCertId)
    protection = meaning.get(ALGORITHM_PROTECTION)
    assert protection is None or isinstance(protection, tuple)
    signature_whole, signature_value, signature_oid = _algorithm(buf, fields[4])
    _, _, sig_start, sig_end = expect(fields[5], _OCTET_STRING)
    return SignerParts(
        issuer=issuer,
        serial=serial,
        digest_algorithm=digest_whole,
        digest_algorithm_value=digest_value,
        digest_oid=digest_oid,
        signed_attributes=_whole(buf, attrs),
        content_type=content_type,
        message_digest=message_digest,
        signing_time=signing_time,
        ess=ess,
        ess_v2=SIGNING_CERTIFICATE_V2 in meaning,
        protection=protection,
        signature_algorithm=signature_whole,
        signature_algorithm_value=signature_value,
        signature_oid=signature_oid,
        signature=buf[sig_start:sig_end],
    )


#: Signed attributes that repeat from one signature to the next (content type, ESS,
#: algorithm protection, unknown ones), already checked and read: whole DER -> meaning.
_ATTRIBUTES: dict[bytes, tuple[str, object]] = {}


def _attribute(buf: memoryview, member: Tlv) -> tuple[str, object]:
    """The type of one signed Attribute and what it says (for the attributes verification
    reads), after checking it is DER; raises NotPlain for anything else."""
    whole = buf[member[1] : member[3]]
    hit = lookup(_ATTRIBUTES, whole)
    if hit is not None:
        return hit
    check_der(buf, member[1], member[3])
    pair = _inside(buf, member, _SEQUENCE)
    if len(pair) != 2:
        raise NotPlain("malformed Attribute")
    kind = oid(buf, pair[0])
    inside = _inside(buf, pair[1], _SET)
    value: object = None
    if kind in _KNOWN_ATTRIBUTES:
        if len(inside) != 1:
            raise NotPlain("a known attribute without exactly one value")
        element = inside[0]
        if kind == MESSAGE_DIGEST:
            _, _, start, end = expect(element, _OCTET_STRING)
            return kind, buf[start:end]
        if kind == SIGNING_TIME:
            return kind, time(buf, element)
        if kind == CONTENT_TYPE:
            value = oid(buf, element)
        elif kind == ALGORITHM_PROTECTION:
            parts = _inside(buf, element, _SEQUENCE)
            if len(parts) != 2 or parts[1][0] != 0xA1:
                raise NotPlain("CMS algorithm protection without exactly the two algorithms")
            expect(parts[0], _SEQUENCE)
            value = tuple(buf[p[2] : p[3]].tobytes() for p in parts)
        else:
            value = _ess(buf, element, v2=kind == SIGNING_CERTIFICATE_V2)
    if len(_ATTRIBUTES) >= MAX_CACHED:
        _ATTRIBUTES.clear()
    _ATTRIBUTES[whole.tobytes()] = (kind, value)
    return kind, value


_SHA1, _SHA256 = "1.3.14.3.2.26", "2.16.840.1.101.3.4.2.1"


def _ess(buf: memoryview, element: Tlv, *, v2: bool) -> EssCertId:
    """The first ESSCertID(v2) of SigningCertificate(V2) (RFC 2634, RFC 5035)."""
    outer = _inside(buf, element, _SEQUENCE)
    if not 1 <= len(outer) <= 2:
        raise NotPlain("malformed signing-certificate attribute")
    ids = _inside(buf, outer[0], _SEQUENCE)
    if not ids:
        raise NotPlain("a signing-certificate attribute naming no certificate")
    parts = _inside(buf, ids[0], _SEQUENCE)
    algorithm = _SHA256 if v2 else _SHA1
    if v2 and parts and parts[0][0] == _SEQUENCE:
        algorithm = _algorithm(buf, parts[0])[2]
        parts = parts[1:]
    if not 1 <= len(parts) <= 2:
        raise NotPlain("malformed ESSCertID")
    _, _, hash_start, hash_end = expect(parts[0], _OCTET_STRING)
    names: tuple[bytes, ...] | None = None
    serial = None
    if len(parts) == 2:
        issuer_serial = _inside(buf, parts[1], _SEQUENCE)
        if len(issuer_serial) != 2:
            raise NotPlain("malformed IssuerSerial")
        found = []
        for general in _inside(buf, issuer_serial[0], _SEQUENCE):
            if general[0] == 0xA4:  # directoryName [4], EXPLICIT around a Name
                name = children(buf, general[2], general[3])
                if len(name) != 1:
                    raise NotPlain("malformed directoryName")
                _, _, name_start, name_end = expect(name[0], _SEQUENCE)
                found.append(buf[name_start:name_end].tobytes())
        names = tuple(found)
        serial = integer(buf, issuer_serial[1])
    return EssCertId(algorithm, buf[hash_start:hash_end].tobytes(), names, serial)
