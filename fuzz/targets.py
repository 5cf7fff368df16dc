"""One fuzz target per entry point that reads outside bytes.

A target takes bytes and calls the entry point; an :class:`esign.errors.EsignError` (a
named refusal) is the expected end for bad input, anything else escaping is a finding.
Seeds are real, valid inputs built here (and the corpus of tests/hostile), so mutations
start deep inside the formats.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import os
import sqlite3
import tempfile
from collections.abc import Callable
from functools import cache
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from esign.errors import EsignError

DOC = b"fuzzed tax return"


@cache
def world() -> dict[str, Any]:
    """A CA, a signer, a recipient and a trust context, made once per process."""
    from esign.certs import CertificateAuthority, TrustContext
    from esign.keys import generate_key

    ca = CertificateAuthority.create_root("CN=Fuzz Root CA")
    key = generate_key("ec-p256")
    cert = ca.issue(key.public_key(), subject="CN=Fuzz Signer", profile="signing")
    rkey = generate_key("ec-p256")
    rcert = ca.issue(rkey.public_key(), subject="CN=Fuzz Recipient", profile="encryption")
    trust = TrustContext([ca.certificate], crls=[ca.crl()])
    at = datetime.datetime.now(datetime.timezone.utc)
    return {"ca": ca, "key": key, "cert": cert, "rkey": rkey, "rcert": rcert,
            "trust": trust, "at": at}  # fmt: skip


def _cms(data: bytes) -> None:
    from esign.signing.verify import verify

    w = world()
    verify(data, trust=w["trust"], at=w["at"])


def _cms_detached(data: bytes) -> None:
    from esign.signing.verify import verify

    w = world()
    verify(data, DOC, trust=w["trust"], at=w["at"])


def _cms_stream(data: bytes) -> None:
    import io

    from esign.signing.streaming import verify_stream

    w = world()
    verify_stream(io.BytesIO(data), trust=w["trust"], at=w["at"], out=io.BytesIO())


def _envelope(data: bytes) -> None:
    from esign.envelope import open_envelope

    w = world()
    open_envelope(data, recipient=(w["rkey"], w["rcert"]), trust=w["trust"], at=w["at"])


def _envelope_stream(data: bytes) -> None:
    from esign.envelope import open_stream

    w = world()
    open_stream(io.BytesIO(data), io.BytesIO(), recipient=(w["rkey"], w["rcert"]),
                trust=w["trust"], at=w["at"])  # fmt: skip


def _envelope_password(data: bytes) -> None:
    from esign.envelope import open_envelope
    from esign.envelope.recipients import PasswordIdentity

    open_envelope(data, recipient=PasswordIdentity(b"pw"), trust=world()["trust"])


def _smime(data: bytes) -> None:
    from esign.signing.smime import read_smime

    read_smime(data)


def _certificate(data: bytes) -> None:
    from esign.certs.loading import parse_certificates

    w = world()
    for cert in parse_certificates(data):
        w["trust"].validate(cert, at=w["at"])


def _csr(data: bytes) -> None:
    from esign.certs.csr import load_csr

    load_csr(data)


def _crl(data: bytes) -> None:
    from esign.certs.revinfo import parse_crl

    parse_crl(data)


def _ocsp_request(data: bytes) -> None:
    w = world()
    w["ca"].ocsp_response(data)  # the responder: answers, never raises


def _ocsp_response(data: bytes) -> None:
    from esign.certs.revinfo import parse_ocsp_response

    parse_ocsp_response(data)


def _pkcs8(data: bytes) -> None:
    from esign.keys.storage import parse_key

    parse_key(data, b"pw")


def _pkcs12(data: bytes) -> None:
    from esign.keys.pkcs12 import parse_pkcs12

    parse_pkcs12(data, b"pw")


def _trusted_list(data: bytes) -> None:
    from esign.certs.trusted_list import read_trusted_list

    read_trusted_list(data, verify_signature=False)


def _sqlite_file(opener: Callable[[str], Any]) -> Callable[[bytes], None]:
    def target(data: bytes) -> None:
        fd, path = tempfile.mkstemp(suffix=".db")
        try:
            os.write(fd, data)
            os.close(fd)
            handle = opener(path)
            with contextlib.suppress(EsignError):
                handle.close()
        finally:
            os.unlink(path)

    return target


def _vault(path: str) -> Any:
    from esign.keys.vault import KeyVault

    vault = KeyVault(path)
    vault.list_keys() if hasattr(vault, "list_keys") else None
    return vault


def _credentials(path: str) -> Any:
    from esign.simple.credentials import CredentialStore

    return CredentialStore(path, secret_key=bytes(32))


TARGETS: dict[str, Callable[[bytes], None]] = {
    "cms": _cms,
    "cms_detached": _cms_detached,
    "cms_stream": _cms_stream,
    "envelope": _envelope,
    "envelope_stream": _envelope_stream,
    "envelope_password": _envelope_password,
    "smime": _smime,
    "certificate": _certificate,
    "csr": _csr,
    "crl": _crl,
    "ocsp_request": _ocsp_request,
    "ocsp_response": _ocsp_response,
    "pkcs8": _pkcs8,
    "pkcs12": _pkcs12,
    "trusted_list": _trusted_list,
    "vault_file": _sqlite_file(_vault),
    "credential_file": _sqlite_file(_credentials),
}

#: Exceptions a target may end with besides EsignError (none yet: each is a finding).
EXPECTED: tuple[type[BaseException], ...] = (EsignError,)
#: sqlite3 refusing a file that is not a database is what a vault open should name.
SQLITE_FINDING = sqlite3.Error


def run_one(name: str, data: bytes) -> None:
    """Call target ``name``; a named refusal is fine, anything else propagates."""
    with contextlib.suppress(*EXPECTED):
        TARGETS[name](data)


def seeds(name: str) -> list[bytes]:
    """Valid inputs for ``name`` (mutations start from these)."""
    from esign.envelope import seal
    from esign.envelope.recipients import PasswordRecipient
    from esign.keys.pkcs12 import dump_pkcs12
    from esign.keys.storage import dump_key
    from esign.signing.sign import sign
    from esign.signing.smime import write_smime

    w = world()
    der = serialization.Encoding.DER
    signer = (w["key"], w["cert"])
    if name == "cms":
        return [sign(DOC, signer=signer, detached=False)]
    if name == "cms_detached":
        return [sign(DOC, signer=signer)]
    if name == "cms_stream":  # BER with indefinite lengths (as openssl -stream), and DER
        import io

        from esign.signing.streaming import sign_stream

        streamed = io.BytesIO()
        sign_stream(io.BytesIO(DOC), streamed, signer=signer)
        return [streamed.getvalue(), sign(DOC, signer=signer, detached=False)]
    if name in ("envelope", "envelope_stream"):
        return [seal(DOC, signer=signer, recipients=[w["rcert"]])]
    if name == "envelope_password":
        return [seal(DOC, signer=signer, recipients=[PasswordRecipient(b"pw", 1000)])]
    if name == "smime":
        return [write_smime(DOC, signer=signer), write_smime(DOC, signer=signer, detached=False)]
    if name == "certificate":
        return [w["cert"].public_bytes(der), w["cert"].public_bytes(serialization.Encoding.PEM)]
    if name == "csr":
        from cryptography import x509

        from esign.certs.csr import create_csr

        name = x509.Name.from_rfc4514_string("CN=Fuzz")
        return [create_csr(w["key"], name).public_bytes(der)]
    if name == "crl":
        return [w["ca"].crl().public_bytes(der)]
    request = ocsp.OCSPRequestBuilder().add_certificate(w["cert"], w["ca"].certificate,
                                                          hashes.SHA256()).build()  # fmt: skip
    if name == "ocsp_request":
        return [request.public_bytes(der)]
    if name == "ocsp_response":
        return [w["ca"].ocsp_response(request.public_bytes(der))]
    if name == "pkcs8":
        return [dump_key(w["key"], b"pw", encoding="der")]
    if name == "pkcs12":
        return [dump_pkcs12(w["key"], w["cert"], b"pw")]
    if name == "trusted_list":
        return [w["ca"].certificate.public_bytes(serialization.Encoding.PEM)]
    return [b"SQLite format 3\x00" + bytes(84)]
