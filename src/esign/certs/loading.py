"""Reading certificates from PEM or DER bytes and files, with bounds and named errors."""

from __future__ import annotations

import os

from cryptography import x509

from esign.diagnose import explain
from esign.errors import EsignError, MalformedInputError

MAX_CERT_FILE = 16 << 20  # a bundle of certificates is never larger than 16 MiB
MAX_CERTS_PER_FILE = 1000


def parse_certificates(data: bytes) -> list[x509.Certificate]:
    """Parse one DER certificate or one or more PEM certificates."""
    if len(data) > MAX_CERT_FILE:
        raise MalformedInputError("certificate input larger than 16 MiB")
    try:
        if b"-----BEGIN" in data:
            certs = x509.load_pem_x509_certificates(data)
        else:
            certs = [x509.load_der_x509_certificate(data)]
    except (ValueError, x509.InvalidVersion) as exc:
        raise MalformedInputError(
            explain(
                data,
                "certificate",
                exc,
                pem_labels=("CERTIFICATE",),
                der_only=True,
                advice="give an X.509 certificate in PEM or DER",
            )
        ) from exc
    if not certs:
        raise MalformedInputError("no certificate found")
    if len(certs) > MAX_CERTS_PER_FILE:
        raise MalformedInputError(f"more than {MAX_CERTS_PER_FILE} certificates in one input")
    return certs


def load_certificates(path: str | os.PathLike[str]) -> list[x509.Certificate]:
    """Read every certificate in a PEM or DER file."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_CERT_FILE + 1)
    except OSError as exc:
        raise EsignError(
            f"cannot read certificate file {os.fspath(path)!r}: {exc.strerror}"
        ) from exc
    return parse_certificates(data)


def load_certificate(path: str | os.PathLike[str]) -> x509.Certificate:
    """Read a file that must hold exactly one certificate."""
    certs = load_certificates(path)
    if len(certs) != 1:
        raise MalformedInputError(
            f"{os.fspath(path)!r} holds {len(certs)} certificates, expected exactly one"
        )
    return certs[0]
