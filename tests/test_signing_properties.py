"""Properties of verification: a change to the signature value, a signed attribute or the
signer's certificate makes it fail; bytes after the DER are refused; any input gives a
report or an EsignError, never another exception (ML-DSA, EC and time-stamped forms)."""

from __future__ import annotations

import contextlib

import pytest
from asn1crypto import cms
from hypothesis import given
from hypothesis import strategies as st

from esign import sign, verify
from esign.errors import EsignError, MalformedInputError
from esign.signing.report import VerificationReport
from esign.signing.timestamps import TimeStampAuthority

from . import _signing_pki as helpers
from .conftest import Pki, make_pki
from .test_properties import Mutation, mutations

PKI: Pki = make_pki()
DOC = b"Tax return 2026\nIncome: 1 250 000\n"
TSA = TimeStampAuthority(*helpers.tsa(PKI.ca))
SIGNATURES = {
    "attached": sign(DOC, signer=(PKI.ivanov_key, PKI.ivanov_cert), detached=False),
    "timestamped": sign(
        DOC, signer=(PKI.ivanov_key, PKI.ivanov_cert), detached=False, timestamper=TSA.timestamper
    ),
}


def _region(der: bytes, part: str) -> tuple[int, int]:
    """Byte range of one part of the first SignerInfo (or its certificate) in ``der``."""
    signed = cms.ContentInfo.load(der)["content"]
    signer = signed["signer_infos"][0]
    if part == "signature":
        piece = signer["signature"].contents
    elif part == "signed_attrs":
        piece = signer["signed_attrs"].dump()
    else:
        piece = signed["certificates"][0].dump()
    start = der.find(piece)
    assert start > 0 and der.find(piece, start + 1) < 0
    return start, start + len(piece)


def _fails(der: bytes) -> bool:
    try:
        report = verify(der, trust=PKI.trust)
    except EsignError:
        return True
    return not report.valid and report.level is None and bool(report.errors)


def test_unmodified_signatures_verify() -> None:
    for der in SIGNATURES.values():
        assert verify(der, trust=PKI.trust).valid


@pytest.mark.parametrize("part", ["signature", "signed_attrs", "certificate"])
@pytest.mark.parametrize("form", sorted(SIGNATURES))
@given(offset=st.integers(min_value=0, max_value=1 << 16), bit=st.integers(0, 7))
def test_any_change_to_a_protected_part_fails(form: str, part: str, offset: int, bit: int) -> None:
    der = SIGNATURES[form]
    start, end = _region(der, part)
    position = start + offset % (end - start)
    changed = bytearray(der)
    changed[position] ^= 1 << bit
    assert _fails(bytes(changed)), f"{part} byte {position - start} changed, still valid"


def test_every_byte_of_the_signature_value_is_protected() -> None:
    der = SIGNATURES["attached"]
    start, end = _region(der, "signature")
    for position in range(start, end):
        changed = bytearray(der)
        changed[position] ^= 0xFF
        assert _fails(bytes(changed)), position


def test_the_time_stamp_token_is_protected() -> None:
    der = SIGNATURES["timestamped"]
    signer = cms.ContentInfo.load(der)["content"]["signer_infos"][0]
    token = signer["unsigned_attrs"][0]["values"][0]["content"]
    piece = token["signer_infos"][0]["signature"].contents
    start = der.find(piece)
    changed = bytearray(der)
    changed[start + len(piece) // 2] ^= 0x01
    report = verify(bytes(changed), trust=PKI.trust)
    assert not report.valid and "timestamp_invalid" in {e.code for e in report.errors}


@given(suffix=st.binary(min_size=1, max_size=64))
def test_bytes_after_the_der_are_refused(suffix: bytes) -> None:
    with pytest.raises(MalformedInputError):
        verify(SIGNATURES["attached"] + suffix, trust=PKI.trust)


@pytest.mark.parametrize("form", sorted(SIGNATURES))
@given(mutation=mutations)
def test_any_mutation_gives_a_report_or_an_esign_error(form: str, mutation: Mutation) -> None:
    changed = mutation.apply(SIGNATURES[form])
    with contextlib.suppress(EsignError):
        # Anything but an EsignError escaping fails the test; a result must be a report.
        assert isinstance(verify(changed, trust=PKI.trust), VerificationReport)
        assert isinstance(verify(changed, DOC, trust=PKI.trust), VerificationReport)


MAIL = __import__("esign.signing.smime", fromlist=["write_smime"]).write_smime(
    DOC, signer=(PKI.ivanov_key, PKI.ivanov_cert)
)


@given(mutation=mutations)
def test_mutated_smime_gives_a_report_or_an_esign_error(mutation: Mutation) -> None:
    from esign.signing.smime import read_smime

    changed = mutation.apply(MAIL)
    with contextlib.suppress(EsignError):
        message = read_smime(changed)
        report = verify(message.signature, message.content, trust=PKI.trust)
        assert isinstance(report, VerificationReport)


@given(data=st.binary(max_size=512))
def test_arbitrary_bytes_into_smime_and_pdf_readers(data: bytes) -> None:
    from esign.signing.pdf import verify_pdf
    from esign.signing.smime import read_smime

    for call in (
        lambda: read_smime(data),
        lambda: read_smime(b"Content-Type: multipart/signed; boundary=b\r\n\r\n" + data),
        lambda: verify_pdf(b"%PDF-1.7\n" + data, trust=PKI.trust),
    ):
        with contextlib.suppress(EsignError):
            assert call() is not None  # a parsed message or a list of reports, never None


@given(mutation=mutations)
def test_mutated_signed_pdf_gives_reports_or_an_esign_error(mutation: Mutation) -> None:
    from esign.signing.pdf import verify_pdf

    from .test_pdf import _pdf

    global _SIGNED_PDF
    if _SIGNED_PDF is None:
        from esign.signing.pdf import sign_pdf

        _SIGNED_PDF = sign_pdf(_pdf(), signer=(PKI.ivanov_key, PKI.ivanov_cert))
    changed = mutation.apply(_SIGNED_PDF)
    with contextlib.suppress(EsignError):
        reports = verify_pdf(changed, trust=PKI.trust)
        assert all(isinstance(r, VerificationReport) for r in reports)


_SIGNED_PDF: bytes | None = None
