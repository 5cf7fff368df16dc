"""Revocation: CRLs (complete, delta) and OCSP, checked against the openssl command line."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp

from esign.certs import CertificateAuthority, TrustContext
from esign.certs.revocation import CertStatus, read_ocsp_response
from esign.errors import CertificateProfileError, MalformedInputError, RevocationError
from esign.keys import PrivateKey, generate_key
from tests.conftest import run

pytestmark = pytest.mark.interop


class Clock:
    """A settable clock, so revocation times and CRL windows are exact."""

    def __init__(self) -> None:
        self.now = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.timezone.utc)

    def __call__(self) -> datetime.datetime:
        return self.now


@dataclass
class Chain:
    root: CertificateAuthority
    issuing: CertificateAuthority
    good: x509.Certificate
    revoked: x509.Certificate
    key: PrivateKey

    def write(self, folder: Path) -> dict[str, Path]:
        files = {
            "root": self.root.certificate,
            "issuing": self.issuing.certificate,
            "good": self.good,
            "revoked": self.revoked,
        }
        out = {}
        for name, cert in files.items():
            out[name] = folder / f"{name}.pem"
            out[name].write_bytes(cert.public_bytes(Encoding.PEM))
        return out


@pytest.fixture
def chain() -> Chain:
    root = CertificateAuthority.create_root("CN=Revocation Root,O=Tax Service")
    issuing = root.create_intermediate(
        "CN=Revocation Issuing CA,O=Tax Service",
        crl_url="http://127.0.0.1/issuing.crl",
        delta_crl_url="http://127.0.0.1/issuing-delta.crl",
    )
    key = generate_key("ec-p256")
    good = issuing.issue(key.public_key(), subject="CN=Good Taxpayer")
    revoked = issuing.issue(key.public_key(), subject="CN=Revoked Taxpayer")
    issuing.revoke(revoked, "keyCompromise")
    return Chain(root, issuing, good, revoked, key)


def pem(obj: x509.Certificate | x509.CertificateRevocationList) -> bytes:
    return obj.public_bytes(Encoding.PEM)


# -- CRLs ---------------------------------------------------------------------------------------


def test_crl_fields_and_numbering() -> None:
    clock = Clock()
    ca = CertificateAuthority.create_root("CN=CRL CA", clock=clock, delta_crl_url="http://x/d.crl")
    key = generate_key("ec-p256").public_key()
    a = ca.issue(key, subject="CN=a")
    clock.now += datetime.timedelta(hours=1)
    ca.revoke(a, "superseded", at=clock.now - datetime.timedelta(minutes=10))
    crl = ca.crl(next_update=datetime.timedelta(days=2))
    assert crl.last_update_utc == clock.now
    assert crl.next_update_utc == clock.now + datetime.timedelta(days=2)
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 1
    assert crl.extensions.get_extension_for_class(x509.FreshestCRL).value[0].full_name[0].value == (
        "http://x/d.crl"
    )
    entry = crl.get_revoked_certificate_by_serial_number(a.serial_number)
    assert entry is not None
    assert entry.revocation_date_utc == clock.now - datetime.timedelta(minutes=10)
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == (
        x509.ReasonFlags.superseded
    )
    assert crl.is_signature_valid(ca.certificate.public_key())  # type: ignore[arg-type]
    second = ca.crl()
    assert second.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 2


def test_delta_crl_lists_only_what_is_new() -> None:
    clock = Clock()
    ca = CertificateAuthority.create_root("CN=Delta CA", clock=clock)
    key = generate_key("ec-p256").public_key()
    early, late, never = (ca.issue(key, subject=f"CN={n}") for n in ("early", "late", "never"))
    with pytest.raises(RevocationError, match="complete CRL first"):
        ca.delta_crl()
    ca.revoke(early, "keyCompromise")
    full = ca.crl()
    clock.now += datetime.timedelta(hours=2)
    ca.revoke(late, "cessationOfOperation")
    delta = ca.delta_crl()
    indicator = delta.extensions.get_extension_for_class(x509.DeltaCRLIndicator)
    assert indicator.critical and indicator.value.crl_number == 1
    assert delta.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 2
    assert {r.serial_number for r in delta} == {late.serial_number}
    assert {r.serial_number for r in full} == {early.serial_number}
    # The CA announces no delta (no freshestCRL): a delta given next to the complete CRL
    # is applied all the same, and only the delta knows about "late".
    trust = TrustContext([ca.certificate], crls=[full, delta])
    moment = clock.now + datetime.timedelta(minutes=1)
    assert trust.validate(never, at=moment).trusted
    refused = trust.validate(late, at=moment)
    assert [f.code for f in refused.failures] == ["revoked"], refused.failures
    assert refused.revocation[0].source == "delta-crl"
    assert refused.revocation_reason == "cessation_of_operation"
    assert not trust.validate(early, at=moment).trusted
    assert TrustContext([ca.certificate], crls=[full]).validate(late, at=moment).trusted


def test_openssl_verify_crl_check_accepts_chain_and_reports_revoked(
    chain: Chain, openssl: str, tmp_path: Path
) -> None:
    files = chain.write(tmp_path)
    crls = tmp_path / "crls.pem"
    crls.write_bytes(pem(chain.root.crl()) + pem(chain.issuing.crl()))
    args = ["verify", "-crl_check_all", "-CAfile", files["root"], "-untrusted", files["issuing"]]
    ok = run(openssl, *args, "-CRLfile", crls, files["good"])
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert b"good.pem: OK" in ok.stdout
    bad = run(openssl, *args, "-CRLfile", crls, files["revoked"])
    assert bad.returncode != 0
    assert b"certificate revoked" in bad.stdout + bad.stderr
    # without the root's CRL, -crl_check_all must complain: the CRLs really are consulted
    only = tmp_path / "only.pem"
    only.write_bytes(pem(chain.issuing.crl()))
    missing = run(openssl, *args, "-CRLfile", only, files["good"])
    assert b"unable to get certificate CRL" in missing.stdout + missing.stderr
    # openssl crl checks the signature and prints the reason
    text = run(openssl, "crl", "-in", only, "-CAfile", files["issuing"], "-noout", "-text")
    assert b"verify OK" in text.stderr + text.stdout
    assert b"Key Compromise" in text.stdout


def test_openssl_uses_esign_delta_crls(chain: Chain, openssl: str, tmp_path: Path) -> None:
    files = chain.write(tmp_path)
    full = chain.issuing.crl()
    chain.issuing.revoke(chain.good, "superseded")  # after the complete CRL
    delta = chain.issuing.delta_crl()
    crls = tmp_path / "crls.pem"
    crls.write_bytes(pem(full) + pem(delta))
    args = ["verify", "-crl_check", "-CAfile", files["root"], "-untrusted", files["issuing"]]
    without = run(openssl, *args, "-CRLfile", crls, files["good"])
    assert without.returncode == 0, without.stdout + without.stderr  # full CRL alone: not yet
    with_deltas = run(openssl, *args, "-use_deltas", "-CRLfile", crls, files["good"])
    assert with_deltas.returncode != 0
    assert b"certificate revoked" in with_deltas.stdout + with_deltas.stderr


def test_pyhanko_path_validation_sees_esign_crl(chain: Chain) -> None:
    trust = TrustContext(
        [chain.root.certificate],
        intermediates=[chain.issuing.certificate],
        # the issuing CA publishes deltas (Freshest CRL): a strict validator wants one too
        crls=[chain.root.crl(), chain.issuing.crl(), chain.issuing.delta_crl()],
        check_revocation=True,
    )
    assert trust.validate(chain.good).trusted
    result = trust.validate(chain.revoked)
    assert not result.trusted and result.failures[0].code == "revoked"


def test_engine_refuses_forged_and_stale_crls(chain: Chain) -> None:
    crl = chain.issuing.crl(next_update=datetime.timedelta(days=1))
    root_crl = chain.root.crl()

    def trust(*crls: x509.CertificateRevocationList) -> TrustContext:
        return TrustContext([chain.root.certificate], intermediates=[chain.issuing.certificate],
                            crls=list(crls))  # fmt: skip

    genuine = trust(root_crl, crl).validate(chain.revoked)
    assert [f.code for f in genuine.failures] == ["revoked"]
    assert genuine.revocation_reason == "key_compromise"
    # the complete CRL announces a delta: "not listed" needs it, a listed entry does not
    missing_delta = trust(root_crl, crl).validate(chain.good)
    assert [f.code for f in missing_delta.failures] == ["no_revocation_info"]
    assert trust(root_crl, crl, chain.issuing.delta_crl()).validate(chain.good).trusted
    # same name, other key: no evidence at all, so the status is unknown (never "good")
    impostor = CertificateAuthority.create_root(chain.issuing.certificate.subject)
    forged = trust(root_crl, impostor.crl()).validate(chain.revoked)
    assert [f.code for f in forged.failures] == ["no_revocation_info"]
    assert "--crl" in forged.failures[0].message
    # the root's CRL cannot speak for the issuing CA's certificates
    assert [f.code for f in trust(root_crl).validate(chain.good).failures] == ["no_revocation_info"]
    later = crl.next_update_utc + datetime.timedelta(seconds=5)  # type: ignore[operator]
    root_later = chain.root.crl(next_update=datetime.timedelta(days=30))
    stale = trust(root_later, crl, chain.issuing.delta_crl()).validate(chain.good, at=later)
    assert [f.code for f in stale.failures] == ["stale_revocation_info"]
    with pytest.raises(MalformedInputError, match="not a CRL"):
        trust(b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n")  # type: ignore[arg-type]


OPENSSL_CA_CONFIG = """
[ ca ]
default_ca = CA_default
[ CA_default ]
dir = {dir}
database = $dir/index.txt
new_certs_dir = $dir
certificate = $dir/ca.pem
private_key = $dir/ca.key
serial = $dir/serial
crlnumber = $dir/crlnumber
default_md = sha256
default_days = 365
default_crl_days = 7
policy = policy_any
copy_extensions = copy
[ policy_any ]
commonName = supplied
organizationName = optional
[ usr ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,nonRepudiation
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ crl_ext ]
authorityKeyIdentifier = keyid:always
"""


def test_esign_reads_openssl_ca_certificates_and_crls(openssl: str, tmp_path: Path) -> None:
    d = tmp_path
    (d / "index.txt").write_text("")
    (d / "serial").write_text("1000\n")
    (d / "crlnumber").write_text("01\n")
    cnf = d / "ca.cnf"
    cnf.write_text(OPENSSL_CA_CONFIG.format(dir=d))
    steps = [
        ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", d / "ca.key", "-out", d / "ca.pem", "-days", "30", "-subj", "/CN=OpenSSL CA",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", d / "u.key", "-out", d / "u.csr", "-subj", "/CN=OpenSSL User/O=Org"],
        ["ca", "-batch", "-config", cnf, "-extensions", "usr", "-in", d / "u.csr",
         "-out", d / "u.pem"],
        ["ca", "-batch", "-config", cnf, "-revoke", d / "u.pem", "-crl_reason", "keyCompromise"],
        ["ca", "-batch", "-config", cnf, "-gencrl", "-crlexts", "crl_ext", "-out", d / "crl.pem"],
        ["ca", "-batch", "-config", cnf, "-gencrl", "-md", "sha1", "-out", d / "sha1.pem"],
    ]  # fmt: skip
    for step in steps:
        result = run(openssl, *step)
        assert result.returncode == 0, (step, result.stderr)
    ca_cert = x509.load_pem_x509_certificate((d / "ca.pem").read_bytes())
    user = x509.load_pem_x509_certificate((d / "u.pem").read_bytes())
    crl = (d / "crl.pem").read_bytes()
    result = TrustContext([ca_cert], crls=[crl]).validate(user)
    assert [f.code for f in result.failures] == ["revoked"]
    assert result.revocation_reason == "key_compromise"
    # a SHA-1 signed CRL is refused by the default algorithm policy, read when legacy
    sha1 = (d / "sha1.pem").read_bytes()
    refused = TrustContext([ca_cert], crls=[sha1]).validate(user)
    assert [f.code for f in refused.failures] == ["no_revocation_info"], refused.failures
    legacy = TrustContext([ca_cert], crls=[sha1], legacy_algorithms=True).validate(user)
    assert [f.code for f in legacy.failures] == ["revoked"]
    from esign.certs.summary import describe

    assert describe(user)["profile"] == "signing"
    assert describe(user)["subject"] == "O=Org,CN=OpenSSL User"


# -- OCSP ---------------------------------------------------------------------------------------


def _openssl_request(openssl: str, files: dict[str, Path], leaf: str, out: Path) -> None:
    result = run(openssl, "ocsp", "-issuer", files["issuing"], "-cert", files[leaf], "-reqout", out)
    assert result.returncode == 0, result.stderr


def _openssl_check(openssl: str, files: dict[str, Path], leaf: str, req: Path, resp: Path) -> str:
    trust = ["-CAfile", files["root"], "-verify_other", files["issuing"]]
    # signature, responder authorisation and the nonce against the original request
    signed = run(openssl, "ocsp", "-reqin", req, "-respin", resp, *trust)
    assert signed.returncode == 0 and b"Response verify OK" in signed.stderr, signed
    # the status line (with -cert openssl builds a fresh request, so no nonce check here)
    result = run(
        openssl, "ocsp", "-respin", resp, "-issuer", files["issuing"], "-cert", files[leaf],
        "-no_nonce", *trust,
    )  # fmt: skip
    out = (result.stdout + result.stderr).decode()
    assert "Response verify OK" in out, out
    return out


@pytest.mark.parametrize("delegated", [False, True])
def test_openssl_ocsp_reads_esign_responses(
    chain: Chain, openssl: str, tmp_path: Path, delegated: bool
) -> None:
    files = chain.write(tmp_path)
    responder = None
    if delegated:
        rkey = generate_key("ec-p256")
        rcert = chain.issuing.issue(rkey.public_key(), subject="CN=OCSP Responder", profile="ocsp")
        responder = (rkey, rcert)
    for leaf, expected in (("good", "good"), ("revoked", "revoked")):
        req, resp = tmp_path / f"{leaf}.req", tmp_path / f"{leaf}.resp"
        _openssl_request(openssl, files, leaf, req)  # openssl adds a nonce
        resp.write_bytes(chain.issuing.ocsp_response(req.read_bytes(), responder=responder))
        out = _openssl_check(openssl, files, leaf, req, resp)
        assert f"{files[leaf]}: {expected}" in out
        if expected == "revoked":
            assert "Reason: keyCompromise" in out
        # esign's own engine reads the same response
        trust = TrustContext(
            [chain.root.certificate],
            intermediates=[chain.issuing.certificate],
            crls=[chain.root.crl()],
            ocsps=[resp.read_bytes()],
        )
        result = trust.validate(getattr(chain, leaf))
        assert result.revocation[0].status.value == expected
        assert result.revocation[0].source == "ocsp"


def test_ocsp_unknown_for_certificates_it_never_issued(
    chain: Chain, openssl: str, tmp_path: Path
) -> None:
    stranger = chain.issuing.issue(chain.key.public_key(), subject="CN=placeholder")
    # a certificate with the issuing CA's name and key hash but a serial it never recorded
    builder = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        *_hashes(chain.issuing.certificate), 0xDEADBEEF, hashes.SHA1()
    )
    resp = chain.issuing.ocsp_response(builder.build().public_bytes(Encoding.DER))
    assert ocsp.load_der_ocsp_response(resp).certificate_status == ocsp.OCSPCertStatus.UNKNOWN
    (tmp_path / "u.resp").write_bytes(resp)
    text = run(openssl, "ocsp", "-respin", tmp_path / "u.resp", "-resp_text", "-noverify")
    assert b"Cert Status: unknown" in text.stdout
    assert stranger.serial_number != 0xDEADBEEF
    # unreadable request: the RFC 6960 malformedRequest answer, not an exception
    bad = ocsp.load_der_ocsp_response(chain.issuing.ocsp_response(b"not a request"))
    assert bad.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    with pytest.raises(RevocationError, match="MALFORMED_REQUEST"):
        read_ocsp_response(chain.issuing.ocsp_response(b"x"), issuer=chain.issuing.certificate)


def _hashes(issuer: x509.Certificate) -> tuple[bytes, bytes]:
    from esign.certs.revocation import _issuer_hashes

    return _issuer_hashes(issuer, hashes.SHA1())


def test_esign_reads_openssl_ocsp_responder(chain: Chain, openssl: str, tmp_path: Path) -> None:
    files = chain.write(tmp_path)
    key_file = tmp_path / "issuing.key"
    key_file.write_bytes(
        chain.issuing.key.private_bytes(
            Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    expiry = chain.revoked.not_valid_after_utc.strftime("%y%m%d%H%M%SZ")
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%y%m%d%H%M%SZ")
    index = tmp_path / "index.txt"
    index.write_text(
        f"V\t{expiry}\t\t{chain.good.serial_number:X}\tunknown\t/CN=Good Taxpayer\n"
        f"R\t{expiry}\t{when},keyCompromise\t{chain.revoked.serial_number:X}\tunknown\t"
        "/CN=Revoked Taxpayer\n"
    )
    for leaf, expected in (("good", CertStatus.GOOD), ("revoked", CertStatus.REVOKED)):
        req, resp = tmp_path / f"{leaf}.req", tmp_path / f"{leaf}.resp"
        _openssl_request(openssl, files, leaf, req)
        result = run(
            openssl, "ocsp", "-index", index, "-rsigner", files["issuing"], "-rkey", key_file,
            "-CA", files["issuing"], "-reqin", req, "-respout", resp, "-ndays", "1",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        nonce = (
            ocsp.load_der_ocsp_request(req.read_bytes())
            .extensions.get_extension_for_class(x509.OCSPNonce)
            .value.nonce
        )
        status = read_ocsp_response(
            resp.read_bytes(),
            issuer=chain.issuing.certificate,
            serial=getattr(chain, leaf).serial_number,
            nonce=nonce,
            at=datetime.datetime.now(datetime.timezone.utc),
        )
        assert status.status == expected
        if expected == CertStatus.REVOKED:
            assert status.reason == x509.ReasonFlags.key_compromise
        with pytest.raises(RevocationError, match="another certificate"):
            read_ocsp_response(resp.read_bytes(), issuer=chain.issuing.certificate, serial=1)
        with pytest.raises(RevocationError, match="nonce"):
            read_ocsp_response(resp.read_bytes(), issuer=chain.issuing.certificate, nonce=b"x")


def test_read_ocsp_refuses_an_unauthorised_signer(
    chain: Chain, openssl: str, tmp_path: Path
) -> None:
    files = chain.write(tmp_path)
    req = tmp_path / "r.req"
    _openssl_request(openssl, files, "good", req)
    # a responder certificate from the same CA but without the OCSPSigning EKU
    rkey = generate_key("ec-p256")
    plain = chain.issuing.issue(rkey.public_key(), subject="CN=Not a responder")
    with pytest.raises(CertificateProfileError, match="OCSPSigning"):
        chain.issuing.ocsp_response(req.read_bytes(), responder=(rkey, plain))
    # the root answering for the issuing CA's certificates: signed by the wrong party
    resp = chain.root.ocsp_response(req.read_bytes())
    with pytest.raises(RevocationError):
        read_ocsp_response(resp, issuer=chain.issuing.certificate)
    # a tampered response
    good = bytearray(chain.issuing.ocsp_response(req.read_bytes()))
    good[-3] ^= 1
    with pytest.raises(RevocationError):
        read_ocsp_response(bytes(good), issuer=chain.issuing.certificate)
    stale = chain.issuing.ocsp_response(req.read_bytes(), validity=datetime.timedelta(minutes=1))
    with pytest.raises(RevocationError, match="stale"):
        read_ocsp_response(
            stale,
            issuer=chain.issuing.certificate,
            at=datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1),
        )


def test_openssl_ocsp_client_against_esign_http_responder(
    chain: Chain, openssl: str, tmp_path: Path
) -> None:
    from esign.certs.ocsp_server import OcspServer

    files = chain.write(tmp_path)
    with OcspServer(chain.issuing) as server:
        for leaf, expected in (("good", "good"), ("revoked", "revoked")):
            # openssl builds the request with a nonce, POSTs it, checks nonce and signature
            result = run(
                openssl, "ocsp", "-url", server.url, "-issuer", files["issuing"],
                "-cert", files[leaf], "-CAfile", files["root"], "-verify_other", files["issuing"],
                "-timeout", "20",
            )  # fmt: skip
            out = (result.stdout + result.stderr).decode()
            assert result.returncode == 0, out
            assert "Response verify OK" in out and f"{files[leaf]}: {expected}" in out
        # GET with the base64 request in the path (RFC 6960 A.1)
        import base64
        import urllib.request

        request = (
            ocsp.OCSPRequestBuilder()
            .add_certificate(chain.revoked, chain.issuing.certificate, hashes.SHA1())
            .build()
            .public_bytes(Encoding.DER)
        )
        path = urllib.parse.quote(base64.b64encode(request).decode(), safe="")
        with urllib.request.urlopen(server.url + path, timeout=20) as reply:
            assert reply.headers["Content-Type"] == "application/ocsp-response"
            body = reply.read()
    status = read_ocsp_response(body, issuer=chain.issuing.certificate)
    assert status.status == CertStatus.REVOKED


PKITS = Path(__import__("cryptography_vectors").__file__).parent / "x509" / "PKITS_data"


def _pkits_cert(name: str) -> x509.Certificate:
    return x509.load_der_x509_certificate((PKITS / "certs" / f"{name}.crt").read_bytes())
