"""Properties: mutated revocation data and trusted lists never yield a traceback, and a
mutated CRL never turns a revoked certificate into a trusted one."""

from __future__ import annotations

import contextlib
import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given
from hypothesis import strategies as st

from esign.certs import CertificateAuthority
from esign.certs.revinfo import parse_ocsp_response
from esign.certs.trust import FAILURE_CODES, TrustContext
from esign.certs.trusted_list import TrustedList, read_trusted_list
from esign.errors import MalformedInputError
from esign.keys import generate_key

UTC = datetime.timezone.utc
T0 = datetime.datetime(2026, 1, 1, tzinfo=UTC)
LATER = datetime.datetime(2026, 3, 3, tzinfo=UTC)

CA = CertificateAuthority.create_root("CN=Property CA", clock=lambda: T0)
IVANOV = CA.issue(generate_key("ec-p256").public_key(), subject="CN=Ivanov")
CRL = (
    x509.CertificateRevocationListBuilder()
    .issuer_name(CA.certificate.subject)
    .last_update(T0)
    .next_update(T0 + datetime.timedelta(days=90))
    .add_revoked_certificate(
        x509.RevokedCertificateBuilder()
        .serial_number(IVANOV.serial_number)
        .revocation_date(T0 + datetime.timedelta(days=1))
        .build()
    )
    .sign(CA.key, hashes.SHA256())  # type: ignore[arg-type]
    .public_bytes(Encoding.DER)
)


def mutate(data: bytes, position: int, value: int, truncate: bool) -> bytes:
    position %= len(data)
    if truncate:
        return data[:position]
    if data[position] == value:
        value ^= 0xFF
    return data[:position] + bytes([value]) + data[position + 1 :]


mutations = st.tuples(
    st.integers(min_value=0, max_value=1 << 20),
    st.integers(min_value=0, max_value=255),
    st.booleans(),
)


@given(mutations)
def test_mutated_crl_never_validates_a_revoked_certificate(change: tuple[int, int, bool]) -> None:
    crl = mutate(CRL, *change)
    try:
        trust = TrustContext([CA.certificate], crls=[crl], check_revocation=True)
    except MalformedInputError:
        return
    result = trust.validate(IVANOV, at=LATER)
    assert not result.trusted
    assert {f.code for f in result.failures} <= set(FAILURE_CODES)


@given(st.binary(max_size=300))
def test_random_ocsp_bytes_are_named_errors(data: bytes) -> None:
    with pytest.raises(MalformedInputError):
        parse_ocsp_response(data)


JSON_LIST = TrustedList(jurisdiction="ru", issuers=[CA.certificate]).to_json().encode()


@given(mutations)
def test_mutated_json_trusted_list_never_tracebacks(change: tuple[int, int, bool]) -> None:
    with contextlib.suppress(MalformedInputError):
        tl = read_trusted_list(mutate(JSON_LIST, *change))
        assert tl.jurisdiction in ("eidas", "ru")
