"""Identifiers of qualified certificates: eIDAS QC statements and policies, Russian 63-FZ.

One place for the OIDs that the CA (issuing qualified profiles) and the level decision
(recognising them) both need. Sources: ETSI EN 319 412-5 (QC statements), ETSI EN 319 411-2
(policies), Russian FSB order No. 795 and 63-FZ (INN, SNILS, OGRN, sign tools, KC/KB/KA).
"""

from __future__ import annotations

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
