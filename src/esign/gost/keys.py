"""GOST R 34.10-2012 key pairs: generation, signing a digest, and their RFC 9215 encodings.

The arithmetic is gostcrypto's; this module only converts between its big-endian
conventions and the wire forms GOST uses elsewhere:

- the digest is read as a little-endian number (so the Streebog output is reversed);
- a signature in X.509 and CMS is ``s || r``, each big-endian, ``size`` octets;
- the public key is an OCTET STRING of little-endian ``X || Y`` inside the BIT STRING;
- the private key in PKCS#8 is an OCTET STRING of the little-endian scalar (as openssl's
  GOST engine writes it); an INTEGER, or an OCTET STRING wrapping either, is also read.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
from typing import Any

from asn1crypto import core, pem
from cryptography.hazmat.primitives import serialization

from esign.errors import (
    PARSE_ERRORS,
    InvalidSignatureError,
    MalformedInputError,
    UnsupportedAlgorithmError,
)
from esign.gost import params
from esign.gost.params import ParamSet
from esign.gost.structures import GostKeyAlgorithm, GostPrivateKeyInfo, GostPublicKeyInfo


def _armor(der: bytes, label: str) -> bytes:
    armored: bytes = pem.armor(label, der)
    return armored


def _engine(paramset: ParamSet) -> Any:
    """gostcrypto's signature object for a parameter set (cached: building it is costly)."""
    return _cached_engine(paramset.bits, paramset.curve)


@functools.cache
def _cached_engine(bits: int, curve: str) -> Any:
    try:
        from gostcrypto import gostsignature
    except ImportError as exc:
        raise UnsupportedAlgorithmError(
            "GOST needs the gostcrypto package: pip install 'esign[gost]'"
        ) from exc
    mode = gostsignature.MODE_256 if bits == 256 else gostsignature.MODE_512
    return gostsignature.new(mode, gostsignature.CURVES_R_1323565_1_024_2019[curve])


def _algorithm(paramset: ParamSet) -> GostKeyAlgorithm:
    """The AlgorithmIdentifier of a key: OID + GostR3410-2012-PublicKeyParameters."""
    parameters = {"public_key_param_set": paramset.oid}
    if paramset.names_digest:
        parameters["digest_param_set"] = paramset.digest_oid
    return GostKeyAlgorithm({"algorithm": paramset.key_oid, "parameters": parameters})


def paramset_of(algorithm: GostKeyAlgorithm) -> ParamSet:
    """The parameter set named by a GOST key's AlgorithmIdentifier."""
    oid = algorithm["algorithm"].dotted
    bits = params.KEY_OIDS.get(oid)
    if bits is None:
        raise UnsupportedAlgorithmError(f"not a GOST R 34.10-2012 key: {oid}")
    parameters = algorithm["parameters"]
    if isinstance(parameters, core.Void):
        raise MalformedInputError("a GOST key without its parameter set")
    return params.by_oid(bits, parameters["public_key_param_set"].dotted)


