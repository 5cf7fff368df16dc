"""QUALIFIED only from the right trusted-list evidence (ETSI TS 119 615): the signer's
*issuing* CA must be the listed service, with its qualified status granted at the signing
time. A listed root above an unlisted sub-CA, or a status window that ended (2020) or has
not begun (2090), gives ADVANCED, and the report names what is missing."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from esign import SignatureLevel, sign, verify
from esign.certs import CertificateAuthority, TrustContext
from esign.certs.trusted_list import ListedIssuer, TrustedList
from esign.cli.main import main
from esign.keys import generate_key
from esign.signing.levels import decide_level

from ._signing_pki import eidas_extensions, issue

DOC = b"qualified declaration"
UTC = datetime.timezone.utc
ENDED = datetime.datetime(2020, 6, 30, tzinfo=UTC)
STARTS = datetime.datetime(2090, 1, 1, tzinfo=UTC)
LONG_AGO = datetime.datetime(2015, 1, 1, tzinfo=UTC)


class Qtsp:
    """A root, a sub-CA under it, a qualified signer issued by the sub-CA, and CRLs."""

    def __init__(self) -> None:
        # Created two days ago, so that a time-stamp may prove an earlier signing time.
        started = datetime.datetime.now(UTC) - datetime.timedelta(days=2)
        self.root = CertificateAuthority.create_root(
            "CN=QTSP Root,O=QTSP,C=EU", clock=lambda: started
        )
        self.sub = self.root.create_intermediate("CN=QTSP Issuing CA,O=QTSP,C=EU")
        self.key = generate_key("ec-p256")
        self.leaf = issue(
            self.sub, self.key.public_key(), "Anna Qualified", extensions=eidas_extensions()
        )
        self.signature = sign(DOC, signer=(self.key, self.leaf), chain=[self.sub.certificate])
        self.crls = [self.root.crl(), self.sub.crl()]

    @property
    def trust(self) -> TrustContext:
        return TrustContext([self.root.certificate], crls=self.crls, name="EU")

    def write(self, folder: Path) -> dict[str, Path]:
        paths = {
            "sig": folder / "sig.p7s",
            "doc": folder / "doc.txt",
            "root": folder / "root.pem",
            "sub": folder / "sub.pem",
            "root_crl": folder / "root.crl",
            "sub_crl": folder / "sub.crl",
        }
        paths["sig"].write_bytes(self.signature)
        paths["doc"].write_bytes(DOC)
        paths["root"].write_bytes(self.root.certificate.public_bytes(Encoding.PEM))
        paths["sub"].write_bytes(self.sub.certificate.public_bytes(Encoding.PEM))
        paths["root_crl"].write_bytes(self.crls[0].public_bytes(Encoding.PEM))
        paths["sub_crl"].write_bytes(self.crls[1].public_bytes(Encoding.PEM))
        return paths


@pytest.fixture(scope="module")
def qtsp() -> Qtsp:
    return Qtsp()


def _listed(certificate: x509.Certificate, **window: datetime.datetime) -> TrustedList:
    entry = ListedIssuer(certificate, service_name="QTSP qualified CA", **window)
    return TrustedList("eidas", name="EU trusted list", entries=[entry])


def _cli(paths: dict[str, Path], *extra: str) -> list[str]:
    return [
        "verify", str(paths["sig"]), "--data", str(paths["doc"]),
        "--trust", str(paths["root"]),
        "--crl", str(paths["root_crl"]), str(paths["sub_crl"]),
        "--json", *extra,
    ]  # fmt: skip


def test_listed_issuing_ca_in_its_window_is_qualified(qtsp: Qtsp) -> None:
    report = verify(
        qtsp.signature, DOC, trust=qtsp.trust, trusted_lists=[_listed(qtsp.sub.certificate)]
    )
    assert report.valid and report.level is SignatureLevel.QUALIFIED, report.missing_evidence
    assert any("CN=QTSP Issuing CA" in e and "EU trusted list" in e for e in report.evidence)


def test_listed_root_above_an_unlisted_sub_ca_is_not_qualified(qtsp: Qtsp) -> None:
    report = verify(
        qtsp.signature, DOC, trust=qtsp.trust, trusted_lists=[_listed(qtsp.root.certificate)]
    )
    assert report.valid and report.level is SignatureLevel.ADVANCED
    assert report.missing_evidence == [
        "issuing CA CN=QTSP Issuing CA,O=QTSP,C=EU is not the listed service (only "
        "CN=QTSP Root,O=QTSP,C=EU, a CA above it, is listed; ETSI TS 119 615 needs the "
        "issuer itself)"
    ]
    assert [w.code for w in report.warnings] == ["not_qualified"]


@pytest.mark.parametrize(
    ("window", "reason"),
    [
        ({"valid_from": LONG_AGO, "valid_until": ENDED}, "its qualified status ended 2020-06-30"),
        ({"valid_from": STARTS}, "its qualified status starts 2090-01-01"),
    ],
)
def test_status_outside_its_window_is_not_qualified(
    qtsp: Qtsp, window: dict[str, datetime.datetime], reason: str
) -> None:
    tl = _listed(qtsp.sub.certificate, **window)
    report = verify(qtsp.signature, DOC, trust=qtsp.trust, trusted_lists=[tl])
    assert report.valid and report.level is SignatureLevel.ADVANCED
    [missing] = report.missing_evidence
    assert missing.startswith("issuer CN=QTSP Issuing CA,O=QTSP,C=EU not on the trusted list at ")
    assert reason in missing


def test_decide_level_judges_the_window_at_the_time_given(qtsp: Qtsp) -> None:
    chain = [qtsp.leaf, qtsp.sub.certificate, qtsp.root.certificate]
    tl = _listed(qtsp.sub.certificate, valid_from=LONG_AGO, valid_until=ENDED)
    signed_2019 = datetime.datetime(2019, 5, 1, tzinfo=UTC)
    then = decide_level(chain, trusted_lists=[tl], at=signed_2019)
    assert then.level is SignatureLevel.QUALIFIED, then.missing
    assert any("granted at 2019-05-01T00:00:00+00:00" in f for f in then.found)
    later = decide_level(chain, trusted_lists=[tl], at=datetime.datetime(2021, 1, 1))
    assert later.level is SignatureLevel.ADVANCED
    assert later.missing == [
        "issuer CN=QTSP Issuing CA,O=QTSP,C=EU not on the trusted list at "
        "2021-01-01T00:00:00+00:00: its qualified status ended 2020-06-30T00:00:00+00:00"
    ]
    # Without a time, the window is judged now.
    assert decide_level(chain, trusted_lists=[tl]).level is SignatureLevel.ADVANCED
    future = _listed(qtsp.sub.certificate, valid_from=STARTS)
    assert decide_level(chain, trusted_lists=[future], at=STARTS).level is SignatureLevel.QUALIFIED


def test_leaf_without_issuer_in_the_path_is_not_qualified(qtsp: Qtsp) -> None:
    decision = decide_level([qtsp.leaf], trusted_lists=[_listed(qtsp.sub.certificate)])
    assert decision.missing == ["the signer certificate has no issuing CA in the path"]


def test_cli_listed_root_is_not_enough(
    qtsp: Qtsp, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = qtsp.write(tmp_path)
    assert main(_cli(paths, "--qualified-issuer", str(paths["root"]))) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["valid"] and out["level"] == "advanced"
    assert "is not the listed service" in out["missing_evidence"][0]
    assert main(_cli(paths, "--qualified-issuer", str(paths["sub"]))) == 0
    assert json.loads(capsys.readouterr().out)["level"] == "qualified"


@pytest.mark.parametrize(
    ("window", "reason"),
    [
        ({"valid_from": LONG_AGO, "valid_until": ENDED}, "ended 2020-06-30"),
        ({"valid_from": STARTS}, "starts 2090-01-01"),
    ],
)
def test_cli_json_trusted_list_window(
    qtsp: Qtsp,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    window: dict[str, datetime.datetime],
    reason: str,
) -> None:
    paths = qtsp.write(tmp_path)
    listed = tmp_path / "tl.json"
    listed.write_text(_listed(qtsp.sub.certificate, **window).to_json())
    assert main(_cli(paths, "--trusted-list", str(listed), "--jurisdiction", "eidas")) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["valid"] and out["level"] == "advanced"
    assert reason in out["missing_evidence"][0]
    assert {w["code"] for w in out["warnings"]} >= {"not_qualified"}


def test_cli_signed_etsi_list_whose_status_ended_in_2020(
    qtsp: Qtsp, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("signxml", reason="ETSI trusted lists need pyhanko[etsi]")
    operator_ca = CertificateAuthority.create_root("CN=Scheme Operator Root")
    operator_key = generate_key("ec-p256")
    operator = operator_ca.issue(operator_key.public_key(), subject="CN=Trusted List Signer")
    paths = qtsp.write(tmp_path)
    (tmp_path / "operator.pem").write_bytes(operator.public_bytes(Encoding.PEM))
    for name, window, level in (
        ("ended.xml", {"valid_from": LONG_AGO, "valid_until": ENDED}, "advanced"),
        ("granted.xml", {"valid_from": LONG_AGO}, "qualified"),
    ):
        xml = _listed(qtsp.sub.certificate, **window).to_etsi_xml(
            scheme_operator="EU", sign_with=(operator_key, operator)
        )
        (tmp_path / name).write_bytes(xml)
        args = _cli(
            paths,
            "--trusted-list", str(tmp_path / name),
            "--trusted-list-signer", str(tmp_path / "operator.pem"),
        )  # fmt: skip
        assert main(args) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["level"] == level, out["missing_evidence"]
        if level == "advanced":
            assert "its qualified status ended 2020-06-30" in out["missing_evidence"][0]


def test_time_stamp_proves_a_signing_time_inside_the_window(qtsp: Qtsp) -> None:
    """Stamped an hour ago, while the status was granted; it ended half an hour ago."""
    from esign.signing.timestamps import TimeStampAuthority

    from ._signing_pki import tsa

    now = datetime.datetime.now(UTC)
    tsa_key, tsa_cert = tsa(qtsp.root)
    stamped_then = TimeStampAuthority(
        tsa_key, tsa_cert, clock=lambda: now - datetime.timedelta(hours=1)
    )
    signature = sign(
        DOC,
        signer=(qtsp.key, qtsp.leaf),
        chain=[qtsp.sub.certificate],
        timestamper=stamped_then.timestamper,
        clock=lambda: now - datetime.timedelta(hours=1),
    )
    tl = _listed(
        qtsp.sub.certificate,
        valid_from=now - datetime.timedelta(days=1),
        valid_until=now - datetime.timedelta(minutes=30),
    )
    trust = TrustContext([qtsp.root.certificate], crls=qtsp.crls, name="EU")
    report = verify(signature, DOC, trust=trust, trusted_lists=[tl])
    assert report.valid and report.timestamp is not None, report.errors
    assert report.level is SignatureLevel.QUALIFIED, report.missing_evidence
