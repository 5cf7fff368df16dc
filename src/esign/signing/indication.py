"""ETSI EN 319 102-1 validation indications, and how esign's findings map onto them.

Every verified signature ends in one of three indications: TOTAL-PASSED (and only then
is it valid), TOTAL-FAILED (it is proven bad: changed content, a broken signature value,
a malformed structure, a certificate revoked or expired before the proven signing
time) or INDETERMINATE (it cannot be decided with what is available: no revocation
status, no path, an algorithm refused with no proof of an earlier signing time, ...).
The sub-indication says which; findings carry their own, and the most serious wins.
"""

from __future__ import annotations

import enum


class Indication(str, enum.Enum):
    """The main verdict (EN 319 102-1 §5.1.3)."""

    TOTAL_PASSED = "TOTAL-PASSED"
    TOTAL_FAILED = "TOTAL-FAILED"
    INDETERMINATE = "INDETERMINATE"

    def __str__(self) -> str:
        return self.value


class SubIndication(str, enum.Enum):
    """Why a signature is not TOTAL-PASSED (EN 319 102-1 Tables 5 and 6)."""

    # TOTAL-FAILED
    FORMAT_FAILURE = "FORMAT_FAILURE"
    HASH_FAILURE = "HASH_FAILURE"
    SIG_CRYPTO_FAILURE = "SIG_CRYPTO_FAILURE"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"
    NOT_YET_VALID = "NOT_YET_VALID"
    # INDETERMINATE
    SIG_CONSTRAINTS_FAILURE = "SIG_CONSTRAINTS_FAILURE"
    CHAIN_CONSTRAINTS_FAILURE = "CHAIN_CONSTRAINTS_FAILURE"
    CERTIFICATE_CHAIN_GENERAL_FAILURE = "CERTIFICATE_CHAIN_GENERAL_FAILURE"
    CRYPTO_CONSTRAINTS_FAILURE = "CRYPTO_CONSTRAINTS_FAILURE"
    CRYPTO_CONSTRAINTS_FAILURE_NO_POE = "CRYPTO_CONSTRAINTS_FAILURE_NO_POE"
    NO_SIGNING_CERTIFICATE_FOUND = "NO_SIGNING_CERTIFICATE_FOUND"
    NO_CERTIFICATE_CHAIN_FOUND = "NO_CERTIFICATE_CHAIN_FOUND"
    REVOKED_NO_POE = "REVOKED_NO_POE"
    REVOKED_CA_NO_POE = "REVOKED_CA_NO_POE"
    OUT_OF_BOUNDS_NO_POE = "OUT_OF_BOUNDS_NO_POE"
    OUT_OF_BOUNDS_NOT_REVOKED = "OUT_OF_BOUNDS_NOT_REVOKED"
    NO_POE = "NO_POE"
    TRY_LATER = "TRY_LATER"
    SIGNED_DATA_NOT_FOUND = "SIGNED_DATA_NOT_FOUND"

    def __str__(self) -> str:
        return self.value


_TOTAL_FAILED = frozenset(
    {
        SubIndication.FORMAT_FAILURE,
        SubIndication.HASH_FAILURE,
        SubIndication.SIG_CRYPTO_FAILURE,
        SubIndication.REVOKED,
        SubIndication.EXPIRED,
        SubIndication.NOT_YET_VALID,
    }
)

#: The sub-indication of a finding code when the finding does not name its own.
#: Codes of the path (see esign.certs.trust.FAILURE_CODES) are mapped as an
#: INDETERMINATE: without a proof of existence nothing is proven bad.
DEFAULT_SUBINDICATIONS: dict[str, SubIndication] = {
    "content_modified": SubIndication.HASH_FAILURE,
    "content_mismatch": SubIndication.HASH_FAILURE,
    "bad_signature": SubIndication.SIG_CRYPTO_FAILURE,
    "signature_unverifiable": SubIndication.FORMAT_FAILURE,
    "signed_attributes_invalid": SubIndication.FORMAT_FAILURE,
    "malformed_signature": SubIndication.FORMAT_FAILURE,
    "weak_algorithm": SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
    "unsupported_algorithm": SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
    "signer_certificate_missing": SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
    "no_path": SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
    "expired": SubIndication.OUT_OF_BOUNDS_NO_POE,
    "not_yet_valid": SubIndication.NOT_YET_VALID,
    "revoked": SubIndication.REVOKED_NO_POE,
    "no_revocation_info": SubIndication.TRY_LATER,
    "stale_revocation_info": SubIndication.TRY_LATER,
    "wrong_usage": SubIndication.CHAIN_CONSTRAINTS_FAILURE,
    "not_ca": SubIndication.CHAIN_CONSTRAINTS_FAILURE,
    "path_length": SubIndication.CHAIN_CONSTRAINTS_FAILURE,
    "name_constraints": SubIndication.CHAIN_CONSTRAINTS_FAILURE,
    "policy": SubIndication.CHAIN_CONSTRAINTS_FAILURE,
    "unknown_critical_extension": SubIndication.CHAIN_CONSTRAINTS_FAILURE,
    "malformed": SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE,
    "path_invalid": SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE,
    "timestamp_invalid": SubIndication.NO_POE,
    "timestamp_untrusted": SubIndication.NO_POE,
    "signed_data_missing": SubIndication.SIGNED_DATA_NOT_FOUND,
}


def indication_of(subindication: SubIndication) -> Indication:
    """The main indication a sub-indication belongs to."""
    if subindication in _TOTAL_FAILED:
        return Indication.TOTAL_FAILED
    return Indication.INDETERMINATE


def subindication_for(code: str) -> SubIndication:
    """The sub-indication of a finding code (unknown codes: the signature's constraints
    are not met — an INDETERMINATE, never a pass)."""
    return DEFAULT_SUBINDICATIONS.get(code, SubIndication.SIG_CONSTRAINTS_FAILURE)
