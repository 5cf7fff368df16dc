"""ASN.1 structures for GOST keys that asn1crypto's key classes refuse (they dispatch on a
closed list of algorithm OIDs). Field names follow RFC 5280 / RFC 5958."""

from __future__ import annotations

from asn1crypto import core


class GostKeyParameters(core.Sequence):  # type: ignore[misc]
    """GostR3410-2012-PublicKeyParameters (RFC 9215 §4.2)."""

    _fields = [  # noqa: RUF012
        ("public_key_param_set", core.ObjectIdentifier),
        ("digest_param_set", core.ObjectIdentifier, {"optional": True}),
    ]


class GostKeyAlgorithm(core.Sequence):  # type: ignore[misc]
    """AlgorithmIdentifier of a GOST R 34.10-2012 key."""

    _fields = [  # noqa: RUF012
        ("algorithm", core.ObjectIdentifier),
        ("parameters", GostKeyParameters, {"optional": True}),
    ]


class GostPublicKeyInfo(core.Sequence):  # type: ignore[misc]
    """SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) with a GOST algorithm identifier."""

    _fields = [  # noqa: RUF012
        ("algorithm", GostKeyAlgorithm),
        ("public_key", core.OctetBitString),
    ]


class GostPrivateKeyInfo(core.Sequence):  # type: ignore[misc]
    """OneAsymmetricKey / PrivateKeyInfo (RFC 5958) with a GOST algorithm identifier."""

    _fields = [  # noqa: RUF012
        ("version", core.Integer),
        ("private_key_algorithm", GostKeyAlgorithm),
        ("private_key", core.OctetString),
        ("attributes", core.Any, {"implicit": 0, "optional": True}),
        ("public_key", core.Any, {"implicit": 1, "optional": True}),
    ]
