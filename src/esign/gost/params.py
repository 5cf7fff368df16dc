"""GOST R 34.10-2012 parameter sets and the object identifiers of RFC 9215 / RFC 7836.

Names follow openssl's GOST engine (``paramset:A`` is CryptoPro-A, ``TCA`` is TC26-A), so
a key generated here and one made with ``openssl genpkey -pkeyopt paramset:X`` carry the
same name. Each set maps to the gostcrypto curve with the same domain parameters (the
CryptoPro and "exchange" sets reuse TC26 curves B/C/D: RFC 7836 §A, RFC 4357 §11.4).
"""

from __future__ import annotations

from dataclasses import dataclass

from esign.errors import UnsupportedAlgorithmError

#: id-tc26-gost3410-12-256 / -512: the public key algorithm.
KEY_256 = "1.2.643.7.1.1.1.1"
KEY_512 = "1.2.643.7.1.1.1.2"
#: id-tc26-gost3411-12-256 / -512: Streebog.
DIGEST_256 = "1.2.643.7.1.1.2.2"
DIGEST_512 = "1.2.643.7.1.1.2.3"
#: id-tc26-signwithdigest-gost3410-12-256 / -512.
SIGN_256 = "1.2.643.7.1.1.3.2"
SIGN_512 = "1.2.643.7.1.1.3.3"

KEY_OIDS = {KEY_256: 256, KEY_512: 512}
DIGEST_OIDS = {DIGEST_256: 256, DIGEST_512: 512}
SIGNATURE_OIDS = {SIGN_256: 256, SIGN_512: 512}
#: The digest inside each GOST signature algorithm, by name.
SIGNATURE_HASHES = {SIGN_256: "streebog256", SIGN_512: "streebog512"}
GOST_OIDS = frozenset({*KEY_OIDS, *DIGEST_OIDS, *SIGNATURE_OIDS})


@dataclass(frozen=True)
class ParamSet:
    """One named parameter set: its engine name, OID, size and gostcrypto curve."""

    engine: str  # openssl GOST engine name: A, B, C, XA, XB, TCA..TCD (256); A, B, C (512)
    oid: str
    bits: int
    curve: str  # key in gostcrypto.gostsignature.CURVES_R_1323565_1_024_2019
    title: str

    @property
    def key_name(self) -> str:
        """esign's key algorithm name, e.g. ``gost2012-256-tca``."""
        return f"gost2012-{self.bits}-{self.engine.lower()}"

    @property
    def size(self) -> int:
        """Octets in a coordinate, a scalar and a digest."""
        return self.bits // 8

    @property
    def key_oid(self) -> str:
        return KEY_256 if self.bits == 256 else KEY_512

    @property
    def digest_oid(self) -> str:
        return DIGEST_256 if self.bits == 256 else DIGEST_512

    @property
    def signature_oid(self) -> str:
        return SIGN_256 if self.bits == 256 else SIGN_512

    @property
    def names_digest(self) -> bool:
        """Whether the key parameters name the digest (as openssl's engine writes them:
        yes for the CryptoPro sets and 512-bit keys, no for the TC26 256-bit sets)."""
        return self.bits == 512 or not self.engine.startswith("TC")


_C256 = "id-tc26-gost-3410-2012-256-paramSet"
PARAMSETS: tuple[ParamSet, ...] = (
    ParamSet("A", "1.2.643.2.2.35.1", 256, _C256 + "B", "CryptoPro-A"),
    ParamSet("B", "1.2.643.2.2.35.2", 256, _C256 + "C", "CryptoPro-B"),
    ParamSet("C", "1.2.643.2.2.35.3", 256, _C256 + "D", "CryptoPro-C"),
    ParamSet("XA", "1.2.643.2.2.36.0", 256, _C256 + "B", "CryptoPro-XchA"),
    ParamSet("XB", "1.2.643.2.2.36.1", 256, _C256 + "D", "CryptoPro-XchB"),
    ParamSet("TCA", "1.2.643.7.1.2.1.1.1", 256, _C256 + "A", "TC26-256-A"),
    ParamSet("TCB", "1.2.643.7.1.2.1.1.2", 256, _C256 + "B", "TC26-256-B"),
    ParamSet("TCC", "1.2.643.7.1.2.1.1.3", 256, _C256 + "C", "TC26-256-C"),
    ParamSet("TCD", "1.2.643.7.1.2.1.1.4", 256, _C256 + "D", "TC26-256-D"),
    ParamSet("A", "1.2.643.7.1.2.1.2.1", 512, "id-tc26-gost-3410-12-512-paramSetA", "TC26-512-A"),
    ParamSet("B", "1.2.643.7.1.2.1.2.2", 512, "id-tc26-gost-3410-12-512-paramSetB", "TC26-512-B"),
    ParamSet("C", "1.2.643.7.1.2.1.2.3", 512, "id-tc26-gost-3410-2012-512-paramSetC", "TC26-512-C"),
)
BY_OID = {(p.bits, p.oid): p for p in PARAMSETS}
BY_NAME = {p.key_name: p for p in PARAMSETS}


def paramset(name: str) -> ParamSet:
    """The parameter set of an esign key name (``gost2012-256-xa``, ``gost2012-512-a``, ...)."""
    found = BY_NAME.get(name)
    if found is None:
        known = ", ".join(sorted(BY_NAME))
        raise UnsupportedAlgorithmError(f"unknown GOST key name {name!r}; known: {known}")
    return found


def by_oid(bits: int, oid: str) -> ParamSet:
    """The parameter set of a key of ``bits`` with public key parameter set ``oid``."""
    found = BY_OID.get((bits, oid))
    if found is None:
        raise UnsupportedAlgorithmError(f"unknown GOST R 34.10-2012 parameter set {oid}")
    return found
