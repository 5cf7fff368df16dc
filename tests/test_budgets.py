"""Every budget of esign.limits at its edge: the limit itself passes, one more is refused
with a named error before the expensive work."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pytest
from asn1crypto import cms, core
from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from esign import limits
from esign.certs import revinfo, trust
from esign.envelope import open_envelope, seal
from esign.envelope.recipients import PasswordIdentity, PasswordRecipient
from esign.errors import InputTooLargeError
from esign.signing.container import load_signed_data
from esign.signing.sign import add_validation_data, countersign, rebuilt, sign
from esign.signing.verify import verify

from .conftest import Pki

DOCUMENT = b"tax return 2026"


# -- KDF work per open ---------------------------------------------------------------------


def _password_envelope(pki: Pki, count: int) -> bytes:
    return seal(
        DOCUMENT,
        signer=(pki.ivanov_key, pki.ivanov_cert),
        recipients=[PasswordRecipient(f"pw-{i}".encode(), 1000) for i in range(count)],
    )


def test_kdf_work_is_budgeted_per_open_not_per_record(
    pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Budget scaled down (3 records of 1000 iterations) so the edge runs in milliseconds;
    the real figures are in benchmarks/bench_budgets.py."""
    assert limits.MAX_KDF_ITERATIONS_PER_OPEN >= limits.MAX_PBKDF2_ITERATIONS  # one at the cap
    monkeypatch.setattr(limits, "MAX_KDF_ITERATIONS_PER_OPEN", 3000)
    at_limit = _password_envelope(pki, 3)
    opened = open_envelope(at_limit, recipient=PasswordIdentity(b"pw-2"), trust=pki.trust)
    assert opened.content == DOCUMENT  # the third record: 3000 iterations spent
    over = _password_envelope(pki, 4)
    # Records are tried in their (DER-sorted) order: three open within the budget, the
    # one sorted last would need 4000 iterations and is refused before deriving it.
    outcomes = []
    for i in range(4):
        try:
            opened = open_envelope(over, recipient=PasswordIdentity(f"pw-{i}".encode()),
                                   trust=pki.trust)  # fmt: skip
            outcomes.append(opened.content == DOCUMENT)
        except InputTooLargeError as exc:
            assert "MAX_KDF_ITERATIONS_PER_OPEN" in str(exc)
            outcomes.append(False)
    assert sorted(outcomes) == [False, True, True, True]
    with pytest.raises(InputTooLargeError):
        open_envelope(over, recipient=PasswordIdentity(b"wrong"), trust=pki.trust)


# -- counter-signatures: total and depth ----------------------------------------------------


@pytest.fixture(scope="module")
def signed_once(pki: Pki) -> tuple[bytes, cms.SignerInfo]:
    signature = sign(DOCUMENT, signer=(pki.ivanov_key, pki.ivanov_cert), detached=False)
    counter_signed = countersign(signature, signer=(pki.ivanov_key, pki.ivanov_cert))
    info = cms.ContentInfo.load(counter_signed)
    counter = info["content"]["signer_infos"][0]["unsigned_attrs"][0]["values"][0]
    return counter_signed, cms.SignerInfo.load(counter.dump())


def _with_children(counter: cms.SignerInfo, children: list[cms.SignerInfo]) -> cms.SignerInfo:
    if not children:
        return cms.SignerInfo.load(counter.dump())
    attribute = cms.CMSAttribute({"type": "counter_signature", "values": children})
    return cms.SignerInfo.load(
        rebuilt(counter, unsigned_attrs=cms.CMSAttributes([attribute])).dump()
    )


def _replace_signer(signed: bytes, **changes: object) -> bytes:
    """``signed`` with its first signer's fields changed (fresh objects: no slow force)."""
    info = cms.ContentInfo.load(signed)
    content = info["content"]
    signer = rebuilt(content["signer_infos"][0], **changes)
    new = rebuilt(content, signer_infos=cms.SignerInfos([signer]))
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": new}).dump())


def _chain(counter: cms.SignerInfo, depth: int) -> cms.SignerInfo:
    node = _with_children(counter, [])
    for _ in range(depth - 1):
        node = _with_children(counter, [node])
    return node


def _signature_with(signed: bytes, counters: list[cms.SignerInfo]) -> bytes:
    attribute = cms.CMSAttribute({"type": "counter_signature", "values": counters})
    return _replace_signer(signed, unsigned_attrs=cms.CMSAttributes([attribute]))


