"""Property tests: a changed CRL, OCSP response or CSR is refused with a named error.

One edit anywhere (flip a bit, insert, delete, truncate) must make the reader raise its
EsignError subclass; nothing else may escape, and nothing changed is ever believed.
"""

from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from hypothesis import given
from hypothesis import strategies as st

from esign.certs import CertificateAuthority, TrustContext
from esign.certs.csr import create_csr, load_csr
from esign.certs.revocation import read_ocsp_response
from esign.errors import InvalidCsrError, MalformedInputError, RevocationError
from esign.keys import generate_key

ROOT = CertificateAuthority.create_root("CN=Property Root")
CA = ROOT.create_intermediate("CN=Property CA", delta_crl_url="http://127.0.0.1/d.crl")
KEY = generate_key("ec-p256")
LEAF = CA.issue(KEY.public_key(), subject="CN=Leaf", email="leaf@example.org")
GONE = CA.issue(KEY.public_key(), subject="CN=Gone")
CA.revoke(GONE, "keyCompromise")
CRL = CA.crl().public_bytes(Encoding.DER)
DELTA = CA.delta_crl().public_bytes(Encoding.DER)
ROOT_CRL = ROOT.crl().public_bytes(Encoding.DER)


def _trust(crl: bytes) -> TrustContext:
    return TrustContext(
        [ROOT.certificate], intermediates=[CA.certificate], crls=[ROOT_CRL, crl, DELTA]
    )


RESPONDER_KEY = generate_key("ec-p256")
RESPONDER = CA.issue(RESPONDER_KEY.public_key(), subject="CN=Responder", profile="ocsp")
REQUEST = (
    ocsp.OCSPRequestBuilder()
    .add_certificate(GONE, CA.certificate, hashes.SHA256())
    .add_extension(x509.OCSPNonce(b"0123456789abcdef"), critical=False)
    .build()
    .public_bytes(Encoding.DER)
)
DIRECT = CA.ocsp_response(REQUEST)
DELEGATED = CA.ocsp_response(REQUEST, responder=(RESPONDER_KEY, RESPONDER))
CSR = create_csr(KEY, x509.Name.from_rfc4514_string("CN=Requester")).public_bytes(Encoding.DER)

edits = st.tuples(
    st.sampled_from(["flip", "insert", "delete", "truncate"]),
    st.integers(min_value=0, max_value=1 << 16),
    st.integers(min_value=0, max_value=255),
)


def mutate(data: bytes, edit: tuple[str, int, int]) -> bytes:
    kind, position, value = edit
    i = position % (len(data) + (kind == "insert"))
    if kind == "flip":
        return data[:i] + bytes([data[i] ^ (1 << (value % 8))]) + data[i + 1 :]
    if kind == "insert":
        return data[:i] + bytes([value]) + data[i:]
    if kind == "delete":
        return data[:i] + data[i + 1 :]
    return data[:i]


def test_originals_are_accepted() -> None:
    assert [f.code for f in _trust(CRL).validate(GONE).failures] == ["revoked"]
    assert _trust(CRL).validate(LEAF).trusted
    for answer in (DIRECT, DELEGATED):
        status = read_ocsp_response(
            answer, issuer=CA.certificate, serial=GONE.serial_number, nonce=b"0123456789abcdef"
        )
        assert status.status.value == "revoked"
    assert load_csr(CSR).public_key == KEY.public_key()


@given(edits)
def test_changed_crl_is_refused(edit: tuple[str, int, int]) -> None:
    changed = mutate(CRL, edit)
    try:
        trust = _trust(changed)
    except MalformedInputError:
        return
    # a changed CRL never hides a revocation ...
    assert not trust.validate(GONE).trusted
    # ... and is believed only if its signed bytes are the original's (DER has a few
    # encodings that parse to the same signed bytes; then nothing changed)
    if trust.validate(LEAF).trusted:
        parsed = x509.load_der_x509_crl(changed)
        assert parsed.tbs_certlist_bytes in CRL and parsed.signature in CRL


@given(edits, st.sampled_from(["direct", "delegated"]))
def test_changed_ocsp_response_is_refused(edit: tuple[str, int, int], which: str) -> None:
    original = DIRECT if which == "direct" else DELEGATED
    changed = mutate(original, edit)
    try:
        status = read_ocsp_response(
            changed,
            issuer=CA.certificate,
            serial=GONE.serial_number,
            nonce=b"0123456789abcdef",
            at=datetime.datetime.now(datetime.timezone.utc),
        )
    except RevocationError:
        return
    response = ocsp.load_der_ocsp_response(changed)
    assert response.tbs_response_bytes in original and response.signature in original
    assert status.status.value == "revoked"


@given(edits)
def test_changed_csr_is_refused(edit: tuple[str, int, int]) -> None:
    changed = mutate(CSR, edit)
    try:
        request = load_csr(changed)
    except InvalidCsrError:
        return
    assert request.csr is not None and request.csr.tbs_certrequest_bytes in CSR
