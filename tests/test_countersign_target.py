"""A counter-signature lands on the signer the caller named, whatever the DER SET order.

SignerInfos are a DER SET: on encoding they are sorted by their bytes, so the signer added
second is often stored first. ``countersign(..., signer_index=0)`` after ``add_signer``
used to counter-sign whichever signer sorted first, and the report then showed the notary
under the co-signer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from esign import EsignError, sign, verify
from esign.certs import CertificateAuthority, TrustContext
from esign.cli.main import main
from esign.keys import PrivateKey, generate_key
from esign.signing.report import VerificationReport
from esign.signing.sign import add_signer, countersign
from tests.conftest import run

DOC = b"contract signed by two parties"


class Parties:
    """Signer A signs first; co-signer B is chosen so that DER sorts B's SignerInfo first."""

    def __init__(self) -> None:
        self.ca = CertificateAuthority.create_root("CN=Notary Root")
        self.a = self._person("CN=Alice First")
        self.notary = self._person("CN=Notary")
        alone = sign(DOC, signer=self.a, detached=True)
        for _ in range(64):
            self.b = self._person("CN=Bob Second")
            self.both = add_signer(alone, DOC, signer=self.b)
            if _stored_serials(self.both)[0] == self.b[1].serial_number:
                break
        else:  # pragma: no cover - 2**-64
            raise AssertionError("B never sorted first")

    def _person(self, subject: str) -> tuple[PrivateKey, x509.Certificate]:
        key = generate_key("ec-p256")
        return key, self.ca.issue(key.public_key(), subject=subject, profile="signing")

    @property
    def trust(self) -> TrustContext:
        return TrustContext([self.ca.certificate], crls=[self.ca.crl()])


def _stored_serials(signature: bytes) -> list[int]:
    infos = cms.ContentInfo.load(signature)["content"]["signer_infos"]
    return [int(si["sid"].chosen["serial_number"].native) for si in infos]


def _by_signer(report: VerificationReport) -> dict[int, VerificationReport]:
    every = [report, *report.cosigners]
    return {r.signer.serial: r for r in every if r.signer is not None}


@pytest.fixture(scope="module")
def parties() -> Parties:
    return Parties()


def test_index_zero_never_lands_on_the_co_signer(parties: Parties) -> None:
    """The attack: the caller means A (the first signer he added)."""
    try:
        notarised = countersign(parties.both, signer=parties.notary, signer_index=0)
    except EsignError as refused:
        assert "target=" in str(refused)
        return
    signers = _by_signer(verify(notarised, DOC, trust=parties.trust))
    assert len(signers[parties.a[1].serial_number].countersignatures) == 1
    assert signers[parties.b[1].serial_number].countersignatures == []


def test_target_names_the_signer(parties: Parties) -> None:
    for named, other in ((parties.a, parties.b), (parties.b, parties.a)):
        notarised = countersign(parties.both, signer=parties.notary, target=named[1])
        report = verify(notarised, DOC, trust=parties.trust)
        assert report.valid
        signers = _by_signer(report)
        [counter] = signers[named[1].serial_number].countersignatures
        assert counter.valid and counter.signer is not None
        assert counter.signer.serial == parties.notary[1].serial_number
        assert signers[other[1].serial_number].countersignatures == []


def test_unknown_or_ambiguous_target_is_refused(parties: Parties) -> None:
    with pytest.raises(EsignError, match="no signer with certificate CN=Notary"):
        countersign(parties.both, signer=parties.notary, target=parties.notary[1])
    with pytest.raises(ValueError, match="not both"):
        countersign(parties.both, signer=parties.notary, target=parties.a[1], signer_index=0)
    with pytest.raises(EsignError, match="2 signers"):
        countersign(parties.both, signer=parties.notary)
    twice = add_signer(parties.both, DOC, signer=parties.a)
    with pytest.raises(EsignError, match="several signatures"):
        countersign(twice, signer=parties.notary, target=parties.a[1])


def test_single_signer_needs_no_name(parties: Parties) -> None:
    alone = sign(DOC, signer=parties.a)
    for kwargs in ({}, {"signer_index": 0}, {"target": parties.a[1]}):
        notarised = countersign(alone, signer=parties.notary, **kwargs)  # type: ignore[arg-type]
        report = verify(notarised, DOC, trust=parties.trust)
        assert report.valid and len(report.countersignatures) == 1
    with pytest.raises(EsignError, match="no signer number 1"):
        countersign(alone, signer=parties.notary, signer_index=1)


def test_cli_report_shows_the_counter_signature_under_the_named_signer(
    parties: Parties, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notarised = countersign(parties.both, signer=parties.notary, target=parties.a[1])
    (tmp_path / "sig.p7s").write_bytes(notarised)
    (tmp_path / "doc").write_bytes(DOC)
    (tmp_path / "ca.pem").write_bytes(parties.ca.certificate.public_bytes(Encoding.PEM))
    (tmp_path / "ca.crl").write_bytes(parties.ca.crl().public_bytes(Encoding.PEM))
    args = [
        "verify", str(tmp_path / "sig.p7s"), "--data", str(tmp_path / "doc"),
        "--trust", str(tmp_path / "ca.pem"), "--crl", str(tmp_path / "ca.crl"), "--json",
    ]  # fmt: skip
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    entries = {e["signer"]["subject"]: e for e in [out, *out["cosigners"]]}
    assert [c["signer"]["subject"] for c in entries["CN=Alice First"]["countersignatures"]] == [
        "CN=Notary"
    ]
    assert entries["CN=Bob Second"]["countersignatures"] == []


def test_target_matches_a_subject_key_identifier_sid(
    parties: Parties, openssl: str, tmp_path: Path
) -> None:
    """openssl -keyid names the signer by subjectKeyIdentifier instead of issuer+serial."""
    key, cert = parties.a
    (tmp_path / "doc").write_bytes(DOC)
    (tmp_path / "a.pem").write_bytes(cert.public_bytes(Encoding.PEM))
    (tmp_path / "a.key").write_bytes(
        key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    )
    result = run(
        openssl, "cms", "-sign", "-binary", "-keyid", "-outform", "DER",
        "-in", tmp_path / "doc", "-signer", tmp_path / "a.pem", "-inkey", tmp_path / "a.key",
        "-out", tmp_path / "a.p7s",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    by_key = (tmp_path / "a.p7s").read_bytes()
    sids = [si["sid"].name for si in cms.ContentInfo.load(by_key)["content"]["signer_infos"]]
    assert sids == ["subject_key_identifier"]
    both = add_signer(by_key, DOC, signer=parties.b)
    notarised = countersign(both, signer=parties.notary, target=cert)
    signers = _by_signer(verify(notarised, DOC, trust=parties.trust))
    assert len(signers[cert.serial_number].countersignatures) == 1
    assert signers[parties.b[1].serial_number].countersignatures == []