class GostPublicKey:
    """A GOST R 34.10-2012 public key: a curve point on a named parameter set."""

    def __init__(self, paramset: ParamSet, x: int, y: int) -> None:
        self.paramset = paramset
        self.x = x
        self.y = y

    @property
    def key_size(self) -> int:
        return self.paramset.bits

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, GostPublicKey)
            and other.paramset.curve == self.paramset.curve
            and (other.x, other.y) == (self.x, self.y)
        )

    def __hash__(self) -> int:
        return hash((self.paramset.curve, self.x, self.y))

    def __repr__(self) -> str:
        return f"<GostPublicKey {self.paramset.key_name}>"

    def _point_be(self) -> bytearray:
        size = self.paramset.size
        return bytearray(self.x.to_bytes(size, "big") + self.y.to_bytes(size, "big"))

    def point_octets(self) -> bytes:
        """Little-endian ``X || Y``: the OCTET STRING inside the SubjectPublicKeyInfo."""
        size = self.paramset.size
        return self.x.to_bytes(size, "little") + self.y.to_bytes(size, "little")

    def spki(self) -> GostPublicKeyInfo:
        """The SubjectPublicKeyInfo (RFC 9215 §4.3)."""
        return GostPublicKeyInfo(
            {
                "algorithm": _algorithm(self.paramset),
                "public_key": core.OctetString(self.point_octets()).dump(),
            }
        )

    def spki_der(self) -> bytes:
        der: bytes = self.spki().dump()
        return der

    def public_bytes(
        self, encoding: serialization.Encoding, format: serialization.PublicFormat
    ) -> bytes:
        """SubjectPublicKeyInfo as DER or PEM (the only form a GOST public key has here;
        the signature mirrors ``cryptography``'s so storage code treats keys alike)."""
        if format is not serialization.PublicFormat.SubjectPublicKeyInfo:
            raise UnsupportedAlgorithmError("a GOST public key is written as SubjectPublicKeyInfo")
        der = self.spki_der()
        return _armor(der, "PUBLIC KEY") if encoding is serialization.Encoding.PEM else der

    def key_identifier(self) -> bytes:
        """RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING's value."""
        return hashlib.sha1(core.OctetString(self.point_octets()).dump()).digest()

    @classmethod
    def from_spki(cls, spki: bytes) -> GostPublicKey:
        """Read a DER SubjectPublicKeyInfo carrying a GOST key."""
        try:
            info = GostPublicKeyInfo.load(spki, strict=True)
            paramset = paramset_of(info["algorithm"])
            octets = core.OctetString.load(bytes(info["public_key"].native), strict=True).native
        except PARSE_ERRORS as exc:
            raise MalformedInputError(f"malformed GOST public key: {exc}") from exc
        size = paramset.size
        if not isinstance(octets, bytes) or len(octets) != 2 * size:
            raise MalformedInputError(f"a {paramset.bits}-bit GOST point has {2 * size} octets")
        return cls(
            paramset,
            int.from_bytes(octets[:size], "little"),
            int.from_bytes(octets[size:], "little"),
        )

    def verify_digest(self, signature: bytes, digest: bytes) -> None:
        """Check an X.509/CMS signature (``s || r``) over a Streebog digest, or raise
        :class:`InvalidSignatureError`."""
        size = self.paramset.size
        if len(signature) != 2 * size or len(digest) != size:
            raise InvalidSignatureError("the GOST signature or digest has the wrong length")
        r_s = bytearray(signature[size:] + signature[:size])
        try:
            ok = _engine(self.paramset).verify(self._point_be(), bytearray(digest[::-1]), r_s)
        except UnsupportedAlgorithmError:
            raise
        except Exception as exc:  # gostcrypto raises its own error class for bad input
            raise InvalidSignatureError(f"GOST signature check failed: {exc}") from exc
        if not ok:
            raise InvalidSignatureError("the GOST R 34.10-2012 signature does not match")