SHAPES: dict[str, tuple[Callable[[cms.SignerInfo], list[cms.SignerInfo]], bool]] = {
    "16 on the first level": (lambda c: [_with_children(c, [])] * 16, True),
    "17 on the first level": (lambda c: [_with_children(c, [])] * 17, False),
    "1 with 15 below": (lambda c: [_with_children(c, [_with_children(c, [])] * 15)], True),
    "1 with 16 below": (lambda c: [_with_children(c, [_with_children(c, [])] * 16)], False),
    "a chain 4 deep": (lambda c: [_chain(c, limits.MAX_COUNTERSIGNATURE_DEPTH)], True),
    "a chain 5 deep": (lambda c: [_chain(c, limits.MAX_COUNTERSIGNATURE_DEPTH + 1)], False),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_countersignature_budget_is_on_the_whole_tree(
    shape: str, signed_once: tuple[bytes, cms.SignerInfo], pki: Pki
) -> None:
    build, accepted = SHAPES[shape]
    signed, counter = signed_once
    signature = _signature_with(signed, build(counter))
    if accepted:
        report = verify(signature, trust=pki.trust)
        assert report.signature_intact  # the signer's own signature is untouched
    else:
        with pytest.raises(InputTooLargeError, match="counter-signatures"):
            verify(signature, trust=pki.trust)


# -- counts inside a SignedData --------------------------------------------------------------


def _unsigned_attributes(signed: bytes, count: int) -> bytes:
    attributes = [
        cms.CMSAttribute({"type": "1.3.6.1.4.1.99999.1", "values": [core.Null()]})
        for _ in range(count)
    ]
    return _replace_signer(signed, unsigned_attrs=cms.CMSAttributes(attributes))


def test_attribute_count_edge(pki: Pki) -> None:
    signed = sign(DOCUMENT, signer=(pki.ivanov_key, pki.ivanov_cert), detached=False)
    load_signed_data(_unsigned_attributes(signed, limits.MAX_ATTRIBUTES))
    with pytest.raises(InputTooLargeError, match="MAX_ATTRIBUTES"):
        load_signed_data(_unsigned_attributes(signed, limits.MAX_ATTRIBUTES + 1))


def test_certificate_and_signer_count_edges(pki: Pki) -> None:
    signed = sign(DOCUMENT, signer=(pki.ivanov_key, pki.ivanov_cert), detached=False)

    def with_counts(certs: int, signers: int) -> bytes:
        content = cms.ContentInfo.load(signed)["content"]
        new = rebuilt(
            content,
            certificates=cms.CertificateSet([content["certificates"][0]] * certs),
            signer_infos=cms.SignerInfos([content["signer_infos"][0]] * signers),
        )
        return bytes(cms.ContentInfo({"content_type": "signed_data", "content": new}).dump())

    load_signed_data(with_counts(limits.MAX_CERTIFICATES, limits.MAX_SIGNERS))
    with pytest.raises(InputTooLargeError, match="certificates"):
        load_signed_data(with_counts(limits.MAX_CERTIFICATES + 1, 1))
    with pytest.raises(InputTooLargeError, match="signers"):
        load_signed_data(with_counts(1, limits.MAX_SIGNERS + 1))


# -- revocation data -----------------------------------------------------------------------


def _crl(pki: Pki, entries: int) -> bytes:
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(pki.ca.certificate.subject)
        .last_update(now)
        .next_update(now + datetime.timedelta(days=1))
    )
    for serial in range(1, entries + 1):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build()
        )
    return builder.sign(pki.ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)  # type: ignore[arg-type]


def test_crl_entry_count_edge(pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    """Scaled to 10 entries here; the real limit's cost is in the benchmark."""
    monkeypatch.setattr(revinfo, "MAX_CRL_ENTRIES", 10)
    revinfo.parse_crl(_crl(pki, 10))
    with pytest.raises(InputTooLargeError, match="MAX_CRL_ENTRIES"):
        revinfo.parse_crl(_crl(pki, 11))


def test_ocsp_single_response_count_edge(pki: Pki) -> None:
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(pki.ivanov_cert, pki.ca.certificate, hashes.SHA256())
        .build()
    )
    der = pki.ca.ocsp_response(request.public_bytes(serialization.Encoding.DER))

    def with_responses(count: int) -> bytes:
        response = asn1_ocsp.OCSPResponse.load(der)
        basic = response["response_bytes"]["response"].parsed
        data = basic["tbs_response_data"]
        tbs = rebuilt(data, responses=asn1_ocsp.Responses([data["responses"][0]] * count))
        new_basic = rebuilt(basic, tbs_response_data=tbs)
        return bytes(
            asn1_ocsp.OCSPResponse(
                {
                    "response_status": "successful",
                    "response_bytes": {
                        "response_type": "basic_ocsp_response",
                        "response": new_basic,
                    },
                }
            ).dump()
        )

    revinfo.parse_ocsp_response(with_responses(limits.MAX_OCSP_RESPONSES))
    with pytest.raises(InputTooLargeError, match="MAX_OCSP_RESPONSES"):
        revinfo.parse_ocsp_response(with_responses(limits.MAX_OCSP_RESPONSES + 1))


def test_embedded_revocation_count_edge(pki: Pki) -> None:
    signed = sign(DOCUMENT, signer=(pki.ivanov_key, pki.ivanov_cert), detached=False)
    crl = cms.RevocationInfoChoice({"crl": revinfo.parse_crl(pki.ca.crl())})

    def with_crls(count: int) -> cms.SignedData:
        content = cms.ContentInfo.load(signed)["content"]
        new = rebuilt(content, crls=cms.RevocationInfoChoices([crl] * count))
        return cms.SignedData.load(new.dump())

    revinfo.revocation_from_signed_data(with_crls(limits.MAX_EMBEDDED_REVINFO))
    with pytest.raises(InputTooLargeError, match="MAX_EMBEDDED_REVINFO"):
        revinfo.revocation_from_signed_data(with_crls(limits.MAX_EMBEDDED_REVINFO + 1))


def test_embedded_crls_are_not_indexed_before_the_signature_holds(
    pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A forged signature carrying a big CRL costs one signature check, not the CRL."""
    embedded = _crl(pki, 50)
    parsed: list[bytes] = []
    original = trust.parse_crl

    def counting(data: revinfo.CrlInput) -> object:
        if isinstance(data, bytes):
            parsed.append(data)
        return original(data)

    monkeypatch.setattr(trust, "parse_crl", counting)
    good = add_validation_data(
        sign(DOCUMENT, signer=(pki.ivanov_key, pki.ivanov_cert), detached=False),
        crls=[embedded],
    )
    original_value = cms.ContentInfo.load(good)["content"]["signer_infos"][0]["signature"]
    value = bytearray(original_value.native)
    value[-1] ^= 1
    forged = _replace_signer(good, signature=cms.OctetString(bytes(value)))

    report = verify(forged, trust=pki.trust)
    assert not report.valid and embedded not in parsed
    report = verify(good, trust=pki.trust)
    assert embedded in parsed  # a signature that holds has its evidence read
