"""ASN.1 structures and identifiers that asn1crypto lacks, in one place.

- GCMParameters (RFC 5084) for AES-GCM content encryption;
- ECC-CMS-SharedInfo (RFC 5753 §7.2), the KDF input for ECDH key agreement in CMS;
- the dhSinglePass-stdDH-*kdf-scheme identifiers (RFC 5753 §7.1.4), registered with
  asn1crypto's key-encryption algorithm map so KeyAgreeRecipientInfo parses by name.
"""

from __future__ import annotations

from asn1crypto import algos, cms, core

#: dhSinglePass-stdDH-<hash>kdf-scheme OIDs (RFC 5753 / SEC 1), by asn1crypto-style name.
ECDH_KDF_SCHEMES: dict[str, str] = {
    "1.3.133.16.840.63.0.2": "dh_single_pass_std_dh_sha1kdf_scheme",
    "1.3.132.1.11.0": "dh_single_pass_std_dh_sha224kdf_scheme",
    "1.3.132.1.11.1": "dh_single_pass_std_dh_sha256kdf_scheme",
    "1.3.132.1.11.2": "dh_single_pass_std_dh_sha384kdf_scheme",
    "1.3.132.1.11.3": "dh_single_pass_std_dh_sha512kdf_scheme",
}

#: The hash each scheme's X9.63 KDF uses.
ECDH_KDF_HASH: dict[str, str] = {
    name: name.split("_")[-2].removesuffix("kdf") for name in ECDH_KDF_SCHEMES.values()
}


class GCMParameters(core.Sequence):
    """RFC 5084 GCMParameters: nonce and ICV (tag) length in octets."""

    _fields = [
        ("aes_nonce", core.OctetString),
        ("aes_icvlen", core.Integer, {"default": 12}),
    ]


class EccCmsSharedInfo(core.Sequence):
    """RFC 5753 ECC-CMS-SharedInfo."""

    _fields = [
        ("key_info", algos.EncryptionAlgorithm),
        ("entity_u_info", core.OctetString, {"explicit": 0, "optional": True}),
        ("supp_pub_info", core.OctetString, {"explicit": 2}),
    ]


def _register() -> None:
    for oid, name in ECDH_KDF_SCHEMES.items():
        cms.KeyEncryptionAlgorithmId._map[oid] = name
        cms.KeyEncryptionAlgorithmId._reverse_map[name] = oid
        # The parameters of a KDF scheme name the key-wrap algorithm (RFC 5753 §7.1.4).
        cms.KeyEncryptionAlgorithm._oid_specs[name] = cms.KeyEncryptionAlgorithm
    for name in ("aes128_gcm", "aes192_gcm", "aes256_gcm"):
        algos.EncryptionAlgorithm._oid_specs[name] = GCMParameters


_register()
