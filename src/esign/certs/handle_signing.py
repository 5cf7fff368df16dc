"""X.509 signing through a key handle: certificates, CRLs and OCSP responses whose CA key
never leaves the vault or the token.

``cryptography`` builds these structures (``CertificateBuilder`` and friends) but signs
them only with an in-memory private key. So the builder signs once with a *stand-in* key
of the same kind (generated once per process; its signature is thrown away), which gives
the exact to-be-signed bytes with the right signatureAlgorithm inside; the handle then
signs those bytes and the stand-in's signature is replaced by the handle's. The result
is checked against the handle's public key before it is returned.
"""

from __future__ import annotations

import functools
from typing import Any

from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp

from esign.errors import CertificateProfileError, EsignError
from esign.keys.algorithms import ALGORITHMS, PrivateKey, generate_key
from esign.keys.handle import KeyHandle, LocalKey

#: The hash each handle algorithm signs X.509 structures with (None: the scheme hashes).
_X509_HASHES: dict[str, type[hashes.HashAlgorithm] | None] = {
    "ec-p256": hashes.SHA256,
    "ec-p384": hashes.SHA384,
    "rsa-3072": hashes.SHA256,
    "rsa-4096": hashes.SHA256,
    "ed25519": None,
    "ml-dsa-44": None,
    "ml-dsa-65": None,
    "ml-dsa-87": None,
}
#: Stand-ins need only the right kind: the signature algorithm does not name a key size.
_STAND_IN = {"rsa-3072": "rsa-3072", "rsa-4096": "rsa-3072"}


def handle_hash(handle: KeyHandle) -> hashes.HashAlgorithm | None:
    """The hash a CA key handle signs certificates with (as for an in-memory key)."""
    try:
        chosen = _X509_HASHES[handle.algorithm]
    except KeyError:
        raise CertificateProfileError(
            f"a {handle.algorithm} key cannot sign certificates"
        ) from None
    return None if chosen is None else chosen()


@functools.cache
def _stand_in(algorithm: str) -> PrivateKey:
    """A throw-away key of ``algorithm``'s kind, made once: it only shapes the TBS bytes."""
    return generate_key(_STAND_IN.get(algorithm, algorithm))


_Builder = (
    x509.CertificateBuilder
    | x509.CertificateRevocationListBuilder
    | ocsp.OCSPResponseBuilder
    | x509.CertificateSigningRequestBuilder
)


def _digest_name(algorithm: hashes.HashAlgorithm | None) -> str:
    return "sha256" if algorithm is None else algorithm.name.replace("-", "")


def _scheme(handle: KeyHandle) -> str | None:
    """RSA CA keys sign X.509 with PKCS#1 v1.5 (what ``builder.sign`` writes by default)."""
    return "rsa-pkcs1v15" if handle.algorithm.startswith("rsa") else None


def _stand_in_signed(builder: _Builder, handle: KeyHandle, algorithm: Any) -> Any:
    if handle.algorithm not in ALGORITHMS or handle.algorithm not in _X509_HASHES:
        raise CertificateProfileError(f"a {handle.algorithm} key cannot sign certificates")
    return builder.sign(_stand_in(handle.algorithm), algorithm)  # type: ignore[arg-type]  # RSA: PKCS#1 v1.5


def _resigned(
    key: KeyHandle,
    algorithm: hashes.HashAlgorithm | None,
    draft_der: bytes,
    tbs: bytes,
    spec: type[Any],
    field: str,
) -> bytes:
    """The stand-in draft with its signature ``field`` replaced by the handle's over ``tbs``."""
    signature = key.sign(tbs, digest=_digest_name(algorithm), scheme=_scheme(key))
    parsed = spec.load(draft_der)
    parsed[field] = signature
    der: bytes = parsed.dump(force=False)
    _check(key, signature, tbs, algorithm)
    return der


def sign_certificate(
    builder: x509.CertificateBuilder,
    key: PrivateKey | KeyHandle,
    algorithm: hashes.HashAlgorithm | None,
) -> x509.Certificate:
    """``builder.sign(key, algorithm)`` for an in-memory key or any key handle."""
    private = _private(key)
    if private is not None:
        return builder.sign(private, algorithm)  # type: ignore[arg-type]
    assert isinstance(key, KeyHandle)
    draft: x509.Certificate = _stand_in_signed(builder, key, algorithm)
    der = _resigned(
        key,
        algorithm,
        draft.public_bytes(Encoding.DER),
        draft.tbs_certificate_bytes,
        asn1_x509.Certificate,
        "signature_value",
    )
    return x509.load_der_x509_certificate(der)


def sign_csr(
    builder: x509.CertificateSigningRequestBuilder,
    key: PrivateKey | KeyHandle,
    algorithm: hashes.HashAlgorithm | None,
) -> x509.CertificateSigningRequest:
    """``builder.sign(key, algorithm)`` for a PKCS#10 request, with any key.

    A request carries the public key it proves possession of, so the stand-in's key is
    replaced by the handle's in the request info before the handle signs it.
    """
    from asn1crypto import csr as asn1_csr
    from asn1crypto import keys as asn1_keys
    from cryptography.hazmat.primitives.serialization import PublicFormat

    private = _private(key)
    if private is not None:
        return builder.sign(private, algorithm)  # type: ignore[arg-type]
    assert isinstance(key, KeyHandle)
    draft: x509.CertificateSigningRequest = _stand_in_signed(builder, key, algorithm)
    parsed = asn1_csr.CertificationRequest.load(draft.public_bytes(Encoding.DER))
    spki = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    info = parsed["certification_request_info"]
    info = asn1_csr.CertificationRequestInfo(
        {
            "version": info["version"],
            "subject": info["subject"],
            "subject_pk_info": asn1_keys.PublicKeyInfo.load(spki),
            "attributes": info["attributes"],
        }
    )
    tbs = info.dump()
    signature = key.sign(tbs, digest=_digest_name(algorithm), scheme=_scheme(key))
    request = asn1_csr.CertificationRequest(
        {
            "certification_request_info": info,
            "signature_algorithm": parsed["signature_algorithm"],
            "signature": signature,
        }
    )
    csr = x509.load_der_x509_csr(request.dump())
    _check(key, csr.signature, csr.tbs_certrequest_bytes, algorithm)
    return csr


