"""Trusted lists of qualified issuers, per jurisdiction.

A verifier decides QUALIFIED only for certificates whose issuing CA is on a trusted list it
supplies. This module holds the in-memory model every source feeds, and reads
and writes its formats:

- ETSI TS 119 612 XML (the EU trusted lists): read with pyHanko's parser
  (``pyhanko.sign.validation.qualified.eutl_parse``), the XAdES signature checked against
  the scheme operator's certificates; written with pyHanko's generated TS 119 612 data
  model (xsdata) and signed with signxml, so that pyHanko reads back what esign writes.
- esign's simple JSON format ``esign-trusted-list/1`` for jurisdictions without an ETSI
  list (documented in docs/trust.md), and a bare PEM bundle of CA certificates.

Only CA/QC services with status "granted" count (pyHanko's reading); each keeps the
window in which that status held, so a CA withdrawn last year still counts for a
signature made before.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from esign.errors import TrustedListError

JURISDICTIONS = ("eidas", "ru")
JSON_FORMAT = "esign-trusted-list/1"
MAX_TRUSTED_LIST = 64 << 20  # the largest EU national lists are a few MiB

_TRSTSVC = "http://uri.etsi.org/TrstSvc"
CA_QC = f"{_TRSTSVC}/Svctype/CA/QC"
STATUS_GRANTED = f"{_TRSTSVC}/TrustedList/Svcstatus/granted"
STATUS_WITHDRAWN = f"{_TRSTSVC}/TrustedList/Svcstatus/withdrawn"
TSL_TYPE_GENERIC = f"{_TRSTSVC}/TrustedList/TSLType/EUgeneric"
TSL_NAMESPACE = "http://uri.etsi.org/02231/v2#"


def _key_id(certificate: x509.Certificate) -> bytes:
    """Identify a CA by its subject public key, so a re-issued CA certificate still matches."""
    try:
        spki = certificate.public_key().public_bytes(
            Encoding.DER, PublicFormat.SubjectPublicKeyInfo
        )
    except UnsupportedAlgorithm:  # e.g. GOST: the key as the certificate carries it
        spki = asn1_x509.Certificate.load(certificate.public_bytes(Encoding.DER))[
            "tbs_certificate"
        ]["subject_public_key_info"].dump()
    return hashlib.sha256(spki).digest()


def _utc(moment: datetime.datetime) -> datetime.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)


@dataclass(frozen=True)
class ListedIssuer:
    """One qualified CA on a list, with the window its "granted" status covers."""

    certificate: x509.Certificate
    service_name: str = ""
    valid_from: datetime.datetime | None = None
    valid_until: datetime.datetime | None = None

    def covers(self, moment: datetime.datetime | None) -> bool:
        if moment is None:
            return True
        moment = _utc(moment)
        if self.valid_from is not None and moment < self.valid_from:
            return False
        return self.valid_until is None or moment <= self.valid_until

    def outside(self, moment: datetime.datetime) -> str:
        """Why the status does not hold at ``moment`` ("" when it does), for reports."""
        moment = _utc(moment)
        if self.valid_from is not None and moment < self.valid_from:
            return f"its qualified status starts {self.valid_from.isoformat()}"
        if self.valid_until is not None and moment > self.valid_until:
            return f"its qualified status ended {self.valid_until.isoformat()}"
        return ""


@dataclass
class TrustedList:
    """Qualified issuing CAs of one jurisdiction (``"eidas"`` or ``"ru"``)."""

    jurisdiction: str = "eidas"
    issuers: list[x509.Certificate] = field(default_factory=list)
    name: str = "trusted list"
    territory: str | None = None
    issued: datetime.datetime | None = None
    next_update: datetime.datetime | None = None
    entries: list[ListedIssuer] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.jurisdiction not in JURISDICTIONS:
            raise ValueError(
                f"unknown jurisdiction {self.jurisdiction!r}; known: {', '.join(JURISDICTIONS)}"
            )
        listed = {_key_id(e.certificate) for e in self.entries}
        for certificate in self.issuers:
            if _key_id(certificate) not in listed:
                self.entries.append(ListedIssuer(certificate))
        self.issuers = [e.certificate for e in self.entries]
        self._by_key: dict[bytes, list[ListedIssuer]] = {}
        for entry in self.entries:
            self._by_key.setdefault(_key_id(entry.certificate), []).append(entry)

    def add(self, issuers: Iterable[x509.Certificate | ListedIssuer]) -> None:
        for item in issuers:
            entry = item if isinstance(item, ListedIssuer) else ListedIssuer(item)
            self.entries.append(entry)
            self.issuers.append(entry.certificate)
            self._by_key.setdefault(_key_id(entry.certificate), []).append(entry)

    def lists_issuer(
        self, issuer: x509.Certificate, *, at: datetime.datetime | None = None
    ) -> bool:
        """Whether ``issuer`` (a CA certificate in a validated path) is on this list,
        with its qualified status granted at ``at`` when a time is given.

        A level decision asks this of the certificate's *direct* issuer only: ETSI TS
        119 615 requires the issuing CA itself to be the listed service.
        """
        return any(e.covers(at) for e in self._by_key.get(_key_id(issuer), ()))

    def listings(self, issuer: x509.Certificate) -> list[ListedIssuer]:
        """Every entry of this list for ``issuer`` (matched by public key), any window."""
        return list(self._by_key.get(_key_id(issuer), ()))

    # -- esign's simple format -----------------------------------------------------------

    def to_json(self) -> str:
        """esign's ``esign-trusted-list/1`` JSON (see docs/trust.md)."""
        pem = serialization.Encoding.PEM
        return json.dumps(
            {
                "format": JSON_FORMAT,
                "jurisdiction": self.jurisdiction,
                "name": self.name,
                "territory": self.territory,
                "issued": self.issued.isoformat() if self.issued else None,
                "next_update": self.next_update.isoformat() if self.next_update else None,
                "issuers": [
                    {
                        "name": e.service_name or e.certificate.subject.rfc4514_string(),
                        "certificate": e.certificate.public_bytes(pem).decode("ascii"),
                        "valid_from": e.valid_from.isoformat() if e.valid_from else None,
                        "valid_until": e.valid_until.isoformat() if e.valid_until else None,
                    }
                    for e in self.entries
                ],
            },
            indent=2,
        )

    # -- ETSI TS 119 612 -------------------------------------------------------------------

    def to_etsi_xml(
        self,
        *,
        scheme_operator: str,
        territory: str | None = None,
        sequence_number: int = 1,
        sign_with: tuple[Any, x509.Certificate] | None = None,
    ) -> bytes:
        """This list as an ETSI TS 119 612 v2 trusted list (signed with XAdES if asked).

        ``sign_with`` is the scheme operator's (private key, certificate); readers then
        check the list with that certificate. Unsigned lists are for tests and closed
        systems that protect the file some other way.
        """
        return _write_etsi(self, scheme_operator, territory, sequence_number, sign_with)


