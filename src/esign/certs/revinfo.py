"""Revocation information a verifier is given: CRLs and OCSP responses, parsed once.

Sources: the caller (files, bytes), a CMS signature (its ``crls`` field and the CAdES
``revocation-values`` attribute), or pyhanko-certvalidator's HTTP fetchers (see
:class:`esign.certs.trust.TrustContext`). This module reads them into asn1crypto objects
with bounds and named errors, and keeps a serial-number index of simple CRLs so that
checking one certificate against a CRL of 100,000 entries is a dictionary look-up.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeAlias

from asn1crypto import cms, core
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import pem as asn1_pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp as x509_ocsp

from esign.diagnose import explain
from esign.errors import PARSE_ERRORS, InputTooLargeError, MalformedInputError
from esign.gost.x509 import crl_signed_by
from esign.limits import (
    MAX_CRL_ENTRIES,
    MAX_EMBEDDED_REVINFO,
    MAX_OCSP_RESPONSES,
    MAX_REVINFO_BYTES,
)

#: CRL extensions the fast index understands; any other makes a CRL "not simple".
_SIMPLE_CRL_EXTENSIONS = frozenset({"crl_number", "authority_key_identifier"})
#: CRL entry extensions the fast index understands.
_SIMPLE_ENTRY_EXTENSIONS = frozenset({"crl_reason", "invalidity_date"})

CrlInput: TypeAlias = "bytes | x509.CertificateRevocationList | asn1_crl.CertificateList"
OcspInput: TypeAlias = "bytes | x509_ocsp.OCSPResponse | asn1_ocsp.OCSPResponse"

#: cryptography's own refusals of a CRL, besides the parse errors
_CRL_ERRORS: tuple[type[Exception], ...] = (
    *PARSE_ERRORS,
    x509.InvalidVersion,
    x509.DuplicateExtension,
)


def _unpem(data: bytes, kind: str) -> bytes:
    if len(data) > MAX_REVINFO_BYTES:
        raise MalformedInputError(f"{kind} larger than {MAX_REVINFO_BYTES >> 20} MiB")
    if asn1_pem.detect(data):
        try:
            _, _, der = asn1_pem.unarmor(data)
        except ValueError as exc:
            raise MalformedInputError(explain(data, kind, exc)) from exc
        return bytes(der)
    return data


def parse_crl(data: CrlInput) -> asn1_crl.CertificateList:
    """One CRL (PEM or DER bytes, or a ``cryptography``/asn1crypto object), checked."""
    if isinstance(data, asn1_crl.CertificateList):
        return data
    if isinstance(data, x509.CertificateRevocationList):
        data = data.public_bytes(Encoding.DER)
    der = _unpem(data, "CRL")
    try:
        # cryptography (Rust) checks the whole structure quickly, entries included.
        checked = x509.load_der_x509_crl(der)
        _ = (checked.last_update_utc, checked.next_update_utc, checked.extensions)
        if len(checked) > MAX_CRL_ENTRIES:
            raise InputTooLargeError(
                f"the CRL lists more than {MAX_CRL_ENTRIES} revoked certificates "
                "(esign.limits.MAX_CRL_ENTRIES)"
            )
        for revoked in checked:
            _ = (revoked.serial_number, revoked.revocation_date_utc, revoked.extensions)
        parsed = asn1_crl.CertificateList.load(der, strict=True)
        tbs = parsed["tbs_cert_list"]
        _ = (tbs["issuer"].native, tbs["this_update"].native, tbs["next_update"].native)
    except _CRL_ERRORS as exc:
        raise MalformedInputError(
            explain(der, "CRL", exc, der_only=True, advice="give an X.509 CRL in PEM or DER")
        ) from exc
    return parsed


def parse_ocsp_response(data: OcspInput) -> asn1_ocsp.OCSPResponse:
    """One OCSP response (DER/PEM bytes, or a ``cryptography``/asn1crypto object)."""
    if isinstance(data, asn1_ocsp.OCSPResponse):
        return data
    if isinstance(data, x509_ocsp.OCSPResponse):
        data = data.public_bytes(Encoding.DER)
    der = _unpem(data, "OCSP response")
    try:
        parsed = asn1_ocsp.OCSPResponse.load(der, strict=True)
        status = parsed["response_status"].native
    except PARSE_ERRORS as exc:
        raise MalformedInputError(explain(der, "OCSP response", exc, der_only=True)) from exc
    if status != "successful":
        raise MalformedInputError(f"the OCSP response carries no status: it says {status!r}")
    try:
        count = len(parsed["response_bytes"]["response"].parsed["tbs_response_data"]["responses"])
    except PARSE_ERRORS as exc:
        raise MalformedInputError(explain(der, "OCSP response", exc, der_only=True)) from exc
    if count > MAX_OCSP_RESPONSES:
        raise InputTooLargeError(
            f"the OCSP response holds more than {MAX_OCSP_RESPONSES} single responses "
            "(esign.limits.MAX_OCSP_RESPONSES)"
        )
    return parsed


#: id-aa-ets-revocationValues (RFC 5126 §6.3.4, CAdES B-LT).
REVOCATION_VALUES_OID = "1.2.840.113549.1.9.16.2.24"


class _CrlValues(core.SequenceOf):  # type: ignore[misc]
    _child_spec = asn1_crl.CertificateList


class _OcspValues(core.SequenceOf):  # type: ignore[misc]
    _child_spec = asn1_ocsp.BasicOCSPResponse


class RevocationValues(core.Sequence):  # type: ignore[misc]
    """RFC 5126 RevocationValues (asn1crypto lacks it; a candidate for esign.asn1)."""

    _fields = [  # noqa: RUF012 - asn1crypto declares structures this way
        ("crl_vals", _CrlValues, {"explicit": 0, "optional": True}),
        ("ocsp_vals", _OcspValues, {"explicit": 1, "optional": True}),
        ("other_rev_vals", core.Any, {"explicit": 2, "optional": True}),
    ]


class _SetOfRevocationValues(core.SetOf):  # type: ignore[misc]
    _child_spec = RevocationValues


def _register() -> None:
    """Teach asn1crypto the CAdES revocation-values attribute (belongs in esign.asn1)."""
    cms.CMSAttributeType._map.setdefault(REVOCATION_VALUES_OID, "revocation_values")
    cms.CMSAttribute._oid_specs.setdefault("revocation_values", _SetOfRevocationValues)


_register()


@dataclass(frozen=True)
class EmbeddedRevocation:
    """Revocation values carried inside a signature."""

    crls: list[asn1_crl.CertificateList]
    ocsps: list[asn1_ocsp.OCSPResponse]


def revocation_from_signed_data(signed_data: cms.SignedData) -> EmbeddedRevocation:
    """CRLs and OCSP responses embedded in a CMS SignedData.

    Reads the ``crls`` field (RFC 5652 RevocationInfoChoices, including the RFC 5940
    ``id-ri-ocsp-response`` other format) and, for every signer, the CAdES
    ``revocation-values`` unsigned attribute (ETSI EN 319 122-1, B-LT).
    """
    crls: list[asn1_crl.CertificateList] = []
    ocsps: list[asn1_ocsp.OCSPResponse] = []
    try:
        choices = signed_data["crls"]
        # isinstance, not ``.native``: the native form of nested counter-signatures is
        # rebuilt again at every level (a 4-deep chain took over 20 s).
        for choice in () if isinstance(choices, core.Void) else choices:
            if choice.name == "crl":
                crls.append(choice.chosen)
            elif choice.chosen["other_rev_info_format"].native == "ocsp_response":
                ocsps.append(choice.chosen["other_rev_info"])
        for signer_info in signed_data["signer_infos"]:
            unsigned = signer_info["unsigned_attrs"]
            for attribute in () if isinstance(unsigned, core.Void) else unsigned:
                if attribute["type"].dotted != REVOCATION_VALUES_OID:
                    continue
                for values in attribute["values"]:
                    for crl_value in values["crl_vals"] or ():
                        crls.append(crl_value)
                    for basic in values["ocsp_vals"] or ():
                        ocsps.append(
                            asn1_ocsp.OCSPResponse(
                                {
                                    "response_status": "successful",
                                    "response_bytes": {
                                        "response_type": "basic_ocsp_response",
                                        "response": basic,
                                    },
                                }
                            )
                        )
            if len(crls) + len(ocsps) > MAX_EMBEDDED_REVINFO:
                break
    except PARSE_ERRORS as exc:
        raise MalformedInputError(f"malformed revocation values in the signature: {exc}") from exc
    if len(crls) + len(ocsps) > MAX_EMBEDDED_REVINFO:
        raise InputTooLargeError(
            f"the signature embeds more than {MAX_EMBEDDED_REVINFO} CRLs and OCSP responses "
            "(esign.limits.MAX_EMBEDDED_REVINFO)"
        )
    return EmbeddedRevocation(crls, ocsps)


@dataclass(frozen=True)
class RevokedEntry:
    """One CRL entry: when and why."""

    revoked_at: datetime.datetime
    reason: str


class IndexedCrl:
    """A complete, directly issued CRL indexed by serial number.

    Only "simple" CRLs are indexed: no issuing distribution point, no delta indicator or
    pointer, no indirect entries, no unknown extensions. Anything else is left to
    pyhanko-certvalidator's full RFC 5280 §6.3 processing. Whether the CRL is genuine
    (signature, issuer key usage) is checked against the issuing CA of a validated path
    and remembered per issuer key.
    """

    def __init__(self, crl: asn1_crl.CertificateList) -> None:
        self.asn1 = crl
        self.der = crl.dump()
        self.digest = hashlib.sha256(self.der).digest()
        tbs = crl["tbs_cert_list"]
        self.issuer_key: str = tbs["issuer"].hashable
        self.this_update: datetime.datetime = tbs["this_update"].native
        next_update = tbs["next_update"].native
        self.next_update: datetime.datetime | None = next_update
        self._entries: dict[int, RevokedEntry] | None = None
        self._signature_ok: dict[bytes, bool] = {}
        extensions = {ext["extn_id"].native for ext in tbs["crl_extensions"]}
        self.simple = extensions <= _SIMPLE_CRL_EXTENSIONS and next_update is not None
        #: A complete CRL that announces a delta: its entries prove a revocation, but a
        #: "not listed" needs the delta too.
        self.announces_delta = (
            extensions <= _SIMPLE_CRL_EXTENSIONS | {"freshest_crl"}
            and "freshest_crl" in extensions
            and next_update is not None
        )
        number = crl.crl_number_value
        self.number: int | None = number.native if number is not None else None
        base = crl.delta_crl_indicator_value
        #: The base CRL number of a delta CRL; None for a complete CRL.
        self.delta_base: int | None = base.native if base is not None else None
        #: A distribution-point scope (IDP) or an unknown critical extension: such a CRL
        #: is read by the full RFC 5280 processing only.
        self.has_scope = "issuing_distribution_point" in extensions or bool(
            crl.critical_extensions - _KNOWN_CRITICAL
        )

    def entries(self) -> dict[int, RevokedEntry] | None:
        """Serial number -> entry, or None if an entry needs full processing."""
        if self._entries is None:
            parsed = x509.load_der_x509_crl(self.der)
            entries: dict[int, RevokedEntry] = {}
            for revoked in parsed:
                names = set()
                for ext in revoked.extensions:
                    names.add(ext.oid)
                if names - _SIMPLE_ENTRY_OIDS:
                    self.simple = False
                    return None
                reason = "unspecified"
                with contextlib.suppress(x509.ExtensionNotFound):
                    reason = revoked.extensions.get_extension_for_class(
                        x509.CRLReason
                    ).value.reason.value
                entries[revoked.serial_number] = RevokedEntry(
                    revoked.revocation_date_utc, _REASON_NAMES.get(reason, reason)
                )
            self._entries = entries
        return self._entries

    def delta_entries(self) -> dict[int, RevokedEntry]:
        """The entries of a delta CRL (empty when an entry needs full processing)."""
        return self.entries() or {}

    def signed_by(self, issuer: asn1_x509.Certificate) -> bool:
        """Whether ``issuer`` (a validated CA) signed this CRL and may sign CRLs."""
        key = issuer.public_key.dump()
        if key not in self._signature_ok:
            self._signature_ok[key] = self._check_signature(issuer)
        return self._signature_ok[key]

    def _check_signature(self, issuer: asn1_x509.Certificate) -> bool:
        if issuer.subject.hashable != self.issuer_key:
            return False
        usage = issuer.key_usage_value
        if usage is not None and "crl_sign" not in usage.native:
            return False
        try:
            parsed = x509.load_der_x509_crl(self.der)
            ca = x509.load_der_x509_certificate(issuer.dump())
            return bool(parsed.is_signature_valid(ca.public_key()))  # type: ignore[arg-type]
        except UnsupportedAlgorithm:  # GOST R 34.10-2012: checked by esign.gost
            return crl_signed_by(self.der, issuer.dump())
        except (ValueError, TypeError, InvalidSignature):
            return False

    def fresh_at(
        self, moment: datetime.datetime, tolerance: datetime.timedelta, retroactive: bool
    ) -> bool:
        """thisUpdate <= moment <= nextUpdate, as pyHanko's default freshness rule.

        ``retroactive`` drops the lower bound (a CRL issued later speaks for ``moment``).
        """
        if self.next_update is None or moment > self.next_update + tolerance:
            return False
        return retroactive or self.this_update - tolerance <= moment


_KNOWN_CRITICAL = frozenset({"delta_crl_indicator", "issuing_distribution_point"})

_SIMPLE_ENTRY_OIDS = frozenset(
    {x509.oid.CRLEntryExtensionOID.CRL_REASON, x509.oid.CRLEntryExtensionOID.INVALIDITY_DATE}
)

#: cryptography's reason values -> the names asn1crypto (and so pyHanko) prints.
_REASON_NAMES = {
    "keyCompromise": "key_compromise",
    "cACompromise": "ca_compromise",
    "affiliationChanged": "affiliation_changed",
    "superseded": "superseded",
    "cessationOfOperation": "cessation_of_operation",
    "certificateHold": "certificate_hold",
    "privilegeWithdrawn": "privilege_withdrawn",
    "aACompromise": "aa_compromise",
    "removeFromCRL": "remove_from_crl",
    "unspecified": "unspecified",
}


def index_crls(crls: Iterable[asn1_crl.CertificateList]) -> dict[str, list[IndexedCrl]]:
    """Group CRLs by their issuer name (compared as RFC 5280 says: normalised)."""
    grouped: dict[str, list[IndexedCrl]] = {}
    for crl in crls:
        indexed = IndexedCrl(crl)
        grouped.setdefault(indexed.issuer_key, []).append(indexed)
    return grouped
