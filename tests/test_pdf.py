"""PAdES through pyHanko with esign's keys and reports; pyHanko's own PDF validator agrees."""

from __future__ import annotations

import io

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from esign import SignatureLevel
from esign._sync import run_sync
from esign.certs import TrustContext
from esign.certs.trust import to_asn1
from esign.errors import MalformedInputError
from esign.signing.pdf import sign_pdf, verify_pdf
from esign.signing.timestamps import TimeStampAuthority

from . import _signing_pki as helpers
from .conftest import Pki


def _pdf(text: bytes = b"Tax return 2026") -> bytes:
    writer = PdfFileWriter()
    stream = generic.StreamObject(stream_data=b"BT /F1 12 Tf 72 720 Td (" + text + b") Tj ET")
    box = generic.ArrayObject([generic.NumberObject(v) for v in (0, 0, 595, 842)])
    writer.insert_page(PageObject(contents=writer.add_object(stream), media_box=box))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_sign_and_verify_pdf(pki: Pki) -> None:
    signed = sign_pdf(_pdf(), signer=(pki.ivanov_key, pki.ivanov_cert))
    [report] = verify_pdf(signed, trust=pki.trust)
    assert report.valid and report.level is SignatureLevel.ADVANCED, report.errors
    assert report.signer is not None and report.signer.subject == "CN=Ivan Ivanov"
    assert report.signing_time is not None and report.warnings == []


def test_pyhanko_validator_accepts_esign_pdf(pki: Pki) -> None:
    signed = sign_pdf(_pdf(), signer=(pki.ivanov_key, pki.ivanov_cert))
    sig = PdfFileReader(io.BytesIO(signed)).embedded_signatures[0]
    context = ValidationContext(trust_roots=[to_asn1(pki.ca.certificate)], allow_fetching=False)
    status = run_sync(async_validate_pdf_signature(sig, signer_validation_context=context))
    assert status.bottom_line, status.pretty_print_details()


def test_changed_pdf_fails(pki: Pki) -> None:
    signed = bytearray(sign_pdf(_pdf(), signer=(pki.ivanov_key, pki.ivanov_cert)))
    at = signed.find(b"Tax return 2026")
    signed[at] = ord("W")
    [report] = verify_pdf(bytes(signed), trust=pki.trust)
    assert not report.valid and "content_modified" in {e.code for e in report.errors}


def test_untrusted_and_timestamped_pdf(pki: Pki, other_pki: Pki) -> None:
    tsa = TimeStampAuthority(*helpers.tsa(pki.ca))
    signed = sign_pdf(_pdf(), signer=(pki.ivanov_key, pki.ivanov_cert), timestamper=tsa.timestamper)
    [report] = verify_pdf(signed, trust=pki.trust)
    assert report.valid and report.timestamp is not None
    [stranger] = verify_pdf(signed, trust=TrustContext([other_pki.ca.certificate]))
    assert not stranger.valid


def test_second_signature_and_later_revision(pki: Pki, other_pki: Pki) -> None:
    once = sign_pdf(_pdf(), signer=(pki.ivanov_key, pki.ivanov_cert))
    twice = sign_pdf(
        once, signer=(other_pki.ivanov_key, other_pki.ivanov_cert), field_name="Signature2"
    )
    first, second = verify_pdf(
        twice,
        trust=TrustContext(
            [pki.ca.certificate, other_pki.ca.certificate],
            crls=[pki.ca.crl(), other_pki.ca.crl()],
        ),
    )
    assert first.valid and second.valid
    assert [w.code for w in first.warnings] == ["pdf_later_revisions"]


@pytest.mark.parametrize("bad", [b"", b"%PDF-1.7\nnot really", b"\x00" * 100])
def test_bad_pdf_is_a_named_error(bad: bytes, pki: Pki) -> None:
    with pytest.raises(MalformedInputError):
        verify_pdf(bad, trust=pki.trust)


def test_unsigned_pdf_is_a_named_error(pki: Pki) -> None:
    with pytest.raises(MalformedInputError):
        verify_pdf(_pdf(), trust=pki.trust)


def test_cli_pdf(pki: Pki, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    import json

    from esign.cli.main import main

    paths = pki.write(tmp_path)
    (tmp_path / "in.pdf").write_bytes(_pdf())
    out = tmp_path / "signed.pdf"
    args = ["--key", str(paths["ivanov_key"]), "--cert", str(paths["ivanov_cert"])]
    assert main(["sign", str(tmp_path / "in.pdf"), *args, "--pdf", "--out", str(out)]) == 0
    capsys.readouterr()
    assert (
        main(
            ["verify", str(out), "--trust", str(paths["ca"]), "--crl", str(paths["crl"]), "--json"]
        )
        == 0
    )
    payload = json.loads(capsys.readouterr().out)
    assert payload["valid"] and payload["level"] == "advanced" and len(payload["signatures"]) == 1
    assert main(["verify", str(out), "--trust", str(paths["tax_cert"])]) == 1
    assert (
        main(
            [
                "verify",
                str(tmp_path / "in.pdf"),
                "--trust",
                str(paths["ca"]),
                "--crl",
                str(paths["crl"]),
            ]
        )
        == 2
    )


def test_cli_signs_a_signed_pdf_again(  # type: ignore[no-untyped-def]
    pki: Pki, other_pki: Pki, tmp_path, capsys
) -> None:
    """A second ``esign sign --pdf`` adds a field (Signature2) in an incremental update;
    ``esign verify`` and pyHanko's validator both accept both signatures."""
    import json

    from esign.cli.main import main

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = pki.write(tmp_path / "a"), other_pki.write(tmp_path / "b")
    (tmp_path / "in.pdf").write_bytes(_pdf())
    once, twice = tmp_path / "once.pdf", tmp_path / "twice.pdf"
    for source, target, paths in ((tmp_path / "in.pdf", once, first), (once, twice, second)):
        keys = ["--key", str(paths["ivanov_key"]), "--cert", str(paths["ivanov_cert"])]
        assert main(["sign", str(source), *keys, "--pdf", "--out", str(target)]) == 0
    assert twice.read_bytes().startswith(once.read_bytes()), "an incremental update"
    capsys.readouterr()
    trust = ["--trust", str(first["ca"]), str(second["ca"])]
    crls = ["--crl", str(first["crl"]), str(second["crl"])]
    assert main(["verify", str(twice), *trust, *crls, "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["valid"] and [s["valid"] for s in payload["signatures"]] == [True, True]
    assert [s["signer"]["issuer"] for s in payload["signatures"]] == [
        pki.ca.certificate.subject.rfc4514_string(),
        other_pki.ca.certificate.subject.rfc4514_string(),
    ]
    assert [w["code"] for w in payload["signatures"][0]["warnings"]] == ["pdf_later_revisions"]

    reader = PdfFileReader(io.BytesIO(twice.read_bytes()))
    assert [s.field_name for s in reader.embedded_signatures] == ["Signature1", "Signature2"]
    context = ValidationContext(
        trust_roots=[to_asn1(pki.ca.certificate), to_asn1(other_pki.ca.certificate)],
        allow_fetching=False,
    )
    for sig in reader.embedded_signatures:
        status = run_sync(async_validate_pdf_signature(sig, signer_validation_context=context))
        assert status.intact and status.valid and status.trusted, status.pretty_print_details()
