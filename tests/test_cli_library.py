"""The command line covers the library: CSRs, co-signing and counter-signing, B-LT,
trusted lists and delta-CRL URLs, each driven through ``esign.cli.main`` and checked with
a real peer (openssl) where one exists."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from esign.cli.main import main
from esign.keys import generate_key
from esign.keys.vault import Argon2Params, KeyVault

from .conftest import Pki, run

DOC = b"Tax return 2026\nIncome: 1 250 000\n"
FAST = Argon2Params(iterations=1, lanes=1, memory_cost=8 * 1024)
PEM = serialization.Encoding.PEM
#: What EN 319 412-2 asks of a qualified natural person's subject.
QUALIFIED_SUBJECT = "CN=Ivan Ivanov,GN=Ivan,SN=Ivanov,serialNumber=PNODE-1234,C=DE"


def cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    """Run ``esign ARGS`` in this process: exit code, stdout, stderr."""
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_failure(result: tuple[int, str, str]) -> str:
    code, _out, err = result
    assert code == 2, result
    assert "Traceback" not in err and err.strip().count("\n") == 0, err
    return err


@pytest.fixture
def files(pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    monkeypatch.setenv("ESIGN_PASSWORD", "ca password")
    paths = pki.write(tmp_path)
    paths["doc"] = tmp_path / "return.txt"
    paths["doc"].write_bytes(DOC)
    return paths


def _issue_signer(pki: Pki, folder: Path, name: str) -> tuple[Path, Path]:
    """A signing key and certificate from the session CA, written as PEM files."""
    key = generate_key("ec-p256")
    cert = pki.ca.issue(key.public_key(), subject=f"CN={name}", profile="signing")
    key_path, cert_path = folder / f"{name}.key.pem", folder / f"{name}.pem"
    key_path.write_bytes(
        key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    cert_path.write_bytes(cert.public_bytes(PEM))
    return key_path, cert_path


# -- esign csr create ----------------------------------------------------------------------


def test_csr_create_is_accepted_by_openssl_and_by_cert_issue(
    files: dict[str, Path], tmp_path: Path, openssl: str, capsys: pytest.CaptureFixture[str]
) -> None:
    csr = tmp_path / "ivanov.csr"
    code, out, _ = cli(
        capsys, "csr", "create", "--key", files["ivanov_key"], "--subject", "CN=Ivan Ivanov,C=RU",
        "--email", "ivanov@example.org", "--dns", "ivanov.example.org", "--out", csr,
    )  # fmt: skip
    assert code == 0 and str(csr) in out
    checked = run(openssl, "req", "-verify", "-noout", "-text", "-in", csr)
    assert checked.returncode == 0, checked.stderr
    assert b"verify OK" in checked.stdout + checked.stderr
    assert b"email:ivanov@example.org" in checked.stdout
    assert b"DNS:ivanov.example.org" in checked.stdout
    request = x509.load_pem_x509_csr(csr.read_bytes())
    key = serialization.load_pem_private_key(files["ivanov_key"].read_bytes(), None)
    assert request.public_key() == key.public_key()

    ca = tmp_path / "ca"
    assert cli(capsys, "ca", "init", "--subject", "CN=CSR Test CA", "--out-dir", ca)[0] == 0
    cert = tmp_path / "ivanov.pem"
    code, out, err = cli(
        capsys, "cert", "issue", "--ca", ca, "--csr", csr, "--profile", "signing", "--out", cert
    )
    assert code == 0, err
    issued = x509.load_pem_x509_certificate(cert.read_bytes())
    assert issued.public_key() == key.public_key()
    assert issued.subject.rfc4514_string() == "CN=Ivan Ivanov,C=RU"
    san = issued.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == ["ivanov@example.org"]
    verified = run(openssl, "verify", "-CAfile", ca / "ca.pem", cert)
    assert verified.returncode == 0, verified.stdout

    # An existing output is kept; a bad subject is one line, exit 2.
    again = cli(capsys, "csr", "create", "--key", files["ivanov_key"], "--subject", "CN=x",
                "--out", csr)  # fmt: skip
    assert "--force" in one_line_failure(again)
    bad = cli(capsys, "csr", "create", "--key", files["ivanov_key"], "--subject", "no equals",
              "--out", tmp_path / "bad.csr")  # fmt: skip
    assert "distinguished name" in one_line_failure(bad)
    assert not (tmp_path / "bad.csr").exists()


def test_csr_create_with_a_vault_key(
    pki: Pki, tmp_path: Path, openssl: str, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    vault_file = tmp_path / "service.vault"
    with KeyVault(vault_file, kdf=FAST) as store:
        public = store.import_key("ivanov", pki.ivanov_key, "ivanov pw")
    monkeypatch.setenv("ESIGN_PASSWORD", "ivanov pw")
    csr = tmp_path / "vault.csr"
    code, _, err = cli(
        capsys, "csr", "create", "--key", f"vault:{vault_file}#ivanov",
        "--subject", "CN=Ivan Ivanov", "--der", "--out", csr,
    )  # fmt: skip
    assert code == 0, err
    checked = run(openssl, "req", "-verify", "-noout", "-inform", "DER", "-in", csr)
    assert checked.returncode == 0 and b"verify OK" in checked.stdout + checked.stderr
    assert x509.load_der_x509_csr(csr.read_bytes()).public_key() == public
    monkeypatch.setenv("ESIGN_PASSWORD", "wrong")
    wrong = cli(capsys, "csr", "create", "--key", f"vault:{vault_file}#ivanov",
                "--subject", "CN=x", "--out", tmp_path / "x.csr")  # fmt: skip
    assert "password" in one_line_failure(wrong)


# -- esign cosign / countersign -------------------------------------------------------------


def _json_report(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, dict]:  # type: ignore[type-arg]
    code, out, _ = cli(capsys, "verify", *args, "--json")
    return code, json.loads(out)


def _subjects(report: dict) -> list[str]:  # type: ignore[type-arg]
    return [report["signer"]["subject"]] + [c["signer"]["subject"] for c in report["cosigners"]]


@pytest.mark.parametrize("attached", [False, True], ids=["detached", "attached"])
def test_cosign_then_countersign(
    pki: Pki, files: dict[str, Path], tmp_path: Path, openssl: str,
    capsys: pytest.CaptureFixture[str], attached: bool,
) -> None:  # fmt: skip
    petrov_key, petrov_cert = _issue_signer(pki, tmp_path, "Petr Petrov")
    notary_key, notary_cert = _issue_signer(pki, tmp_path, "Notary")
    sig, both, notarised = (tmp_path / n for n in ("one.p7s", "two.p7s", "three.p7s"))
    shape = ["--attached"] if attached else []
    data = [] if attached else ["--data", files["doc"]]
    assert cli(capsys, "sign", files["doc"], "--key", files["ivanov_key"],
               "--cert", files["ivanov_cert"], *shape, "--out", sig)[0] == 0  # fmt: skip
    code, _, err = cli(capsys, "cosign", sig, *data, "--key", petrov_key, "--cert", petrov_cert,
                       "--out", both)  # fmt: skip
    assert code == 0, err
    trust = ["--trust", files["ca"], "--crl", files["crl"]]
    code, report = _json_report(capsys, both, *data, *trust)
    assert code == 0 and report["valid"], report["errors"]
    assert sorted(_subjects(report)) == ["CN=Ivan Ivanov", "CN=Petr Petrov"]
    assert all(c["valid"] for c in report["cosigners"])

    # Two signers: which one is counter-signed must be said.
    unnamed = cli(capsys, "countersign", both, "--key", notary_key, "--cert", notary_cert,
                  "--out", notarised)  # fmt: skip
    assert "name the one" in one_line_failure(unnamed) or "signers" in unnamed[2]
    code, _, err = cli(capsys, "countersign", both, "--key", notary_key, "--cert", notary_cert,
                       "--target", files["ivanov_cert"], "--out", notarised)  # fmt: skip
    assert code == 0, err
    code, report = _json_report(capsys, notarised, *data, *trust)
    assert code == 0 and report["valid"], report["errors"]
    ivanov = next(
        r for r in [report, *report["cosigners"]] if r["signer"]["subject"] == "CN=Ivan Ivanov"
    )
    [counter] = ivanov["countersignatures"]
    assert counter["signer"]["subject"] == "CN=Notary" and counter["valid"]
    code, text, _ = cli(capsys, "verify", notarised, *data, *trust)
    assert "co-signer 1:" in text and "counter-signer 1:" in text

    # openssl checks every signer of the result (and ignores the counter-signature).
    content = [] if attached else ["-content", files["doc"]]
    checked = run(openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", notarised,
                  *content, "-CAfile", files["ca"], "-out", tmp_path / "out.txt")  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    assert (tmp_path / "out.txt").read_bytes() == DOC


def test_cosign_detached_without_data_is_a_usage_error(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sig = tmp_path / "one.p7s"
    assert cli(capsys, "sign", files["doc"], "--key", files["ivanov_key"],
               "--cert", files["ivanov_cert"], "--out", sig)[0] == 0  # fmt: skip
    result = cli(capsys, "cosign", sig, "--key", files["ivanov_key"], "--cert",
                 files["ivanov_cert"], "--out", tmp_path / "two.p7s")  # fmt: skip
    assert "signed data must be given" in one_line_failure(result)


# -- esign extend (B-LT) --------------------------------------------------------------------


def test_extend_embeds_crls_and_the_signature_verifies_offline(
    files: dict[str, Path], tmp_path: Path, openssl: str, capsys: pytest.CaptureFixture[str]
) -> None:
    sig, extended = tmp_path / "return.p7s", tmp_path / "return.lt.p7s"
    assert cli(capsys, "sign", files["doc"], "--key", files["ivanov_key"],
               "--cert", files["ivanov_cert"], "--out", sig)[0] == 0  # fmt: skip
    offline = ["--data", files["doc"], "--trust", files["ca"]]  # no --crl, no --fetch
    code, before = _json_report(capsys, sig, *offline)
    assert code == 1 and before["subindication"] == "TRY_LATER"
    assert "embedded_validation_data" not in before

    code, out, err = cli(capsys, "extend", sig, "--crl", files["crl"], "--out", extended)
    assert code == 0, err
    assert "1 CRL(s)" in out
    code, after = _json_report(capsys, extended, *offline)
    assert code == 0 and after["valid"] and after["level"] == "advanced", after["errors"]
    assert after["embedded_validation_data"] == {"crls": 1, "ocsps": 0}
    assert after["revocation"].endswith("good (crl)")
    code, text, _ = cli(capsys, "verify", extended, *offline)
    assert "validation data in the signature (B-LT): 1 CRL(s)" in text

    # openssl's CRL check finds the CRL inside the extended signature, not in the original.
    def openssl_crl_check(path: Path) -> int:
        return run(openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", path,
                   "-content", files["doc"], "-CAfile", files["ca"], "-crl_check",
                   "-out", tmp_path / "o.txt").returncode  # fmt: skip

    assert openssl_crl_check(sig) != 0
    assert openssl_crl_check(extended) == 0
    nothing = cli(capsys, "extend", sig, "--out", tmp_path / "x.p7s")
    assert "nothing to embed" in one_line_failure(nothing)
    not_a_crl = cli(capsys, "extend", sig, "--crl", files["doc"], "--out", tmp_path / "y.p7s")
    one_line_failure(not_a_crl)


def test_extend_embeds_an_ocsp_response(
    pki: Pki, files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sig, extended = tmp_path / "return.p7s", tmp_path / "return.lt.p7s"
    assert cli(capsys, "sign", files["doc"], "--key", files["ivanov_key"],
               "--cert", files["ivanov_cert"], "--out", sig)[0] == 0  # fmt: skip
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(pki.ivanov_cert, pki.ca.certificate, hashes.SHA256())
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    response = tmp_path / "ivanov.ocsp"
    response.write_bytes(pki.ca.ocsp_response(request))
    assert cli(capsys, "extend", sig, "--ocsp", response, "--out", extended)[0] == 0
    code, report = _json_report(capsys, extended, "--data", files["doc"], "--trust", files["ca"])
    assert code == 0 and report["valid"], report["errors"]
    assert report["embedded_validation_data"] == {"crls": 0, "ocsps": 1}
    assert report["revocation"].endswith("good (ocsp)")


# -- esign ca init --delta-crl-url ------------------------------------------------------------


def test_delta_crl_url_is_kept_by_the_folder_ca(
    tmp_path: Path, openssl: str, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("ESIGN_PASSWORD", "ca password")
    ca, key = tmp_path / "ca", tmp_path / "k.pem"
    code, _, err = cli(
        capsys, "ca", "init", "--subject", "CN=Delta CA", "--out-dir", ca,
        "--crl-url", "http://ca.example/ca.crl", "--delta-crl-url", "http://ca.example/delta.crl",
    )  # fmt: skip
    assert code == 0, err
    assert (
        json.loads((ca / "ca.json").read_text())["delta_crl_url"] == "http://ca.example/delta.crl"
    )
    assert cli(capsys, "key", "generate", "--alg", "ec-p256", "--unencrypted", "--out", key,
               "--public-out", tmp_path / "k.pub")[0] == 0  # fmt: skip
    cert = tmp_path / "c.pem"
    assert cli(capsys, "cert", "issue", "--ca", ca, "--public-key", tmp_path / "k.pub",
               "--subject", "CN=Holder", "--profile", "signing", "--out", cert)[0] == 0  # fmt: skip
    text = run(openssl, "x509", "-in", cert, "-noout", "-text").stdout.decode()
    freshest = text.split("X509v3 Freshest CRL:")[1].split("X509v3")[0]
    assert "URI:http://ca.example/delta.crl" in freshest
    assert "URI:http://ca.example/ca.crl" in text.split("X509v3 CRL Distribution Points:")[1]
    crl = tmp_path / "ca.crl"
    assert cli(capsys, "crl", "--ca", ca, "--out", crl)[0] == 0
    crl_text = run(openssl, "crl", "-in", crl, "-noout", "-text").stdout.decode()
    assert "Freshest CRL" in crl_text and "http://ca.example/delta.crl" in crl_text


# -- esign trusted-list create ----------------------------------------------------------------


@pytest.fixture
def qualified(tmp_path: Path, capsys: pytest.CaptureFixture[str],
              monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:  # fmt: skip
    """A qualified eIDAS CA in a folder, a qualified signature made through the CLI."""
    monkeypatch.setenv("ESIGN_PASSWORD", "ca password")
    names = {"ca": "qca", "key": "iv.key", "csr": "iv.csr", "cert": "iv.pem", "crl": "qca.crl",
             "doc": "doc.txt", "sig": "doc.p7s"}  # fmt: skip
    p = {name: tmp_path / file for name, file in names.items()}
    steps = [
        ["ca", "init", "--subject", "CN=Qualified CA,O=QTSP,C=DE", "--out-dir", p["ca"],
         "--pds", "https://qtsp.example/pds"],
        ["key", "generate", "--alg", "ec-p256", "--unencrypted", "--out", p["key"]],
        ["csr", "create", "--key", p["key"], "--subject", QUALIFIED_SUBJECT, "--out", p["csr"]],
        ["cert", "issue", "--ca", p["ca"], "--csr", p["csr"], "--profile", "qualified-eidas",
         "--out", p["cert"]],
        ["crl", "--ca", p["ca"], "--out", p["crl"]],
    ]  # fmt: skip
    p["doc"].write_bytes(DOC)
    steps.append(["sign", p["doc"], "--key", p["key"], "--cert", p["cert"], "--out", p["sig"]])
    for step in steps:
        code, _, err = cli(capsys, *step)
        assert code == 0, (step, err)
    return p


def test_trusted_list_create_json_makes_the_signature_qualified(
    qualified: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    verify = [qualified["sig"], "--data", qualified["doc"], "--trust", qualified["ca"] / "ca.pem",
              "--crl", qualified["crl"]]  # fmt: skip
    code, report = _json_report(capsys, *verify)
    assert code == 0 and report["level"] == "advanced"
    listing = tmp_path / "tl.json"
    code, _, err = cli(
        capsys, "trusted-list", "create", "--qualified-issuer", qualified["ca"] / "ca.pem",
        "--format", "json", "--out", listing,
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(listing.read_text())["format"] == "esign-trusted-list/1"
    code, report = _json_report(capsys, *verify, "--trusted-list", listing)
    assert code == 0 and report["level"] == "qualified", report["missing_evidence"]
    assert any("eidas: qualified issuers" in e for e in report["evidence"]), report["evidence"]


def test_trusted_list_create_signed_xml(
    pki: Pki, qualified: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("signxml", reason="ETSI trusted lists need pyhanko[etsi]")
    operator_key, operator_cert = _issue_signer(pki, tmp_path, "Scheme Operator")
    listing = tmp_path / "tl.xml"
    code, out, err = cli(
        capsys, "trusted-list", "create", "--qualified-issuer", qualified["ca"] / "ca.pem",
        "--sign-key", operator_key, "--sign-cert", operator_cert, "--out", listing,
    )  # fmt: skip
    assert code == 0 and "(signed)" in out, err
    assert b"TrustServiceStatusList" in listing.read_bytes()
    verify = [qualified["sig"], "--data", qualified["doc"], "--trust", qualified["ca"] / "ca.pem",
              "--crl", qualified["crl"], "--trusted-list", listing]  # fmt: skip
    code, report = _json_report(capsys, *verify, "--trusted-list-signer", operator_cert)
    assert code == 0 and report["level"] == "qualified", report["missing_evidence"]
    # The list's signature is checked: without the operator's certificate it is refused.
    refused = cli(capsys, "verify", *verify)
    one_line_failure(refused)
    # An xml list is signed unless --unsigned says otherwise.
    unsigned = cli(capsys, "trusted-list", "create", "--qualified-issuer",
                   qualified["ca"] / "ca.pem", "--out", tmp_path / "u.xml")  # fmt: skip
    assert "--sign-key" in one_line_failure(unsigned)


@pytest.fixture
def crl_server() -> Iterator[tuple[str, dict[str, bytes]]]:
    """An HTTP server on 127.0.0.1 that serves ``state["crl"]`` at /ca.crl."""
    state: dict[str, bytes] = {"crl": b""}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = state["crl"] if self.path == "/ca.crl" else b""
            self.send_response(200 if body else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/ca.crl", state
    finally:
        server.shutdown()
        server.server_close()


def test_extend_fetches_the_crl_from_the_distribution_point(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
    crl_server: tuple[str, dict[str, bytes]],
) -> None:  # fmt: skip
    from esign.certs import CertificateAuthority

    url, state = crl_server
    ca = CertificateAuthority.create_root("CN=Publishing CA", crl_url=url)
    key = generate_key("ec-p256")
    cert = ca.issue(key.public_key(), subject="CN=Ivan Ivanov", profile="signing")
    state["crl"] = ca.crl().public_bytes(serialization.Encoding.DER)
    files = {"ca": tmp_path / "ca.pem", "cert": tmp_path / "c.pem", "key": tmp_path / "k.pem"}
    files["ca"].write_bytes(ca.certificate.public_bytes(PEM))
    files["cert"].write_bytes(cert.public_bytes(PEM))
    files["key"].write_bytes(
        key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    doc, sig, extended = tmp_path / "doc", tmp_path / "s.p7s", tmp_path / "lt.p7s"
    doc.write_bytes(DOC)
    assert cli(capsys, "sign", doc, "--key", files["key"], "--cert", files["cert"],
               "--out", sig)[0] == 0  # fmt: skip
    code, out, err = cli(capsys, "extend", sig, "--fetch", "--out", extended)
    assert code == 0 and "1 CRL(s)" in out, err
    state["crl"] = b""  # offline from here on
    code, report = _json_report(capsys, extended, "--data", doc, "--trust", files["ca"])
    assert code == 0 and report["valid"], report["errors"]
    assert report["embedded_validation_data"] == {"crls": 1, "ocsps": 0}
    gone = cli(capsys, "extend", sig, "--fetch", "--out", tmp_path / "x.p7s")
    assert "cannot fetch" in one_line_failure(gone)


@pytest.mark.parametrize(
    "command",
    [
        ["csr", "create"],
        ["cosign"],
        ["countersign"],
        ["extend"],
        ["trusted-list", "create"],
        ["ca", "init"],
    ],
)
def test_new_commands_show_an_example_in_help(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    assert f"example: esign {' '.join(command)} " in " ".join(capsys.readouterr().out.split())


def test_cosign_with_a_time_stamp(
    pki: Pki, files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``esign cosign --tsa URL``: the new signer's signature is time-stamped (B-T) by a
    TSA on 127.0.0.1; the first signer's stays as it was."""
    from esign.signing.timestamps import TimeStampAuthority

    from . import _signing_pki as helpers

    petrov_key, petrov_cert = _issue_signer(pki, tmp_path, "Petr Petrov")
    sig, both = tmp_path / "one.p7s", tmp_path / "two.p7s"
    assert cli(capsys, "sign", files["doc"], "--key", files["ivanov_key"],
               "--cert", files["ivanov_cert"], "--out", sig)[0] == 0  # fmt: skip
    with TimeStampAuthority(*helpers.tsa(pki.ca)).serve() as server:
        code, _, err = cli(capsys, "cosign", sig, "--data", files["doc"], "--key", petrov_key,
                           "--cert", petrov_cert, "--tsa", server.url, "--out", both)  # fmt: skip
    assert code == 0, err
    assert both.read_bytes().find(sig.read_bytes()[-64:]) > 0, "the first signer kept its bytes"
    code, report = _json_report(
        capsys, both, "--data", files["doc"], "--trust", files["ca"], "--crl", files["crl"]
    )
    assert code == 0, report["errors"]
    stamped = {r["signer"]["subject"]: r["timestamp"] for r in [report, *report["cosigners"]]}
    assert stamped["CN=Ivan Ivanov"] is None and stamped["CN=Petr Petrov"] is not None


