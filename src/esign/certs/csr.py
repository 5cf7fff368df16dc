"""PKCS#10 certification requests (RFC 2986): read, check the proof of possession, create.

A CA takes only three things from a request: the public key (after checking the request's
self-signature, which proves the requester holds the private key), the subject, and the
e-mail/URI alternative names. Key usages and other requested extensions are the profile's
decision, never the requester's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import x25519

from esign.diagnose import explain
from esign.errors import (
    CertificateProfileError,
    InvalidCsrError,
    MalformedInputError,
    UnsupportedAlgorithmError,
)
from esign.keys.algorithms import PrivateKey, PublicKey, algorithm_name, is_public_key
from esign.keys.handle import KeyHandle

MAX_CSR = 1 << 20


@dataclass(frozen=True)
class CertificationRequest:
    """What a CA may take from a verified request."""

    public_key: PublicKey
    subject: x509.Name
    emails: list[str] = field(default_factory=list)
    uris: list[str] = field(default_factory=list)
    csr: x509.CertificateSigningRequest | None = None


def load_csr(data: bytes | x509.CertificateSigningRequest) -> CertificationRequest:
    """Parse a PEM or DER request and verify its self-signature; refuse anything else."""
    if isinstance(data, x509.CertificateSigningRequest):
        csr = data
    else:
        if len(data) > MAX_CSR:
            raise InvalidCsrError("certification request larger than 1 MiB")
        try:
            if b"-----BEGIN" in data:
                csr = x509.load_pem_x509_csr(data)
            else:
                csr = x509.load_der_x509_csr(data)
        except (ValueError, x509.InvalidVersion) as exc:
            raise InvalidCsrError(
                explain(
                    data,
                    "PKCS#10 request",
                    exc,
                    der_only=True,
                    pem_labels=("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"),
                )
            ) from exc
    try:
        public_key = csr.public_key()
        valid = csr.is_signature_valid
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise InvalidCsrError(f"the request's key or signature is unusable: {exc}") from exc
    if not valid:
        raise InvalidCsrError(
            "the request's signature does not verify: no proof that the requester holds the key"
        )
    if not is_public_key(public_key):
        raise UnsupportedAlgorithmError(f"unsupported key type {type(public_key).__name__}")
    emails: list[str] = []
    uris: list[str] = []
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        emails = san.get_values_for_type(x509.RFC822Name)
        uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    except x509.ExtensionNotFound:
        pass
    except ValueError as exc:
        raise InvalidCsrError(f"the request's extensions are malformed: {exc}") from exc
    return CertificationRequest(public_key, csr.subject, emails, uris, csr)


def parse_public_key(data: bytes) -> PublicKey:
    """A PEM or DER SubjectPublicKeyInfo (what ``openssl pkey -pubout`` writes)."""
    try:
        if b"-----BEGIN" in data:
            key = serialization.load_pem_public_key(data)
        else:
            key = serialization.load_der_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise MalformedInputError(f"not a readable public key (PEM or DER): {exc}") from exc
    if not is_public_key(key):
        raise UnsupportedAlgorithmError(f"unsupported key type {type(key).__name__}")
    return key


def create_csr(
    key: PrivateKey | KeyHandle,
    subject: x509.Name | str,
    *,
    emails: Sequence[str] = (),
    dns_names: Sequence[str] = (),
    uris: Sequence[str] = (),
) -> x509.CertificateSigningRequest:
    """A request for ``key`` (signing keys only: the request signs itself).

    ``key`` is an in-memory key or a :class:`~esign.keys.KeyHandle` (a vault entry, a
    token key: the request is signed where the key lives). ``subject`` is a Name or an
    RFC 4514 string; ``emails``, ``dns_names`` and ``uris`` become subjectAltName entries
    (the CA takes e-mail and URI names from a request, see :func:`load_csr`).
    """
    from esign.certs.authority import parse_name, signature_hash
    from esign.certs.handle_signing import sign_csr

    if isinstance(key, x25519.X25519PrivateKey) or (
        isinstance(key, KeyHandle) and key.algorithm == "x25519"
    ):
        raise UnsupportedAlgorithmError("an X25519 key cannot sign a request")
    names: list[x509.GeneralName] = [x509.RFC822Name(e) for e in emails]
    names += [x509.DNSName(d) for d in dns_names]
    names += [x509.UniformResourceIdentifier(u) for u in uris]
    try:
        builder = x509.CertificateSigningRequestBuilder().subject_name(parse_name(subject))
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    except ValueError as exc:
        raise InvalidCsrError(f"cannot make the request: {exc}") from exc
    try:
        algorithm = signature_hash(key)
    except CertificateProfileError:
        name = key.algorithm if isinstance(key, KeyHandle) else algorithm_name(key)
        raise UnsupportedAlgorithmError(
            f"a {name} key cannot sign a request (only signing keys are certified from a request)"
        ) from None
    return sign_csr(builder, key, algorithm)
