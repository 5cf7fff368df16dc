"""Reading CMS containers: DER or PEM in, a fully checked asn1crypto structure out.

asn1crypto parses lazily, so a malformed field can surface deep inside later code. Here
the input is bounded, loaded strictly (no trailing bytes) and walked once, so every
structural fault becomes a :class:`MalformedInputError` at the door.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from asn1crypto import cms, core

from esign.diagnose import explain, humanize
from esign.errors import PARSE_ERRORS as PARSE_ERRORS
from esign.errors import InputTooLargeError, MalformedInputError
from esign.limits import MAX_ASN1_DEPTH as MAX_DEPTH
from esign.limits import MAX_ATTRIBUTES, MAX_CERTIFICATES, MAX_SIGNERS
from esign.limits import MAX_CMS_BYTES as MAX_CMS_BYTES

_PEM = re.compile(rb"-----BEGIN (CMS|PKCS7|PKCS #7 SIGNED DATA)-----(.*?)-----END \1-----", re.S)


def unarmor(data: bytes) -> bytes:
    """Strip PEM armour (``CMS``/``PKCS7``) if present; DER passes through."""
    if len(data) > MAX_CMS_BYTES:
        raise InputTooLargeError(f"CMS input larger than {MAX_CMS_BYTES >> 20} MiB")
    stripped = data.lstrip()
    if not stripped.startswith(b"-----BEGIN"):
        return data
    match = _PEM.search(stripped)
    if match is None:
        raise MalformedInputError(explain(stripped, "CMS signature", advice=CMS_ADVICE,
                                          pem_labels=("CMS", "PKCS7")))  # fmt: skip
    try:
        return base64.b64decode(b"".join(match.group(2).split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedInputError("the PEM block is not valid base64") from exc


#: What to try when a file is not a CMS signature at all.
CMS_ADVICE = (
    "give the signature file itself (DER, PEM with a CMS or PKCS7 block, or S/MIME), "
    "not the signed document"
)


def _walk(value: Any, depth: int = 0) -> None:
    """Force asn1crypto to parse every nested field, so faults surface here.

    A structural walk rather than ``.native``: asn1crypto's ``.native`` on a SignerInfo that
    carries a time-stamp token re-encodes the tree many times over (0.3 s per signature);
    this walk visits each node once. Deep nesting ends in a RecursionError, which the
    caller turns into a MalformedInputError.
    """
    if depth > MAX_DEPTH:
        raise RecursionError("ASN.1 nesting too deep")
    if isinstance(value, core.Choice):
        _walk(value.chosen, depth + 1)
    elif isinstance(value, (core.SequenceOf, core.SetOf)):
        for child in value:
            _walk(child, depth + 1)
    elif isinstance(value, core.Sequence):
        for index in range(len(value._fields)):
            _walk(value[index], depth + 1)
    elif not isinstance(value, (core.Any, core.ParsableOctetString, core.Void)):
        value.native  # noqa: B018 - parsing a primitive is the side effect we want


def _walk_signer_info(signer_info: cms.SignerInfo) -> None:
    """Every field of a SignerInfo, except the values of its signed attributes.

    Those are covered by the signature and read by the integrity check, which turns a
    malformed one into a named finding; walking them here would cost more than the
    signature check itself. Their types are read, so the structure is still checked.
    """
    for index, (name, *_rest) in enumerate(signer_info._fields):
        if name != "signed_attrs":
            _walk(signer_info[index])
            continue
        attrs = signer_info[index]
        if isinstance(attrs, core.Void):
            continue
        for attribute in attrs:
            attribute["type"].dotted  # noqa: B018
            len(attribute["values"])


def _check_attribute_counts(signer_info: cms.SignerInfo) -> None:
    """Refuse a SignerInfo with more attributes than any profile uses, before walking them."""
    for field in ("signed_attrs", "unsigned_attrs"):
        attributes = signer_info[field]
        if not isinstance(attributes, core.Void) and len(attributes) > MAX_ATTRIBUTES:
            raise InputTooLargeError(
                f"a signer has more than {MAX_ATTRIBUTES} {field.replace('_attrs', '')} "
                "attributes (esign.limits.MAX_ATTRIBUTES)"
            )


def required_version(signed: cms.SignedData) -> int:
    """The SignedData version RFC 5652 §5.1 derives from the structure (writers set it)."""
    certificates, crls = signed["certificates"], signed["crls"]
    kinds = set() if isinstance(certificates, core.Void) else {c.name for c in certificates}
    crl_kinds = set() if isinstance(crls, core.Void) else {c.name for c in crls}
    if "other" in kinds or "other" in crl_kinds:
        expected = 5
    elif "v2_attr_cert" in kinds:
        expected = 4
    elif (
        "v1_attr_cert" in kinds
        or any(si["version"].native == "v3" for si in signed["signer_infos"])
        or signed["encap_content_info"]["content_type"].native != "data"
    ):
        expected = 3
    else:
        expected = 1
    return expected


def _check_version(signed: cms.SignedData) -> None:
    """The versions must be the ones RFC 5652 §5.1 and §5.3 derive from the structure.

    It is not covered by any signature, so a verifier that let it vary would accept a
    changed file as the signer's: a signature is refused for any byte that differs.
    """
    expected = required_version(signed)
    for signer_info in signed["signer_infos"]:  # RFC 5652 §5.3: 1 by issuer+serial, 3 by key id
        sid_version = 1 if signer_info["sid"].name == "issuer_and_serial_number" else 3
        if int(signer_info["version"]) != sid_version:
            raise MalformedInputError(
                f"a SignerInfo says version {int(signer_info['version'])} where its signer "
                f"identifier requires {sid_version} (RFC 5652 §5.3): it was altered or badly made"
            )
    found = int(signed["version"])
    if found != expected:
        raise MalformedInputError(
            f"the SignedData says version {found} where its structure requires {expected} "
            "(RFC 5652 §5.1): it was altered or badly made"
        )


def load_content_info(data: bytes) -> cms.ContentInfo:
    """Parse DER or PEM bytes into a ContentInfo, strictly (no trailing data)."""
    der = unarmor(data)
    try:
        info = cms.ContentInfo.load(der, strict=True)
        info["content_type"].native  # noqa: B018
    except PARSE_ERRORS as exc:
        raise MalformedInputError(explain(der, "CMS signature", exc, advice=CMS_ADVICE)) from exc
    return info


def load_signed_data(data: bytes) -> cms.SignedData:
    """Parse a CMS SignedData (DER or PEM) and check its bounds."""
    info = load_content_info(data)
    try:
        if info["content_type"].native != "signed_data":
            raise MalformedInputError(
                f"expected CMS signed data, found {info['content_type'].native}"
            )
        signed = info["content"]
        signer_count = len(signed["signer_infos"])
        certificates = signed["certificates"]
        cert_count = 0 if isinstance(certificates, core.Void) else len(certificates)
        if signer_count == 0:
            raise MalformedInputError("the SignedData has no signer")
        if signer_count > MAX_SIGNERS:
            raise InputTooLargeError(f"more than {MAX_SIGNERS} signers")
        if cert_count > MAX_CERTIFICATES:
            raise InputTooLargeError(f"more than {MAX_CERTIFICATES} certificates")
        for signer_info in signed["signer_infos"]:
            _check_attribute_counts(signer_info)
            _walk_signer_info(signer_info)
        _walk(signed["digest_algorithms"])
        signed["encap_content_info"]["content_type"].native  # noqa: B018
        _walk(signed["encap_content_info"])
        _check_version(signed)
    except MalformedInputError:
        raise
    except PARSE_ERRORS as exc:
        raise MalformedInputError(f"malformed CMS SignedData: {humanize(exc)}") from exc
    return signed


def signed_content(data: bytes) -> bytes | None:
    """The content an attached signature carries (``None`` for a detached one).

    What ``openssl cms -verify -out`` writes: read it only after the signature verified,
    since these are the bytes the signer vouched for only if verification says so.
    """
    encap = load_signed_data(data)["encap_content_info"]
    content = encap["content"]
    if isinstance(content, core.Void) or content.native is None:
        return None
    if isinstance(content, core.ParsableOctetString):
        return bytes(content.contents)
    if isinstance(content.native, bytes):
        return bytes(content.native)
    raise MalformedInputError("the encapsulated content is not an OCTET STRING")