@pytest.mark.parametrize("alg", ["x25519", "ml-kem-768"])
def test_csr_create_refuses_keys_that_cannot_sign(
    alg: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "k.pem"
    assert cli(capsys, "key", "generate", "--alg", alg, "--unencrypted", "--out", key)[0] == 0
    result = cli(capsys, "csr", "create", "--key", key, "--subject", "CN=x",
                 "--out", tmp_path / "x.csr")  # fmt: skip
    assert "cannot sign a request" in one_line_failure(result)
    assert not (tmp_path / "x.csr").exists()


def test_cosign_over_other_data_is_refused(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A co-signer given another file than the one signed would break the first signer."""
    sig, other, out = tmp_path / "one.p7s", tmp_path / "other.txt", tmp_path / "two.p7s"
    other.write_bytes(DOC + b" (changed)")
    assert cli(capsys, "sign", files["doc"], "--key", files["ivanov_key"],
               "--cert", files["ivanov_cert"], "--out", sig)[0] == 0  # fmt: skip
    result = cli(capsys, "cosign", sig, "--data", other, "--key", files["ivanov_key"],
                 "--cert", files["ivanov_cert"], "--out", out)  # fmt: skip
    assert "not the document the existing signature signed" in one_line_failure(result)
    assert not out.exists()
