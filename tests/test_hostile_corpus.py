"""The malformed and malicious corpus (tests/hostile/corpus.py) through the library and
the command line: a named error or a report that is not valid, never a traceback, never
"valid"."""

from __future__ import annotations

from pathlib import Path

import pytest

from esign.certs.loading import parse_certificates
from esign.cli.main import main
from esign.errors import EsignError
from esign.signing.verify import verify

from .conftest import Pki
from .hostile.corpus import Case, build

INTERNALS = ("ParseError", "Insufficient data", "BER tag", "Traceback", "object is not")


@pytest.fixture(scope="module")
def corpus(pki: Pki) -> dict[str, Case]:
    return build(pki.ca.key, pki.ca.certificate, pki.ivanov_key, pki.ivanov_cert)


def _names() -> list[str]:
    from esign.certs import CertificateAuthority
    from esign.keys import generate_key

    ca = CertificateAuthority.create_root("CN=Names")
    key = generate_key("ec-p256")
    cert = ca.issue(key.public_key(), subject="CN=N", profile="signing")
    return sorted(build(ca.key, ca.certificate, key, cert))


NAMES = _names()


def test_corpus_covers_the_issue_list() -> None:
    for kind in ("truncated", "indefinite", "outer-set", "huge", "duplicated", "moved-to-other",
                 "moved-to-unsigned", "critical-extension", "downgraded", "zero-length",
                 "giant"):  # fmt: skip
        assert any(kind in name for name in NAMES), kind


@pytest.mark.parametrize("name", NAMES)
def test_library_refuses_or_judges_not_valid(name: str, corpus: dict[str, Case], pki: Pki) -> None:
    case = corpus[name]
    try:
        extra = [] if case.certificate is None else parse_certificates(case.certificate)
        report = verify(case.signature, case.data, trust=pki.trust, certificates=extra)
    except EsignError as exc:
        message = str(exc)
        assert message and "\n" not in message
        assert not any(word in message for word in INTERNALS), message
        return
    assert not report.valid, name
    assert report.indication != "TOTAL-PASSED"


@pytest.mark.parametrize("name", NAMES)
def test_cli_exits_1_or_2_in_one_line(
    name: str,
    corpus: dict[str, Case],
    pki: Pki,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    case = corpus[name]
    files = pki.write(tmp_path)
    signature = tmp_path / "case.p7s"
    signature.write_bytes(case.signature)
    args = ["verify", str(signature), "--trust", str(files["ca"]), "--crl", str(files["crl"])]
    if case.data is not None:
        (tmp_path / "case.data").write_bytes(case.data)
        args += ["--data", str(tmp_path / "case.data")]
    if case.certificate is not None:
        (tmp_path / "case.cert").write_bytes(case.certificate)
        args += ["--cert", str(tmp_path / "case.cert")]
    code = main(args)
    captured = capsys.readouterr()
    assert code in (1, 2), (name, captured)
    assert "signature: VALID" not in captured.out, captured.out
    if code == 2:
        assert captured.err.startswith("esign: error: ") and captured.err.count("\n") == 1
        assert not any(word in captured.err for word in INTERNALS), captured.err


def test_cli_refuses_a_giant_malformed_file_on_its_first_bytes(
    pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 300 MiB signature file (sparse: no disk used) is streamed, not refused by its size
    (attached documents have no size limit), and its damage is named from the first bytes."""
    files = pki.write(tmp_path)
    giant = tmp_path / "giant.p7s"
    with open(giant, "wb") as handle:
        handle.write(b"\x30\x84\x12\xc0\x00\x00")
        handle.truncate(300 << 20)
    code = main(["verify", str(giant), "--trust", str(files["ca"]), "--crl", str(files["crl"])])
    err = capsys.readouterr().err
    assert code == 2 and "not a CMS signature" in err and err.count("\n") == 1, err
    assert not any(word in err for word in INTERNALS), err