# -- reading ------------------------------------------------------------------------------


def _parse_time(value: object, what: str) -> datetime.datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TrustedListError(f"{what}: expected an ISO-8601 string")
    try:
        return _utc(datetime.datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError as exc:
        raise TrustedListError(f"{what}: not an ISO-8601 time: {value!r}") from exc


def read_json_trusted_list(data: bytes | str) -> TrustedList:
    """Read esign's ``esign-trusted-list/1`` JSON."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise TrustedListError(f"not a JSON trusted list: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("format") != JSON_FORMAT:
        raise TrustedListError(f'a JSON trusted list needs "format": "{JSON_FORMAT}"')
    jurisdiction = doc.get("jurisdiction", "eidas")
    if jurisdiction not in JURISDICTIONS:
        raise TrustedListError(f"unknown jurisdiction {jurisdiction!r}")
    items = doc.get("issuers")
    if not isinstance(items, list) or not items:
        raise TrustedListError('"issuers" must be a non-empty list')
    entries = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("certificate"), str):
            raise TrustedListError(f'issuers[{index}]: needs a PEM "certificate"')
        try:
            certificate = x509.load_pem_x509_certificate(item["certificate"].encode("ascii"))
            certificate.public_key()  # a listed CA is matched by its key: it must load
        except (ValueError, UnicodeEncodeError, x509.InvalidVersion) as exc:
            raise TrustedListError(f"issuers[{index}]: unreadable certificate: {exc}") from exc
        entries.append(
            ListedIssuer(
                certificate,
                service_name=str(item.get("name") or ""),
                valid_from=_parse_time(item.get("valid_from"), f"issuers[{index}].valid_from"),
                valid_until=_parse_time(item.get("valid_until"), f"issuers[{index}].valid_until"),
            )
        )
    return TrustedList(
        jurisdiction=jurisdiction,
        name=str(doc.get("name") or "trusted list"),
        territory=doc.get("territory"),
        issued=_parse_time(doc.get("issued"), "issued"),
        next_update=_parse_time(doc.get("next_update"), "next_update"),
        entries=entries,
    )


def read_pem_bundle(data: bytes, *, jurisdiction: str = "eidas", name: str = "") -> TrustedList:
    """A bare PEM bundle of qualified CA certificates (no validity windows)."""
    try:
        certificates = x509.load_pem_x509_certificates(data)
        for certificate in certificates:
            certificate.public_key()
    except (ValueError, x509.InvalidVersion, UnsupportedAlgorithm) as exc:
        raise TrustedListError(f"not a PEM bundle of CA certificates: {exc}") from exc
    return TrustedList(jurisdiction=jurisdiction, issuers=certificates, name=name or "PEM bundle")


def _etsi_modules() -> Any:
    try:
        from pyhanko.sign.validation.qualified import eutl_parse
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise TrustedListError(
            "reading ETSI TS 119 612 lists needs pyHanko's 'etsi' extra "
            "(pip install 'pyhanko[etsi]'): " + str(exc)
        ) from exc
    return eutl_parse


def _scheme_facts(
    xml: bytes,
) -> tuple[str | None, str | None, datetime.datetime | None, datetime.datetime | None]:
    """Territory, scheme name, issue and next-update times, read without DTDs or network."""
    from lxml import etree  # type: ignore[import-untyped,unused-ignore]

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.fromstring(xml, parser=parser)
    ns = {"tsl": TSL_NAMESPACE}

    def text(path: str) -> str | None:
        found = root.find(path, ns)
        return found.text.strip() if found is not None and found.text else None

    info = "tsl:SchemeInformation/"
    return (
        text(info + "tsl:SchemeTerritory"),
        text(info + "tsl:SchemeName/tsl:Name"),
        _parse_time(text(info + "tsl:ListIssueDateTime"), "ListIssueDateTime"),
        _parse_time(text(info + "tsl:NextUpdate/tsl:dateTime"), "NextUpdate"),
    )


def read_etsi_trusted_list(
    xml: bytes | str,
    *,
    signer_certificates: Sequence[x509.Certificate] = (),
    verify_signature: bool = True,
    jurisdiction: str | None = None,
) -> TrustedList:
    """Read an ETSI TS 119 612 trusted list: its granted CA/QC services.

    The XAdES signature is checked against ``signer_certificates`` (the scheme
    operator's certificates, published with the list of lists); reading an unsigned or
    unchecked list needs ``verify_signature=False`` said out loud. The jurisdiction is
    ``"ru"`` for territory RU and ``"eidas"`` otherwise, unless given.
    """
    from asn1crypto import x509 as asn1_x509

    raw = xml.encode("utf-8") if isinstance(xml, str) else xml
    if len(raw) > MAX_TRUSTED_LIST:
        raise TrustedListError(f"trusted list larger than {MAX_TRUSTED_LIST >> 20} MiB")
    eutl_parse = _etsi_modules()
    try:
        text = raw.decode("utf-8", errors="strict") if raw else ""
    except UnicodeDecodeError as exc:
        raise TrustedListError(f"the trusted list is not UTF-8 XML: {exc.reason}") from exc
    try:
        if verify_signature:
            if not signer_certificates:
                raise TrustedListError(
                    "give the scheme operator's certificate(s) to check the list's signature, "
                    "or verify_signature=False for a list protected some other way"
                )
            tlso = [
                asn1_x509.Certificate.load(c.public_bytes(Encoding.DER))
                for c in signer_certificates
            ]
            registry, _problems = eutl_parse.trust_list_to_registry(text, tlso)
        else:
            registry, _problems = eutl_parse.trust_list_to_registry_unsafe(text)
        territory, scheme_name, issued, next_update = _scheme_facts(raw)
    except TrustedListError:
        raise
    except Exception as exc:  # pyHanko, xsdata, signxml and lxml each raise their own
        message = getattr(exc, "failure_message", None) or str(exc)
        raise TrustedListError(f"cannot read the ETSI trusted list: {message}") from exc
    entries = []
    for authority in registry.known_certificate_authorities:
        try:
            certificate = x509.load_der_x509_certificate(authority.certificate.dump())
            certificate.public_key()
        except (ValueError, x509.InvalidVersion) as exc:
            raise TrustedListError(f"a listed CA certificate is unreadable: {exc}") from exc
        for service in registry.applicable_service_definitions(authority, None):
            base = service.base_info
            if base.service_type != CA_QC:
                continue
            entries.append(
                ListedIssuer(
                    certificate,
                    service_name=base.service_name,
                    valid_from=_utc(base.valid_from) if base.valid_from else None,
                    valid_until=_utc(base.valid_until) if base.valid_until else None,
                )
            )
    if jurisdiction is None:
        jurisdiction = "ru" if (territory or "").upper() == "RU" else "eidas"
    return TrustedList(
        jurisdiction=jurisdiction,
        name=scheme_name or f"{territory or '??'} trusted list",
        territory=territory,
        issued=issued,
        next_update=next_update,
        entries=entries,
    )


def read_trusted_list(
    data: bytes,
    *,
    jurisdiction: str | None = None,
    signer_certificates: Sequence[x509.Certificate] = (),
    verify_signature: bool = True,
    name: str = "",
) -> TrustedList:
    """Read any supported format: ETSI XML, esign JSON, or a PEM bundle."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:64]
    if head.startswith(b"<"):
        return read_etsi_trusted_list(
            data,
            signer_certificates=signer_certificates,
            verify_signature=verify_signature,
            jurisdiction=jurisdiction,
        )
    if head.startswith(b"{"):
        tl = read_json_trusted_list(data)
        if jurisdiction is not None and jurisdiction != tl.jurisdiction:
            raise TrustedListError(f"the list is for {tl.jurisdiction!r}, not for {jurisdiction!r}")
        return tl
    if head.startswith(b"-----BEGIN"):
        return read_pem_bundle(data, jurisdiction=jurisdiction or "eidas", name=name)
    raise TrustedListError("not a trusted list: expected ETSI XML, esign JSON or PEM")


def load_trusted_list(path: str | os.PathLike[str], **options: Any) -> TrustedList:
    """Read a trusted list file (any supported format)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_TRUSTED_LIST + 1)
    except OSError as exc:
        raise TrustedListError(f"cannot read {os.fspath(path)!r}: {exc.strerror}") from exc
    if len(data) > MAX_TRUSTED_LIST:
        raise TrustedListError(f"trusted list larger than {MAX_TRUSTED_LIST >> 20} MiB")
    options.setdefault("name", os.path.basename(os.fspath(path)))
    return read_trusted_list(data, **options)


# -- writing ETSI --------------------------------------------------------------------------


def _write_etsi(
    tl: TrustedList,
    scheme_operator: str,
    territory: str | None,
    sequence_number: int,
    sign_with: tuple[Any, x509.Certificate] | None,
) -> bytes:
    try:
        from pyhanko.generated.etsi import ts_119612 as t
        from xsdata.formats.dataclass.serializers import (  # type: ignore[import-not-found,unused-ignore]
            XmlSerializer,
        )
        from xsdata.formats.dataclass.serializers.config import (  # type: ignore[import-not-found,unused-ignore]
            SerializerConfig,
        )
        from xsdata.models.datatype import XmlDateTime  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise TrustedListError(
            "writing ETSI TS 119 612 lists needs pyHanko's 'etsi' extra: " + str(exc)
        ) from exc

    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    issued = (tl.issued or now).replace(microsecond=0)
    next_update = (tl.next_update or issued + datetime.timedelta(days=180)).replace(microsecond=0)
    territory = territory or tl.territory or ("RU" if tl.jurisdiction == "ru" else "EU")

    def names(value: str) -> Any:
        return t.InternationalNamesType(name=(t.MultiLangNormStringType(value=value, lang="en"),))

    services = []
    for entry in tl.entries:
        label = entry.service_name or entry.certificate.subject.rfc4514_string()
        identity = t.ServiceDigitalIdentity(
            digital_id=(
                t.DigitalIdentityType(
                    x509_certificate=entry.certificate.public_bytes(Encoding.DER)
                ),
            )
        )
        start = XmlDateTime.from_datetime(
            (entry.valid_from or entry.certificate.not_valid_before_utc).replace(microsecond=0)
        )
        status, since, history = STATUS_GRANTED, start, None
        if entry.valid_until is not None:
            # A granted window that ended: the current status is "withdrawn" since then,
            # and the granted period is a ServiceHistoryInstance (TS 119 612 §5.6).
            status = STATUS_WITHDRAWN
            since = XmlDateTime.from_datetime(entry.valid_until.replace(microsecond=0))
            history = t.ServiceHistory(
                service_history_instance=(
                    t.ServiceHistoryInstance(
                        service_type_identifier=t.ServiceTypeIdentifier(CA_QC),
                        service_name=names(label),
                        service_digital_identity=identity,
                        service_status=t.ServiceStatus(STATUS_GRANTED),
                        status_starting_time=start,
                    ),
                )
            )
        services.append(
            t.TSPService(
                service_information=t.ServiceInformation(
                    service_type_identifier=t.ServiceTypeIdentifier(CA_QC),
                    service_name=names(label),
                    service_digital_identity=identity,
                    service_status=t.ServiceStatus(status),
                    status_starting_time=since,
                ),
                service_history=history,
            )
        )
    document = t.TrustServiceStatusList(
        scheme_information=t.SchemeInformation(
            tslversion_identifier=5,
            tslsequence_number=sequence_number,
            tsltype=t.TSLType(TSL_TYPE_GENERIC),
            scheme_operator_name=t.SchemeOperatorName(
                name=(t.MultiLangNormStringType(value=scheme_operator, lang="en"),)
            ),
            scheme_name=t.SchemeName(name=(t.MultiLangNormStringType(value=tl.name, lang="en"),)),
            scheme_territory=t.SchemeTerritory(territory),
            historical_information_period=65535,
            list_issue_date_time=XmlDateTime.from_datetime(issued),
            next_update=t.NextUpdate(date_time=XmlDateTime.from_datetime(next_update)),
        ),
        trust_service_provider_list=t.TrustServiceProviderList(
            trust_service_provider=(
                t.TrustServiceProvider(
                    tspinformation=t.TSPInformation(tspname=names(scheme_operator)),
                    tspservices=t.TSPServices(tspservice=tuple(services)),
                ),
            )
        ),
        tsltag="http://uri.etsi.org/19612/TSLTag",
        id="tsl",
    )
    xml = XmlSerializer(config=SerializerConfig(indent="  ")).render(
        document, ns_map={"tsl": TSL_NAMESPACE}
    )
    if sign_with is None:
        return xml.encode("utf-8")
    return _sign_xml(xml, *sign_with)


def _sign_xml(xml: str, key: Any, certificate: x509.Certificate) -> bytes:
    """Enveloped XAdES signature, as TS 119 612 §5.7 asks."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from lxml import etree  # type: ignore[import-untyped,unused-ignore]
    from signxml.algorithms import (  # type: ignore[import-not-found,unused-ignore]
        DigestAlgorithm,
        SignatureMethod,
    )
    from signxml.xades.xades import XAdESSigner  # type: ignore[import-not-found,unused-ignore]

    if isinstance(key, ec.EllipticCurvePrivateKey):
        method = SignatureMethod.ECDSA_SHA256
    elif isinstance(key, rsa.RSAPrivateKey):
        method = SignatureMethod.RSA_SHA256
    else:
        raise TrustedListError("a trusted list is signed with an EC or RSA key")
    root = etree.fromstring(xml.encode("utf-8"))
    signer = XAdESSigner(signature_algorithm=method, digest_algorithm=DigestAlgorithm.SHA256)
    pem_key = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")
    signed = signer.sign(root, key=pem_key, cert=[cert_pem])
    return bytes(etree.tostring(signed, xml_declaration=True, encoding="UTF-8"))
