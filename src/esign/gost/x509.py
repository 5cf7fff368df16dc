"""GOST-signed X.509: certificates and CRLs built by ``cryptography``, signed by gostcrypto.

``cryptography`` can build but not sign with (or even load) a GOST key, so a structure is
built and signed with a throwaway P-256 key, then its to-be-signed part is rewritten with
asn1crypto: the GOST SubjectPublicKeyInfo goes in, the signature algorithm becomes
id-tc26-signwithdigest-gost3410-12-256/512 (parameters absent, RFC 9215 §3.2), and the
Streebog digest of the new to-be-signed bytes is signed with the GOST key. Only the
encoding round trip is borrowed; no signature of the throwaway key survives.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
from typing import Any

from asn1crypto import core
from asn1crypto import crl as asn1_crl
from asn1crypto import keys as asn1_keys
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from esign.errors import (
    EsignError,
    InvalidSignatureError,
    MalformedInputError,
    UnsupportedAlgorithmError,
)
from esign.gost import params, streebog
from esign.gost.keys import GostPrivateKey, GostPublicKey

_DER = Encoding.DER


@functools.cache
def placeholder_key() -> ec.EllipticCurvePrivateKey:
    """The throwaway key whose signatures are replaced (one per process)."""
    return ec.generate_private_key(ec.SECP256R1())


def _signature_algorithm(bits: int) -> asn1_x509.SignedDigestAlgorithm:
    oid = params.SIGN_256 if bits == 256 else params.SIGN_512
    return asn1_x509.SignedDigestAlgorithm({"algorithm": oid})


def _resign(outer: Any, key: GostPrivateKey, tbs_field: str) -> bytes:
    """Replace the signature algorithm (inner and outer) and value with a GOST signature."""
    algorithm = _signature_algorithm(key.paramset.bits)
    tbs = outer[tbs_field]
    tbs["signature"] = algorithm
    tbs_der = tbs.dump(force=True)
    signature = key.sign_digest(streebog.digest(key.paramset.bits, tbs_der))
    rebuilt = type(outer)(
        {
            tbs_field: type(tbs).load(tbs_der),
            "signature_algorithm": _signature_algorithm(key.paramset.bits),
            "signature": signature,
        }
        if tbs_field == "tbs_cert_list"
        else {
            tbs_field: type(tbs).load(tbs_der),
            "signature_algorithm": _signature_algorithm(key.paramset.bits),
            "signature_value": signature,
        }
    )
    der: bytes = rebuilt.dump()
    return der


def sign_certificate(
    builder: x509.CertificateBuilder,
    issuer_key: GostPrivateKey,
    subject_key: GostPublicKey | None,
) -> x509.Certificate:
    """Sign a certificate ``builder`` (whose public key is :func:`placeholder_key`'s, or a
    real non-GOST key) with a GOST CA key; ``subject_key`` replaces the placeholder."""
    draft = builder.sign(placeholder_key(), hashes.SHA256())
    cert = asn1_x509.Certificate.load(draft.public_bytes(_DER))
    if subject_key is not None:
        cert["tbs_certificate"]["subject_public_key_info"] = asn1_keys.PublicKeyInfo.load(
            subject_key.spki_der()
        )
    return x509.load_der_x509_certificate(_resign(cert, issuer_key, "tbs_certificate"))


def sign_crl(
    builder: x509.CertificateRevocationListBuilder, issuer_key: GostPrivateKey
) -> x509.CertificateRevocationList:
    """Sign a CRL ``builder`` with a GOST CA key."""
    draft = builder.sign(placeholder_key(), hashes.SHA256())
    crl = asn1_crl.CertificateList.load(draft.public_bytes(_DER))
    return x509.load_der_x509_crl(_resign(crl, issuer_key, "tbs_cert_list"))


def build_ocsp_response(
    key: GostPrivateKey,
    issuer: x509.Certificate,
    certificate: x509.Certificate,
    revoked: Any,
    *,
    now: datetime.datetime,
    hash_algorithm: str = "sha1",
    days: int = 1,
) -> bytes:
    """A GOST-signed BasicOCSPResponse for ``certificate`` issued by ``issuer`` (whose key
    is ``key``). ``revoked`` is None or has ``when`` and ``reason`` (x509.ReasonFlags)."""
    if hash_algorithm not in ("sha1", "sha256"):
        raise UnsupportedAlgorithmError("an OCSP CertID is hashed with sha1 or sha256 here")
    issuer_asn1 = asn1_x509.Certificate.load(issuer.public_bytes(_DER))
    key_bits = bytes(issuer_asn1["tbs_certificate"]["subject_public_key_info"]["public_key"].native)
    hasher = getattr(hashlib, hash_algorithm)
    cert_id = asn1_ocsp.CertId(
        {
            "hash_algorithm": {"algorithm": hash_algorithm},
            "issuer_name_hash": hasher(issuer_asn1.subject.dump()).digest(),
            "issuer_key_hash": hasher(key_bits).digest(),
            "serial_number": certificate.serial_number,
        }
    )
    if revoked is None:
        status = asn1_ocsp.CertStatus(name="good", value=core.Null())
    else:
        info = {"revocation_time": revoked.when}
        if revoked.reason is not x509.ReasonFlags.unspecified:
            info["revocation_reason"] = revoked.reason.name
        status = asn1_ocsp.CertStatus(name="revoked", value=info)
    produced = now.replace(microsecond=0)
    tbs = asn1_ocsp.ResponseData(
        {
            "responder_id": asn1_ocsp.ResponderId(
                name="by_key", value=hashlib.sha1(key_bits).digest()
            ),
            "produced_at": produced,
            "responses": [
                {
                    "cert_id": cert_id,
                    "cert_status": status,
                    "this_update": produced,
                    "next_update": produced + datetime.timedelta(days=days),
                }
            ],
        }
    )
    tbs_der = tbs.dump()
    basic = asn1_ocsp.BasicOCSPResponse(
        {
            "tbs_response_data": asn1_ocsp.ResponseData.load(tbs_der),
            "signature_algorithm": _signature_algorithm(key.paramset.bits),
            "signature": key.sign_digest(streebog.digest(key.paramset.bits, tbs_der)),
        }
    )
    response = asn1_ocsp.OCSPResponse(
        {
            "response_status": "successful",
            "response_bytes": {"response_type": "basic_ocsp_response", "response": basic},
        }
    )
    der: bytes = response.dump()
    return der


def public_key_of(certificate: x509.Certificate) -> GostPublicKey:
    """The GOST public key of a certificate (``cryptography`` cannot read it)."""
    tbs = asn1_x509.Certificate.load(certificate.public_bytes(_DER))["tbs_certificate"]
    return GostPublicKey.from_spki(tbs["subject_public_key_info"].dump())


def is_gost_key_certificate(certificate: x509.Certificate) -> bool:
    """Whether the certificate's subject key is a GOST R 34.10-2012 key."""
    spki = asn1_x509.Certificate.load(certificate.public_bytes(_DER))["tbs_certificate"][
        "subject_public_key_info"
    ]
    return str(spki["algorithm"]["algorithm"].dotted) in params.KEY_OIDS


