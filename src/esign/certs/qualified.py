"""Identifiers of qualified certificates: eIDAS QC statements and policies, Russian 63-FZ.

One place for the OIDs that the CA (issuing qualified profiles) and the level decision
(recognising them) both need. Sources: ETSI EN 319 412-5 (QC statements), ETSI EN 319 411-2
(policies), Russian FSB order No. 795 and 63-FZ (INN, SNILS, OGRN, sign tools, KC/KB/KA).
"""

from __future__ import annotations

from typing import ClassVar

from asn1crypto import core
from cryptography.x509 import ObjectIdentifier

# --- eIDAS (ETSI EN 319 412-5) -------------------------------------------------------------
QC_STATEMENTS_EXTENSION = ObjectIdentifier("1.3.6.1.5.5.7.1.3")  # RFC 3739 qcStatements
QC_COMPLIANCE = ObjectIdentifier("0.4.0.1862.1.1")  # esi4-qcStatement-1
QC_SSCD = ObjectIdentifier("0.4.0.1862.1.4")  # key on a QSCD
QC_PDS = ObjectIdentifier("0.4.0.1862.1.5")  # PKI disclosure statements
QC_TYPE = ObjectIdentifier("0.4.0.1862.1.6")
QC_TYPE_ESIGN = ObjectIdentifier("0.4.0.1862.1.6.1")
QC_TYPE_ESEAL = ObjectIdentifier("0.4.0.1862.1.6.2")
QC_TYPE_WEB = ObjectIdentifier("0.4.0.1862.1.6.3")

# ETSI EN 319 411-2 certificate policies
QCP_N = ObjectIdentifier("0.4.0.194112.1.0")  # natural person
QCP_L = ObjectIdentifier("0.4.0.194112.1.1")  # legal person
QCP_N_QSCD = ObjectIdentifier("0.4.0.194112.1.2")
QCP_L_QSCD = ObjectIdentifier("0.4.0.194112.1.3")
QUALIFIED_POLICIES = frozenset({QCP_N, QCP_L, QCP_N_QSCD, QCP_L_QSCD})
QSCD_POLICIES = frozenset({QCP_N_QSCD, QCP_L_QSCD})

# --- Russia, 63-FZ and FSB order No. 795 -----------------------------------------------------
RU_INN = ObjectIdentifier("1.2.643.3.131.1.1")  # INN of a natural person (12 digits)
RU_INNLE = ObjectIdentifier("1.2.643.100.4")  # INN of a legal entity (10 digits)
RU_OGRN = ObjectIdentifier("1.2.643.100.1")  # 13 digits
RU_SNILS = ObjectIdentifier("1.2.643.100.3")  # 11 digits
RU_OGRNIP = ObjectIdentifier("1.2.643.100.5")  # 15 digits
RU_SUBJECT_SIGN_TOOL = ObjectIdentifier("1.2.643.100.111")
RU_ISSUER_SIGN_TOOL = ObjectIdentifier("1.2.643.100.112")
# Classes of the signature tool (certificate policies), KC1 ... KA1.
RU_KC1 = ObjectIdentifier("1.2.643.100.113.1")
RU_KC2 = ObjectIdentifier("1.2.643.100.113.2")
RU_KC3 = ObjectIdentifier("1.2.643.100.113.3")
RU_KB1 = ObjectIdentifier("1.2.643.100.113.4")
RU_KB2 = ObjectIdentifier("1.2.643.100.113.5")
RU_KA1 = ObjectIdentifier("1.2.643.100.113.6")
RU_CLASS_POLICIES = frozenset({RU_KC1, RU_KC2, RU_KC3, RU_KB1, RU_KB2, RU_KA1})
RU_CLASS_NAMES: dict[str, ObjectIdentifier] = {
    "KC1": RU_KC1,
    "KC2": RU_KC2,
    "KC3": RU_KC3,
    "KB1": RU_KB1,
    "KB2": RU_KB2,
    "KA1": RU_KA1,
}

#: Keywords for the Russian subject attributes, usable in RFC 4514 strings ("INN=...").
RU_NAME_KEYWORDS: dict[str, ObjectIdentifier] = {
    "INN": RU_INN,
    "INNLE": RU_INNLE,
    "OGRN": RU_OGRN,
    "SNILS": RU_SNILS,
    "OGRNIP": RU_OGRNIP,
}

#: Digits each Russian identifier has (FSB order No. 795: NumericString of this size).
RU_ID_LENGTHS: dict[ObjectIdentifier, int] = {
    RU_INN: 12,
    RU_INNLE: 10,
    RU_OGRN: 13,
    RU_SNILS: 11,
    RU_OGRNIP: 15,
}

QC_TYPE_NAMES: dict[ObjectIdentifier, str] = {
    QC_TYPE_ESIGN: "esign",
    QC_TYPE_ESEAL: "eseal",
    QC_TYPE_WEB: "web",
}
POLICY_NAMES: dict[ObjectIdentifier, str] = {
    QCP_N: "QCP-n",
    QCP_L: "QCP-l",
    QCP_N_QSCD: "QCP-n-qscd",
    QCP_L_QSCD: "QCP-l-qscd",
    **{oid: name for name, oid in RU_CLASS_NAMES.items()},
}
POLICY_NAMES_REVERSE: dict[str, ObjectIdentifier] = {v: k for k, v in POLICY_NAMES.items()}


def ru_checksum_ok(oid: ObjectIdentifier, digits: str) -> bool:
    """Whether a Russian identifier's control digits are right (INN, SNILS, OGRN, OGRNIP)."""
    if not digits.isascii() or not digits.isdigit() or len(digits) != RU_ID_LENGTHS[oid]:
        return False
    d = [int(c) for c in digits]

    def weighted(weights: tuple[int, ...]) -> int:
        return sum(w * x for w, x in zip(weights, d, strict=False)) % 11 % 10

    if oid == RU_INNLE:
        return weighted((2, 4, 10, 3, 5, 9, 4, 6, 8)) == d[9]
    if oid == RU_INN:
        return (
            weighted((7, 2, 4, 10, 3, 5, 9, 4, 6, 8)) == d[10]
            and weighted((3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)) == d[11]
        )
    if oid == RU_OGRN:
        return int(digits[:12]) % 11 % 10 == d[12]
    if oid == RU_OGRNIP:
        return int(digits[:14]) % 13 % 10 == d[14]
    # SNILS: weights 9..1 over the first nine digits; the sum mod 101, 100 -> 00.
    total = sum((9 - i) * d[i] for i in range(9)) % 101
    return total % 100 == int(digits[9:])


class IssuerSignTool(core.Sequence):  # type: ignore[misc]
    """FSB order No. 795 issuerSignTool: the CA's certified signature and CA tools."""

    _fields: ClassVar[list[tuple[str, type[core.Asn1Value]]]] = [
        ("sign_tool", core.UTF8String),
        ("ca_tool", core.UTF8String),
        ("sign_tool_cert", core.UTF8String),
        ("ca_tool_cert", core.UTF8String),
    ]
