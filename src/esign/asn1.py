"""ASN.1 structures and identifiers that asn1crypto lacks, in one place.

- GCMParameters (RFC 5084) for AES-GCM content encryption;
- ECC-CMS-SharedInfo (RFC 5753 §7.2), the KDF input for ECDH key agreement in CMS;
- the dhSinglePass-stdDH-*kdf-scheme identifiers (RFC 5753 §7.1.4), registered with
  asn1crypto's key-encryption algorithm map so KeyAgreeRecipientInfo parses by name.
"""

from __future__ import annotations

from asn1crypto import algos, cms, core, tsp

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


# --- X25519 / X448 key agreement in CMS (RFC 8418) -----------------------------------------

#: dhSinglePass-stdDH-hkdf-<hash>-scheme OIDs (RFC 8418 §2.1): HKDF instead of X9.63.
HKDF_KDF_SCHEMES: dict[str, str] = {
    "1.2.840.113549.1.9.16.3.19": "dh_single_pass_std_dh_hkdf_sha256_scheme",
    "1.2.840.113549.1.9.16.3.20": "dh_single_pass_std_dh_hkdf_sha384_scheme",
    "1.2.840.113549.1.9.16.3.21": "dh_single_pass_std_dh_hkdf_sha512_scheme",
}
HKDF_KDF_HASH: dict[str, str] = {name: name.split("_")[-2] for name in HKDF_KDF_SCHEMES.values()}


# --- password recipients (RFC 3211 / RFC 5652 §6.2.4) -------------------------------------

PWRI_KEK_OID = "1.2.840.113549.1.9.16.3.9"  # id-alg-PWRI-KEK


# --- KEM recipients (RFC 9629), ML-KEM (RFC 9936) -----------------------------------------

KEM_ORI_OID = "1.2.840.113549.1.9.16.13.3"  # id-ori-kem
HKDF_SHA256_OID = "1.2.840.113549.1.9.16.3.28"  # id-alg-hkdf-with-sha256 (RFC 8619)
ML_KEM_OIDS: dict[str, str] = {
    "2.16.840.1.101.3.4.4.1": "ml_kem_512",
    "2.16.840.1.101.3.4.4.2": "ml_kem_768",
    "2.16.840.1.101.3.4.4.3": "ml_kem_1024",
}


class KdfAlgorithmIdentifier(core.Sequence):
    """KeyDerivationAlgorithmIdentifier: an OID and optional parameters (RFC 5652)."""

    _fields = [
        ("algorithm", core.ObjectIdentifier),
        ("parameters", core.Any, {"optional": True}),
    ]


class KemAlgorithmIdentifier(core.Sequence):
    """KEMAlgorithmIdentifier (RFC 9629): for ML-KEM the parameters are absent."""

    _fields = [
        ("algorithm", core.ObjectIdentifier),
        ("parameters", core.Any, {"optional": True}),
    ]


class KEMRecipientInfo(core.Sequence):
    """RFC 9629 §3 KEMRecipientInfo, carried in an OtherRecipientInfo (id-ori-kem)."""

    _fields = [
        ("version", core.Integer),
        ("rid", cms.RecipientIdentifier),
        ("kem", KemAlgorithmIdentifier),
        ("kemct", core.OctetString),
        ("kdf", KdfAlgorithmIdentifier),
        ("kek_length", core.Integer),
        ("ukm", core.OctetString, {"explicit": 0, "optional": True}),
        ("wrap", cms.KeyEncryptionAlgorithm),
        ("encrypted_key", core.OctetString),
    ]


class CMSORIforKEMOtherInfo(core.Sequence):
    """RFC 9629 §5: the ``info`` input to the KDF, binding the wrap algorithm and length."""

    _fields = [
        ("wrap", cms.KeyEncryptionAlgorithm),
        ("kek_length", core.Integer),
        ("ukm", core.OctetString, {"explicit": 0, "optional": True}),
    ]


# --- esign's recipient binding (a private signed attribute) --------------------------------

#: esign-recipient-binding. No IETF signed attribute names the intended recipients of a
#: sign-then-encrypt message (RFC 2634, 5035 and 8551 have none), so esign uses an OID
#: under the UUID arc 2.25 (ITU-T X.667), which needs no registration and cannot collide.
RECIPIENT_BINDING_OID = "2.25.252135101615601656302406907465207312810"


class IntendedRecipient(core.Choice):
    """Who a sealed document is for: a certificate (as CMS names it) or a password record."""

    _alternatives = [
        ("issuer_and_serial_number", cms.IssuerAndSerialNumber),
        ("subject_key_identifier", core.OctetString, {"implicit": 0}),
        # SHA-256 of the DER of the PasswordRecipientInfo (there is no name to give).
        ("password_record", core.OctetString, {"implicit": 1}),
    ]


class IntendedRecipients(core.SequenceOf):
    _child_spec = IntendedRecipient


class RecipientBinding(core.Sequence):
    """The signer's statement: these recipients, and exactly these recipient records.

    ``recipient_infos_digest`` is the SHA-256 of the DER of the envelope's RecipientInfos
    SET, so a record changed, removed or added after signing is detected by every
    recipient, not only the one whose record it is.
    """

    _fields = [
        ("version", core.Integer),
        ("recipients", IntendedRecipients),
        ("digest_algorithm", algos.DigestAlgorithm),
        ("recipient_infos_digest", core.OctetString),
    ]