def is_gost_signed(signed: x509.Certificate | x509.CertificateRevocationList) -> bool:
    """Whether a certificate or CRL carries a GOST signature."""
    return signed.signature_algorithm_oid.dotted_string in params.SIGNATURE_OIDS


def verify_signed(tbs: bytes, algorithm_oid: str, signature: bytes, issuer: GostPublicKey) -> None:
    """Check a GOST signature over to-be-signed bytes, or raise
    :class:`InvalidSignatureError` (also for an algorithm that does not fit the key)."""
    bits = params.SIGNATURE_OIDS.get(algorithm_oid)
    if bits is None:
        raise UnsupportedAlgorithmError(f"not a GOST signature algorithm: {algorithm_oid}")
    if bits != issuer.paramset.bits:
        raise InvalidSignatureError(
            f"a {bits}-bit GOST signature cannot come from a {issuer.paramset.bits}-bit key"
        )
    issuer.verify_digest(signature, streebog.digest(bits, tbs))


def verify_certificate_signature(certificate: x509.Certificate, issuer: x509.Certificate) -> None:
    """Check that ``issuer``'s GOST key signed ``certificate``."""
    verify_signed(
        certificate.tbs_certificate_bytes,
        certificate.signature_algorithm_oid.dotted_string,
        certificate.signature,
        public_key_of(issuer),
    )


def verify_crl_signature(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> None:
    """Check that ``issuer``'s GOST key signed ``crl``."""
    verify_signed(
        crl.tbs_certlist_bytes,
        crl.signature_algorithm_oid.dotted_string,
        crl.signature,
        public_key_of(issuer),
    )


def crl_signed_by(crl_der: bytes, issuer_der: bytes) -> bool:
    """Whether the GOST key of ``issuer_der`` signed ``crl_der`` (False for any failure)."""
    try:
        crl = x509.load_der_x509_crl(crl_der)
        verify_crl_signature(crl, x509.load_der_x509_certificate(issuer_der))
    except (EsignError, ValueError):
        return False
    return True


def describe_key(certificate: x509.Certificate) -> str:
    """``GOST R 34.10-2012 256-bit, parameter set TC26-256-A (1.2.643.7.1.2.1.1.1)``."""
    try:
        paramset = public_key_of(certificate).paramset
    except (MalformedInputError, UnsupportedAlgorithmError) as exc:
        return f"GOST R 34.10-2012 (unreadable key: {exc})"
    return f"GOST R 34.10-2012 {paramset.bits}-bit, parameter set {paramset.title} ({paramset.oid})"
