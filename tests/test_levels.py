"""Levels from evidence: ADVANCED in the verifier's trust domain, QUALIFIED only with
qualified certificate content and an issuer on the verifier's trusted list (eIDAS, RU)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from esign import SignatureLevel, sign, verify
from esign.certs import TrustContext
from esign.certs.trusted_list import TrustedList
from esign.cli.main import main
from esign.keys import generate_key
from esign.signing.levels import decide_level, qc_statements

from ._signing_pki import (
    RU_SUBJECT,
    eidas_extensions,
    issue,
    qc_statements_extension,
    ru_extensions,
)
from .conftest import Pki

DOC = b"declaration"


def _signed(pki: Pki, extensions: list, subject: object = "Ivan Ivanov") -> tuple[bytes, object]:
    key = generate_key("ec-p256")
    cert = issue(pki.ca, key.public_key(), subject, extensions=extensions)  # type: ignore[arg-type]
    return sign(DOC, signer=(key, cert)), cert


def test_same_signature_advanced_in_one_domain_untrusted_in_another(
    pki: Pki, other_pki: Pki
) -> None:
    sig, _ = _signed(pki, eidas_extensions())
    tax = verify(sig, DOC, trust=pki.trust)
    assert tax.valid and tax.level is SignatureLevel.ADVANCED
    assert tax.trust_domain == "tax service"
    stranger = verify(sig, DOC, trust=TrustContext([other_pki.ca.certificate], name="bank"))
    assert not stranger.valid and stranger.level is None
    assert "no_path" in {e.code for e in stranger.errors}


def test_qualified_needs_content_and_trusted_list(pki: Pki) -> None:
    sig, _ = _signed(pki, eidas_extensions())
    listed = TrustedList("eidas", [pki.ca.certificate], name="EU trusted list")
    report = verify(sig, DOC, trust=pki.trust, trusted_lists=[listed])
    assert report.valid and report.level is SignatureLevel.QUALIFIED
    assert report.jurisdiction == "eidas" and report.missing_evidence == []
    assert any("QcSSCD" in e for e in report.evidence)
    assert any("EU trusted list" in e for e in report.evidence)
    assert report.to_dict()["level"] == "qualified"
    # The same signature without a trusted list: ADVANCED, and the report says why.
    plain = verify(sig, DOC, trust=pki.trust)
    assert plain.level is SignatureLevel.ADVANCED
    assert plain.missing_evidence == ["no eidas trusted list supplied by the verifier"]


def test_issuer_not_on_the_list_is_not_qualified(pki: Pki, other_pki: Pki) -> None:
    sig, _ = _signed(pki, eidas_extensions())
    elsewhere = TrustedList("eidas", [other_pki.ca.certificate])
    report = verify(sig, DOC, trust=pki.trust, trusted_lists=[elsewhere])
    assert report.valid and report.level is SignatureLevel.ADVANCED
    assert report.missing_evidence == [
        "issuing CA CN=Tax Service Root CA,O=Tax Service is not on the verifier's trusted list"
    ]
    assert [w.code for w in report.warnings] == ["not_qualified"]


@pytest.mark.parametrize(
    ("kwargs", "missing"),
    [
        ({"sscd": False}, "no QcSSCD statement"),
        ({"compliance": False}, "no QcCompliance statement"),
        ({"policy": False}, "no qualified certificate policy (ETSI EN 319 411-2 QCP-n/QCP-l)"),
    ],
)
def test_each_missing_piece_is_named(pki: Pki, kwargs: dict[str, bool], missing: str) -> None:
    sig, _ = _signed(pki, eidas_extensions(**kwargs))
    listed = TrustedList("eidas", [pki.ca.certificate])
    report = verify(sig, DOC, trust=pki.trust, trusted_lists=[listed])
    assert report.level is SignatureLevel.ADVANCED
    assert report.missing_evidence == [missing]
    assert report.warnings[0].message == f"not qualified: {missing}"


def test_qc_type_eseal_is_not_an_esignature(pki: Pki) -> None:
    from esign.certs import qualified as q

    ext = qc_statements_extension(
        q.QC_COMPLIANCE.dotted_string,
        q.QC_SSCD.dotted_string,
        qc_type=q.QC_TYPE_ESEAL.dotted_string,
    )
    sig, cert = _signed(pki, [ext, *eidas_extensions()[1:]])
    assert qc_statements(cert)[q.QC_TYPE.dotted_string] == [q.QC_TYPE_ESEAL.dotted_string]
    report = verify(
        sig, DOC, trust=pki.trust, trusted_lists=[TrustedList("eidas", [pki.ca.certificate])]
    )
    assert report.level is SignatureLevel.ADVANCED
    assert any("QcType esign" in m for m in report.missing_evidence)


def test_malformed_qc_statements_are_named_not_raised(pki: Pki) -> None:
    from cryptography import x509

    from esign.certs import qualified as q

    bogus = x509.Extension(
        q.QC_STATEMENTS_EXTENSION,
        False,
        x509.UnrecognizedExtension(q.QC_STATEMENTS_EXTENSION, b"\x30\x03\x02\x01\x01"),
    )
    sig, cert = _signed(pki, [bogus])
    # In a signature, the malformed statement is named as missing evidence, never raised.
    report = verify(
        sig, DOC, trust=pki.trust, trusted_lists=[TrustedList("eidas", [pki.ca.certificate])]
    )
    assert report.valid and report.level is SignatureLevel.ADVANCED
    assert report.missing_evidence[0].startswith("malformed qcStatements extension")
    # ... and the level decision itself names it instead of raising.
    decision = decide_level(
        [cert, pki.ca.certificate],  # type: ignore[list-item]
        trusted_lists=[TrustedList("eidas", [pki.ca.certificate])],
    )
    assert decision.level is SignatureLevel.ADVANCED
    assert decision.missing[0].startswith("malformed qcStatements extension")


def test_russian_profile(pki: Pki) -> None:
    sig, _ = _signed(pki, ru_extensions(), subject=RU_SUBJECT)
    ru_list = TrustedList("ru", [pki.ca.certificate], name="Minsvyaz accredited CAs")
    report = verify(sig, DOC, trust=pki.trust, trusted_lists=[ru_list], jurisdiction="ru")
    assert report.level is SignatureLevel.QUALIFIED, report.missing_evidence
    assert {"SNILS", "INN"} <= set(report.evidence)
    # Under eIDAS the same certificate has no QC statements: not qualified.
    eu = verify(
        sig, DOC, trust=pki.trust, trusted_lists=[TrustedList("eidas", [pki.ca.certificate])]
    )
    assert eu.level is SignatureLevel.ADVANCED and "no QcSSCD statement" in eu.missing_evidence
    # A list of the wrong jurisdiction does not count.
    wrong = verify(
        sig,
        DOC,
        trust=pki.trust,
        jurisdiction="ru",
        trusted_lists=[TrustedList("eidas", [pki.ca.certificate])],
    )
    assert wrong.level is SignatureLevel.ADVANCED


def test_russian_missing_fields_are_named(pki: Pki) -> None:
    from cryptography import x509

    sig, _ = _signed(
        pki,
        ru_extensions()[2:],
        subject=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "No Snils")]),
    )
    report = verify(
        sig,
        DOC,
        trust=pki.trust,
        jurisdiction="ru",
        trusted_lists=[TrustedList("ru", [pki.ca.certificate])],
    )
    assert report.level is SignatureLevel.ADVANCED
    assert report.missing_evidence == [
        "no SNILS or OGRN in the subject",
        "no INN or INNLE in the subject",
        "no subjectSignTool extension",
        "no issuerSignTool extension",
    ]


def test_invalid_signature_is_never_qualified(pki: Pki) -> None:
    sig, _ = _signed(pki, eidas_extensions())
    listed = TrustedList("eidas", [pki.ca.certificate])
    report = verify(sig, DOC + b"!", trust=pki.trust, trusted_lists=[listed])
    assert not report.valid and report.level is None


def test_decide_level_rejects_unknown_jurisdiction(pki: Pki) -> None:
    with pytest.raises(ValueError):
        decide_level([pki.ivanov_cert, pki.ca.certificate], jurisdiction="mars")


def test_report_renders_evidence(pki: Pki) -> None:
    sig, _ = _signed(pki, eidas_extensions(sscd=False))
    report = verify(
        sig, DOC, trust=pki.trust, trusted_lists=[TrustedList("eidas", [pki.ca.certificate])]
    )
    text = str(report)
    assert "evidence missing: no QcSSCD statement" in text
    assert "warning [not_qualified]: not qualified: no QcSSCD statement" in text
    assert "no QcSSCD statement" in report._repr_html_()
    assert json.loads(report.to_json())["missing_evidence"] == ["no QcSSCD statement"]


def test_cli_levels(pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sig, _cert = _signed(pki, eidas_extensions())
    (tmp_path / "sig.p7s").write_bytes(sig)
    (tmp_path / "doc").write_bytes(DOC)
    ca = tmp_path / "ca.pem"
    ca.write_bytes(pki.ca.certificate.public_bytes(serialization.Encoding.PEM))
    crl = tmp_path / "ca.crl"
    crl.write_bytes(pki.ca.crl().public_bytes(serialization.Encoding.DER))
    base = [
        "verify",
        str(tmp_path / "sig.p7s"),
        "--data",
        str(tmp_path / "doc"),
        "--trust",
        str(ca),
        "--crl",
        str(crl),
        "--json",
    ]
    assert main(base) == 0
    assert json.loads(capsys.readouterr().out)["level"] == "advanced"
    assert main([*base, "--qualified-issuer", str(ca)]) == 0
    assert json.loads(capsys.readouterr().out)["level"] == "qualified"
    assert main([*base, "--trusted-list", str(ca)]) == 0
    assert json.loads(capsys.readouterr().out)["level"] == "qualified"
    assert main([*base, "--trusted-list", str(ca), "--jurisdiction", "ru"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["level"] == "advanced" and out["jurisdiction"] == "ru"
    with pytest.raises(SystemExit) as exit_info:
        main([*base, "--jurisdiction", "mars"])
    assert exit_info.value.code == 2