def _register_envelope() -> None:
    for oid, name in HKDF_KDF_SCHEMES.items():
        cms.KeyEncryptionAlgorithmId._map[oid] = name
        cms.KeyEncryptionAlgorithmId._reverse_map[name] = oid
        cms.KeyEncryptionAlgorithm._oid_specs[name] = cms.KeyEncryptionAlgorithm
    cms.KeyEncryptionAlgorithmId._map[PWRI_KEK_OID] = "pwri_kek"
    cms.KeyEncryptionAlgorithmId._reverse_map["pwri_kek"] = PWRI_KEK_OID
    # The PWRI-KEK parameter names the block cipher and its IV (RFC 3211 §2.3.1).
    cms.KeyEncryptionAlgorithm._oid_specs["pwri_kek"] = algos.EncryptionAlgorithm
    cms.CMSAttributeType._map[RECIPIENT_BINDING_OID] = "esign_recipient_binding"
    if cms.CMSAttributeType._reverse_map is not None:
        cms.CMSAttributeType._reverse_map["esign_recipient_binding"] = RECIPIENT_BINDING_OID
    cms.CMSAttribute._oid_specs["esign_recipient_binding"] = RecipientBindings


class RecipientBindings(core.SetOf):
    _child_spec = RecipientBinding


_register_envelope()


# --- simple-signature attestation (esign's own content type) ------------------------------

#: id-ct-esign-simpleSignatureAttestation: the eContentType of the CMS SignedData a
#: service seals for a simple signature. No standard ASN.1 structure says "this
#: authenticated account approved this digest at this time with these factors" (RFC 3161
#: TSTInfo attests existence, not approval; SAML assertions, OpenID Connect ID tokens and
#: the ETSI TS 119 432 signature activation data are XML/JSON and carry no document
#: digest), so esign defines one. Like the recipient binding above it is an OID of its own
#: under the UUID arc 2.25 (ITU-T X.667): no registration, no collision.
SIMPLE_ATTESTATION_OID = "2.25.36155628065239553139300622206693690879"

#: id-kp-esign-simpleAttestation: the extended key usage of the one certificate a service
#: seals simple-signature attestations with (CA profile ``attestation``). Without it any
#: certificate under the service's anchor (every taxpayer's) could seal "account A
#: approved D"; with it only the certificates the CA issued for that job can. A fresh UUID
#: under the arc 2.25 (ITU-T X.667), like the content type above.
SIMPLE_ATTESTATION_EKU_OID = "2.25.121197472613085999320397331202864498459"


class AuthenticationFactors(core.SequenceOf):
    _child_spec = core.UTF8String


class SimpleSignatureAttestation(core.Sequence):
    """The service's statement that ``account`` approved ``document_digest`` at
    ``approved_at``, authenticated with ``factors``. The digest reuses RFC 3161's
    MessageImprint (hash algorithm + hashed message)."""

    _fields = [
        ("version", core.Integer),
        ("account", core.UTF8String),
        ("document_digest", tsp.MessageImprint),
        ("approved_at", core.GeneralizedTime),
        ("factors", AuthenticationFactors),
        ("service", core.UTF8String),
    ]


def _register_simple() -> None:
    cms.ContentType._map[SIMPLE_ATTESTATION_OID] = "esign_simple_attestation"
    if cms.ContentType._reverse_map is not None:
        cms.ContentType._reverse_map["esign_simple_attestation"] = SIMPLE_ATTESTATION_OID


_register_simple()


# --- key check (esign) ---------------------------------------------------------------------
#: esign private attribute in a PKCS#8 PrivateKeyInfo: SHA-256 of the key's
#: SubjectPublicKeyInfo. PBES2 with AES-CBC has no MAC, so a damaged encrypted seed-form
#: key (Ed25519, X25519, ML-DSA, ML-KEM) can decrypt to another valid key; this value,
#: encrypted with the key, lets a reader tell. No standard attribute exists for it
#: (OneAsymmetricKey v2's publicKey field is refused by OpenSSL 3.0 and cryptography 50);
#: readers that do not know the attribute ignore it. UUID arc (X.667): a fresh UUID.
KEY_CHECK_OID = "2.25.160893174522935349785095633102716591530"


class _OctetStrings(core.SetOf):
    _child_spec = core.OctetString


class KeyCheckAttribute(core.Sequence):
    """Attribute ::= SEQUENCE { type OBJECT IDENTIFIER, values SET OF OCTET STRING }."""

    _fields = [("type", core.ObjectIdentifier), ("values", _OctetStrings)]


class KeyCheckAttributes(core.SetOf):
    """The ``attributes [0] IMPLICIT`` of a PrivateKeyInfo, as esign writes them."""

    _child_spec = KeyCheckAttribute


def _keep_unique_ids_as_received() -> None:
    """Read X.509 subject/issuer unique identifiers as plain BIT STRINGs.

    asn1crypto declares them as OctetBitString, which re-encodes a BIT STRING with
    unused bits (``82 02 05 20`` becomes ``82 02 00 20``) as soon as it is parsed, so the
    TBSCertificate pyHanko hands to the signature check is no longer what the CA signed
    (NIST PKITS ValidNameChainingUIDsTest6). A BitString keeps the bytes received.
    """
    from asn1crypto import x509

    fields = x509.TbsCertificate._fields
    if all(spec is not core.OctetBitString for name, spec, *_ in fields if "unique_id" in name):
        return
    x509.TbsCertificate._fields = [
        (name, core.BitString, *rest) if "unique_id" in name else (name, spec, *rest)
        for name, spec, *rest in fields
    ]
    if "_field_map" in vars(x509.TbsCertificate):  # already set up by an earlier parse
        x509.TbsCertificate()._setup()


_keep_unique_ids_as_received()