def sign_crl(
    builder: x509.CertificateRevocationListBuilder,
    key: PrivateKey | KeyHandle,
    algorithm: hashes.HashAlgorithm | None,
) -> x509.CertificateRevocationList:
    """``builder.sign(key, algorithm)`` for a CRL, with an in-memory key or a key handle."""
    private = _private(key)
    if private is not None:
        return builder.sign(private, algorithm)  # type: ignore[arg-type]
    assert isinstance(key, KeyHandle)
    draft: x509.CertificateRevocationList = _stand_in_signed(builder, key, algorithm)
    der = _resigned(
        key,
        algorithm,
        draft.public_bytes(Encoding.DER),
        draft.tbs_certlist_bytes,
        asn1_crl.CertificateList,
        "signature",
    )
    return x509.load_der_x509_crl(der)


def rehearse_ocsp(builder: ocsp.OCSPResponseBuilder) -> None:
    """Sign ``builder`` with a throw-away key and discard the result.

    What the request put in the answer (a negative serial, say) is refused only when the
    answer is signed; a rehearsal with a key that cannot fail tells those faults (the
    request's: ``malformedRequest``) from the real key's (the responder's: ``internalError``).
    """
    stand_in = _stand_in_certificate("ec-p256")
    builder.responder_id(ocsp.OCSPResponderEncoding.HASH, stand_in).sign(
        _stand_in("ec-p256"),  # type: ignore[arg-type]
        hashes.SHA256(),
    )


def sign_ocsp(
    builder: ocsp.OCSPResponseBuilder,
    key: PrivateKey | KeyHandle,
    algorithm: hashes.HashAlgorithm | None,
    responder: x509.Certificate,
) -> ocsp.OCSPResponse:
    """``builder.responder_id(HASH, responder).sign(key, algorithm)`` with any key.

    ``cryptography`` insists that the responder certificate matches the signing key, so
    the stand-in draft names a stand-in certificate; its responderID (the SHA-1 of the
    key, RFC 6960 §4.2.1) is then replaced by the real responder's before signing.
    """
    private = _private(key)
    if private is not None:
        by_hash = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, responder)
        return by_hash.sign(private, algorithm)  # type: ignore[arg-type]
    assert isinstance(key, KeyHandle)
    stand_in = _stand_in_certificate(key.algorithm)
    draft: ocsp.OCSPResponse = _stand_in_signed(
        builder.responder_id(ocsp.OCSPResponderEncoding.HASH, stand_in), key, algorithm
    )
    parsed = asn1_ocsp.OCSPResponse.load(draft.public_bytes(Encoding.DER))
    basic = parsed["response_bytes"]["response"].parsed
    key_hash = x509.SubjectKeyIdentifier.from_public_key(responder.public_key()).digest
    basic["tbs_response_data"]["responder_id"] = asn1_ocsp.ResponderId(
        name="by_key", value=key_hash
    )
    tbs = basic["tbs_response_data"].dump(force=True)
    basic["signature"] = key.sign(tbs, digest=_digest_name(algorithm), scheme=_scheme(key))
    parsed["response_bytes"]["response"] = basic
    response = ocsp.load_der_ocsp_response(parsed.dump(force=True))
    _check(key, response.signature, response.tbs_response_bytes, algorithm)
    return response


@functools.cache
def _stand_in_certificate(algorithm: str) -> x509.Certificate:
    """A self-signed certificate of the stand-in key (only for the OCSP builder's check)."""
    import datetime

    key = _stand_in(algorithm)
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "stand-in")])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())  # type: ignore[arg-type]
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    hash_ = _X509_HASHES[algorithm]
    return builder.sign(key, None if hash_ is None else hash_())  # type: ignore[arg-type]


#: ``cryptography``'s own key classes: checked first, because ``isinstance`` against the
#: runtime-checkable ``KeyHandle`` protocol costs more than an ECDSA signature.
_NATIVE = (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey)


def _private(key: PrivateKey | KeyHandle) -> PrivateKey | None:
    """The in-memory key to give ``cryptography`` directly, if there is one."""
    if isinstance(key, _NATIVE):
        return key
    if isinstance(key, LocalKey):
        return key.private_key
    if isinstance(key, KeyHandle):
        return None
    return key


def _check(
    handle: KeyHandle, signature: bytes, tbs: bytes, algorithm: hashes.HashAlgorithm | None
) -> None:
    """The handle's signature verifies under its public key (a wrong key fails here)."""
    from cryptography.exceptions import InvalidSignature

    public: Any = handle.public_key()
    try:
        if isinstance(public, ec.EllipticCurvePublicKey):
            assert algorithm is not None
            public.verify(signature, tbs, ec.ECDSA(algorithm))
        elif isinstance(public, rsa.RSAPublicKey):
            assert algorithm is not None
            public.verify(signature, tbs, padding.PKCS1v15(), algorithm)
        else:
            public.verify(signature, tbs)
    except InvalidSignature:
        raise EsignError("the key handle's signature does not verify under its own key") from None