class GostPrivateKey:
    """A GOST R 34.10-2012 private key (scalar ``d``) on a named parameter set."""

    def __init__(self, paramset: ParamSet, d: int) -> None:
        engine = _engine(paramset)
        if not 0 < d < engine._q:
            raise MalformedInputError("the GOST private key is out of range")
        self.paramset = paramset
        self._d = d
        self._public: GostPublicKey | None = None

    @property
    def key_size(self) -> int:
        return self.paramset.bits

    def __repr__(self) -> str:
        return f"<GostPrivateKey {self.paramset.key_name}>"

    @classmethod
    def generate(cls, paramset: ParamSet) -> GostPrivateKey:
        """A fresh key: a uniform scalar in [1, q) from the OS random source."""
        q = _engine(paramset)._q
        while True:
            d = int.from_bytes(os.urandom(paramset.size + 8), "big") % q
            if d:
                return cls(paramset, d)

    def _d_be(self) -> bytearray:
        return bytearray(self._d.to_bytes(self.paramset.size, "big"))

    def public_key(self) -> GostPublicKey:
        if self._public is None:
            point = _engine(self.paramset).public_key_generate(self._d_be())
            size = self.paramset.size
            self._public = GostPublicKey(
                self.paramset,
                int.from_bytes(point[:size], "big"),
                int.from_bytes(point[size:], "big"),
            )
        return self._public

    def sign_digest(self, digest: bytes) -> bytes:
        """Sign a Streebog digest; the signature as X.509 and CMS carry it (``s || r``)."""
        size = self.paramset.size
        if len(digest) != size:
            raise MalformedInputError(
                f"a {self.paramset.bits}-bit GOST key signs {size}-octet digests"
            )
        r_s = bytes(_engine(self.paramset).sign(self._d_be(), bytearray(digest[::-1])))
        return r_s[size:] + r_s[:size]

    def pkcs8_der(self) -> bytes:
        """Unencrypted PrivateKeyInfo, as openssl's GOST engine writes it."""
        info = GostPrivateKeyInfo(
            {
                "version": 0,
                "private_key_algorithm": _algorithm(self.paramset),
                "private_key": core.OctetString(self._d.to_bytes(self.paramset.size, "little")),
            }
        )
        der: bytes = info.dump()
        return der

    def private_bytes(
        self,
        encoding: serialization.Encoding,
        format: serialization.PrivateFormat,
        encryption_algorithm: serialization.KeySerializationEncryption,
    ) -> bytes:
        """Unencrypted PKCS#8 as DER or PEM, mirroring ``cryptography``'s signature so
        esign's storage (which encrypts with PBES2 itself) handles GOST keys too."""
        if format is not serialization.PrivateFormat.PKCS8 or not isinstance(
            encryption_algorithm, serialization.NoEncryption
        ):
            raise UnsupportedAlgorithmError(
                "a GOST key is serialized as unencrypted PKCS#8 here; esign encrypts it"
            )
        der = self.pkcs8_der()
        return _armor(der, "PRIVATE KEY") if encoding is serialization.Encoding.PEM else der

    def same_key(self, other: GostPrivateKey) -> bool:
        """Constant-time comparison of two private keys."""
        return other.paramset.curve == self.paramset.curve and hmac.compare_digest(
            self._d.to_bytes(64, "big"), other._d.to_bytes(64, "big")
        )


def _scalar(raw: bytes, size: int) -> int:
    """The private scalar from the PKCS#8 privateKey octets, in any form seen in the wild."""
    try:
        inner = core.Asn1Value.load(raw, strict=True)
    except (ValueError, TypeError):
        inner = None
    if inner is not None and inner.tag == 2 and inner.class_ == 0:  # INTEGER, big-endian
        return int(core.Integer.load(raw).native)
    if inner is not None and inner.tag == 4 and inner.class_ == 0 and len(inner.contents) == size:
        return int.from_bytes(inner.contents, "little")
    if len(raw) == size:
        return int.from_bytes(raw, "little")
    raise MalformedInputError("malformed GOST private key value")


def is_gost_pkcs8(der: bytes) -> bool:
    """Whether a DER PrivateKeyInfo carries a GOST R 34.10-2012 key."""
    try:
        info = GostPrivateKeyInfo.load(der)
        oid: str = info["private_key_algorithm"]["algorithm"].dotted
    except PARSE_ERRORS:
        return False
    return oid in params.KEY_OIDS


def load_pkcs8(der: bytes) -> GostPrivateKey:
    """Read an unencrypted PrivateKeyInfo holding a GOST key."""
    try:
        info = GostPrivateKeyInfo.load(der, strict=True)
        paramset = paramset_of(info["private_key_algorithm"])
        raw = info["private_key"].contents
    except PARSE_ERRORS as exc:
        raise MalformedInputError(f"malformed GOST private key: {exc}") from exc
    return GostPrivateKey(paramset, _scalar(bytes(raw), paramset.size))


def generate(name: str) -> GostPrivateKey:
    """A new key for an esign GOST key name (``gost2012-256-tca``, ``gost2012-512-a``, ...)."""
    return GostPrivateKey.generate(params.paramset(name))
