"""The OCSP responder tells a bad request (malformedRequest) from its own failure to sign
(internalError, RFC 6960 §2.3): a token or vault that fails must not look like the
client's mistake, or clients stop asking instead of retrying."""

from __future__ import annotations

import urllib.request

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp

from esign.certs import CertificateAuthority
from esign.certs.ocsp_server import OcspServer
from esign.errors import OcspSigningError, RevocationError, TokenError
from esign.keys import generate_key


class FailingToken:
    """A key handle (not a LocalKey) whose device fails when asked to sign."""

    algorithm = "ec-p256"

    def __init__(self, failure: Exception) -> None:
        self._public = generate_key("ec-p256").public_key()
        self.failure = failure

    def public_key(self):  # type: ignore[no-untyped-def]
        return self._public

    def sign(self, data: bytes, **kw: object) -> bytes:
        raise self.failure

    def decrypt(self, *a: object, **kw: object) -> bytes:
        raise NotImplementedError

    exchange = decapsulate = decrypt


FAILURES = [ValueError("CKR_DEVICE_REMOVED"), TokenError("the token was removed")]


def _setup(failure: Exception) -> tuple[CertificateAuthority, tuple[FailingToken, object], bytes]:
    ca = CertificateAuthority.create_root("CN=Responder Fault CA")
    token = FailingToken(failure)
    responder = ca.issue(token.public_key(), subject="CN=OCSP Responder", profile="ocsp")
    leaf = ca.issue(generate_key("ec-p256").public_key(), subject="CN=Leaf", profile="signing")
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(leaf, ca.certificate, hashes.SHA1())
        .build()
        .public_bytes(Encoding.DER)
    )
    return ca, (token, responder), request


@pytest.mark.parametrize("failure", FAILURES, ids=["ValueError", "TokenError"])
def test_a_signing_failure_is_named_not_a_malformed_request(failure: Exception) -> None:
    ca, responder, request = _setup(failure)
    with pytest.raises(OcspSigningError, match="could not sign its answer") as caught:
        ca.ocsp_response(request, responder=responder)  # type: ignore[arg-type]
    assert isinstance(caught.value, RevocationError) and caught.value.code == "ocsp_signing"
    assert caught.value.__cause__ is failure
    # A request that is really malformed is still the client's fault, key or no key.
    bad = ca.ocsp_response(b"not a request", responder=responder)  # type: ignore[arg-type]
    assert ocsp.load_der_ocsp_response(bad).response_status is (
        ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    )


@pytest.mark.parametrize("failure", FAILURES, ids=["ValueError", "TokenError"])
def test_http_responder_answers_internal_error(failure: Exception) -> None:
    ca, responder, request = _setup(failure)
    with OcspServer(ca, responder=responder) as server:  # type: ignore[arg-type]
        posted = urllib.request.Request(
            server.url, data=request, headers={"Content-Type": "application/ocsp-request"}
        )
        with urllib.request.urlopen(posted, timeout=20) as answer:
            status = ocsp.load_der_ocsp_response(answer.read()).response_status
        assert status is ocsp.OCSPResponseStatus.INTERNAL_ERROR
        malformed = urllib.request.Request(server.url, data=b"garbage")
        with urllib.request.urlopen(malformed, timeout=20) as answer:
            status = ocsp.load_der_ocsp_response(answer.read()).response_status
        assert status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
