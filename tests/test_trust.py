"""TrustContext with esign's own CA: revocation (CRL, OCSP, fetched), freshness, domains."""

from __future__ import annotations

import datetime
import http.server
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from asn1crypto import cms
from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID
from pyhanko_certvalidator import CertificateValidator, ValidationContext, errors

from esign._sync import run_sync
from esign.certs import CertificateAuthority
from esign.certs.revinfo import parse_crl, revocation_from_signed_data
from esign.certs.trust import TrustContext, TrustDomains
from esign.errors import MalformedInputError
from esign.keys import generate_key

UTC = datetime.timezone.utc
T0 = datetime.datetime(2026, 1, 10, 12, 0, tzinfo=UTC)  # CA created
SIGNED = datetime.datetime(2026, 2, 1, 12, 0, tzinfo=UTC)  # Ivanov signs
REVOKED = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # key compromised
CRL_ISSUED = datetime.datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
LATER = datetime.datetime(2026, 3, 3, 12, 0, tzinfo=UTC)


@dataclass
class World:
    ca: CertificateAuthority
    ivanov: x509.Certificate
    petrov: x509.Certificate


@pytest.fixture(scope="module")
def world() -> World:
    ca = CertificateAuthority.create_root("CN=Tax Service Root CA,O=Tax Service", clock=lambda: T0)
    return World(
        ca,
        ca.issue(generate_key("ec-p256").public_key(), subject="CN=Ivan Ivanov"),
        ca.issue(generate_key("ec-p256").public_key(), subject="CN=Petr Petrov"),
    )


def make_crl(
    ca: CertificateAuthority,
    revoked: list[tuple[int, datetime.datetime, x509.ReasonFlags]],
    *,
    this_update: datetime.datetime = CRL_ISSUED,
    next_update: datetime.datetime | None = None,
) -> x509.CertificateRevocationList:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.certificate.subject)
        .last_update(this_update)
        .next_update(next_update or this_update + datetime.timedelta(days=7))
        .add_extension(x509.CRLNumber(1), critical=False)
    )
    for serial, when, reason in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(when)
            .add_extension(x509.CRLReason(reason), critical=False)
            .build()
        )
    return builder.sign(ca.key, hashes.SHA256())  # type: ignore[arg-type]


def revoked_ivanov(world: World, **kw: object) -> x509.CertificateRevocationList:
    entry = (world.ivanov.serial_number, REVOKED, x509.ReasonFlags.key_compromise)
    return make_crl(world.ca, [entry], **kw)  # type: ignore[arg-type]


# -- revocation by CRL ---------------------------------------------------------------------


def test_revoked_names_reason_and_date(world: World) -> None:
    trust = TrustContext([world.ca.certificate], crls=[revoked_ivanov(world)], name="tax service")
    result = trust.validate(world.ivanov, at=LATER)
    assert not result.trusted
    assert [f.code for f in result.failures] == ["revoked"]
    assert result.revocation_reason == "key_compromise"
    assert result.revoked_at == REVOKED
    assert "2026-03-01" in result.failures[0].message
    assert trust.validate(world.petrov, at=LATER).trusted, "only Ivanov is on the CRL"


def test_before_revocation_is_valid(world: World) -> None:
    """A signature made before the revocation validates at its signing time (today's CRL)."""
    trust = TrustContext([world.ca.certificate], crls=[revoked_ivanov(world)])
    assert trust.validate(world.ivanov, at=SIGNED).trusted
    assert not trust.validate(world.ivanov, at=LATER).trusted, "cache keyed by moment"
    strict = TrustContext(
        [world.ca.certificate],
        crls=[revoked_ivanov(world)],
        check_revocation=True,
        retroactive_revocation=False,
    )
    result = strict.validate(world.ivanov, at=SIGNED)
    assert not result.trusted, "a CRL issued after the moment does not speak for it"
    assert [f.code for f in result.failures] == ["no_revocation_info"]


def test_stale_crl(world: World) -> None:
    old = make_crl(world.ca, [], this_update=T0, next_update=T0 + datetime.timedelta(days=1))
    required = TrustContext([world.ca.certificate], crls=[old], check_revocation=True)
    result = required.validate(world.ivanov, at=LATER)
    assert not result.trusted
    assert [f.code for f in result.failures] == ["stale_revocation_info"]
    opted_out = TrustContext([world.ca.certificate], crls=[old], check_revocation=False)
    result = opted_out.validate(world.ivanov, at=LATER)
    assert result.trusted and not result.revocation_checked and not result.revocation
    inside = required.validate(world.ivanov, at=T0 + datetime.timedelta(hours=12))
    assert inside.trusted, "inside thisUpdate..nextUpdate the same CRL is fresh"


def test_required_without_any_crl(world: World) -> None:
    trust = TrustContext([world.ca.certificate], check_revocation=True)
    result = trust.validate(world.ivanov, at=LATER)
    assert [f.code for f in result.failures] == ["no_revocation_info"]


def test_crl_signed_by_another_ca_is_not_used(world: World) -> None:
    impostor = CertificateAuthority.create_root(world.ca.certificate.subject, clock=lambda: T0)
    forged = make_crl(impostor, [])
    trust = TrustContext([world.ca.certificate], crls=[forged], check_revocation=True)
    result = trust.validate(world.ivanov, at=LATER)
    assert not result.trusted
    assert [f.code for f in result.failures] == ["no_revocation_info"]


def _pyhanko_verdict(
    world: World, crl: x509.CertificateRevocationList, cert: x509.Certificate
) -> str:
    context = ValidationContext(
        trust_roots=[asn1_x509.Certificate.load(world.ca.certificate.public_bytes(Encoding.DER))],
        moment=LATER,
        crls=[crl.public_bytes(Encoding.DER)],
        revocation_mode="require",
    )
    validator = CertificateValidator(
        asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER)), validation_context=context
    )
    try:
        run_sync(validator.async_validate_usage({"digital_signature"}))
    except errors.RevokedError as exc:
        return f"revoked {exc.reason.native} {exc.revocation_dt.isoformat()}"
    return "good"


def test_serial_index_agrees_with_pyhanko(world: World) -> None:
    """The fast CRL index and pyHanko's full processing reach the same verdicts."""
    ca = world.ca
    certs = [ca.issue(generate_key("ec-p256").public_key(), subject=f"CN=u{i}") for i in range(6)]
    reasons = [x509.ReasonFlags.superseded, x509.ReasonFlags.certificate_hold]
    entries = [(c.serial_number, REVOKED, reasons[i % 2]) for i, c in enumerate(certs[:3])]
    entries += [(c.serial_number + 1, REVOKED, reasons[0]) for c in certs[3:]]  # near misses
    crl = make_crl(ca, entries)
    trust = TrustContext([ca.certificate], crls=[crl])
    for cert in certs:
        result = trust.validate(cert, at=LATER)
        ours = (
            f"revoked {result.revocation_reason} {result.revoked_at.isoformat()}"
            if result.revoked_at
            else "good"
        )
        assert result.trusted == (ours == "good")
        assert ours == _pyhanko_verdict(world, crl, cert)


# -- OCSP ----------------------------------------------------------------------------------


def _ocsp_response(
    world: World,
    cert: x509.Certificate,
    *,
    status: ocsp.OCSPCertStatus = ocsp.OCSPCertStatus.GOOD,
    responder: tuple[object, x509.Certificate] | None = None,
    this_update: datetime.datetime = CRL_ISSUED,
) -> bytes:
    key, responder_cert = responder or (world.ca.key, world.ca.certificate)
    builder = ocsp.OCSPResponseBuilder().add_response(
        cert=cert,
        issuer=world.ca.certificate,
        algorithm=hashes.SHA256(),
        cert_status=status,
        this_update=this_update,
        next_update=this_update + datetime.timedelta(days=7),
        revocation_time=REVOKED if status == ocsp.OCSPCertStatus.REVOKED else None,
        revocation_reason=(
            x509.ReasonFlags.key_compromise if status == ocsp.OCSPCertStatus.REVOKED else None
        ),
    )
    builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, responder_cert)
    if responder_cert is not world.ca.certificate:
        builder = builder.certificates([responder_cert])
    response = builder.sign(key, hashes.SHA256())  # type: ignore[arg-type]
    return response.public_bytes(Encoding.DER)


def _with_aia(world: World, url: str = "http://127.0.0.1:9/ocsp") -> x509.Certificate:
    """A certificate that names an OCSP responder (pyHanko consults OCSP only then)."""
    key = generate_key("ec-p256")
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name.from_rfc4514_string("CN=Sidorov"))
        .issuer_name(world.ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(T0)
        .not_valid_after(T0 + datetime.timedelta(days=365))
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        x509.oid.AuthorityInformationAccessOID.OCSP,
                        x509.UniformResourceIdentifier(url),
                    )
                ]
            ),
            critical=False,
        )
        .sign(world.ca.key, hashes.SHA256())  # type: ignore[arg-type]
    )


def test_ocsp_good_and_revoked(world: World) -> None:
    cert = _with_aia(world)
    good = TrustContext(
        [world.ca.certificate], ocsps=[_ocsp_response(world, cert)], check_revocation=True
    )
    assert good.validate(cert, at=LATER).trusted
    revoked = TrustContext(
        [world.ca.certificate],
        ocsps=[_ocsp_response(world, cert, status=ocsp.OCSPCertStatus.REVOKED)],
    )
    result = revoked.validate(cert, at=LATER)
    assert [f.code for f in result.failures] == ["revoked"]
    assert result.revocation_reason == "key_compromise" and result.revoked_at == REVOKED


def _responder(world: World, *, eku: bool) -> tuple[object, x509.Certificate]:
    key = generate_key("ec-p256")
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name.from_rfc4514_string("CN=OCSP responder"))
        .issuer_name(world.ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(T0)
        .not_valid_after(T0 + datetime.timedelta(days=365))
    )
    if eku:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False
        ).add_extension(x509.OCSPNoCheck(), critical=False)
    return key, builder.sign(world.ca.key, hashes.SHA256())  # type: ignore[arg-type]


def test_ocsp_responder_authorisation(world: World) -> None:
    cert = _with_aia(world)
    delegated = _ocsp_response(world, cert, responder=_responder(world, eku=True))
    trust = TrustContext([world.ca.certificate], ocsps=[delegated], check_revocation=True)
    assert trust.validate(cert, at=LATER).trusted, "a responder with id-kp-OCSPSigning"
    unauthorised = _ocsp_response(world, cert, responder=_responder(world, eku=False))
    trust = TrustContext([world.ca.certificate], ocsps=[unauthorised], check_revocation=True)
    result = trust.validate(cert, at=LATER)
    assert not result.trusted
    assert [f.code for f in result.failures] == ["no_revocation_info"]
    assert "OCSP" in result.failures[0].message


def test_stale_ocsp(world: World) -> None:
    cert = _with_aia(world)
    old = _ocsp_response(world, cert, this_update=T0)
    trust = TrustContext([world.ca.certificate], ocsps=[old], check_revocation=True)
    result = trust.validate(cert, at=LATER)
    assert [f.code for f in result.failures] == ["stale_revocation_info"]


# -- revocation values carried by a signature ---------------------------------------------


def test_revocation_embedded_in_signed_data(world: World) -> None:
    crl = revoked_ivanov(world)
    signed = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [],
            "encap_content_info": {"content_type": "data"},
            "crls": [asn1_crl.CertificateList.load(crl.public_bytes(Encoding.DER))],
            "signer_infos": [],
        }
    )
    embedded = revocation_from_signed_data(cms.SignedData.load(signed.dump()))
    assert len(embedded.crls) == 1 and not embedded.ocsps
    trust = TrustContext([world.ca.certificate])
    unknown = trust.validate(world.ivanov, at=LATER)
    assert [f.code for f in unknown.failures] == ["no_revocation_info"]
    result = trust.validate(world.ivanov, at=LATER, crls=embedded.crls)
    assert [f.code for f in result.failures] == ["revoked"]
    again = trust.validate(world.ivanov, at=LATER)
    assert [f.code for f in again.failures] == ["no_revocation_info"], "per-call data is per call"


def test_cades_revocation_values_attribute(world: World) -> None:
    """CAdES B-LT carries CRLs and OCSP responses in an unsigned signer attribute."""
    from esign import sign
    from esign.certs.revinfo import REVOCATION_VALUES_OID, RevocationValues
    from esign.signing.container import load_signed_data

    key = generate_key("ec-p256")
    cert = world.ca.issue(key.public_key(), subject="CN=Archive signer")
    signed = load_signed_data(sign(b"return", signer=(key, cert), detached=True))
    crl = asn1_crl.CertificateList.load(
        make_crl(
            world.ca, [(cert.serial_number, REVOKED, x509.ReasonFlags.superseded)]
        ).public_bytes(Encoding.DER)
    )
    from asn1crypto import ocsp as asn1_ocsp

    response = asn1_ocsp.OCSPResponse.load(_ocsp_response(world, cert))
    basic = response["response_bytes"]["response"].parsed
    values = RevocationValues({"crl_vals": [crl], "ocsp_vals": [basic]})
    signer_info = signed["signer_infos"][0]
    signer_info["unsigned_attrs"] = cms.CMSAttributes(
        [cms.CMSAttribute({"type": REVOCATION_VALUES_OID, "values": [values]})]
    )
    embedded = revocation_from_signed_data(cms.SignedData.load(signed.untag().dump(force=True)))
    assert [c.dump() for c in embedded.crls] == [crl.dump()]
    assert len(embedded.ocsps) == 1
    assert embedded.ocsps[0]["response_bytes"]["response"].parsed.dump() == basic.dump()
    result = TrustContext([world.ca.certificate]).validate(cert, at=LATER, crls=embedded.crls)
    assert result.revocation_reason == "superseded"


def test_malformed_revocation_input() -> None:
    with pytest.raises(MalformedInputError):
        parse_crl(b"\x30\x03\x02\x01\x01")
    with pytest.raises(MalformedInputError):
        parse_crl(b"-----BEGIN X509 CRL-----\n!!!\n-----END X509 CRL-----\n")


# -- fetching over HTTP --------------------------------------------------------------------


@pytest.fixture
def crl_server() -> Iterator[tuple[str, dict[str, object]]]:
    state: dict[str, object] = {"body": b"", "delay": 0.0, "hits": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state["hits"] = int(state["hits"]) + 1  # type: ignore[call-overload]
            time.sleep(float(state["delay"]))  # type: ignore[arg-type]
            body = bytes(state["body"])  # type: ignore[call-overload]
            self.send_response(200)
            self.send_header("Content-Type", "application/pkix-crl")
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


def _with_crl_dp(world: World, url: str) -> x509.Certificate:
    key = generate_key("ec-p256")
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name.from_rfc4514_string("CN=Kuznetsov"))
        .issuer_name(world.ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(T0)
        .not_valid_after(T0 + datetime.timedelta(days=365))
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(
            x509.CRLDistributionPoints(
                [x509.DistributionPoint([x509.UniformResourceIdentifier(url)], None, None, None)]
            ),
            critical=False,
        )
        .sign(world.ca.key, hashes.SHA256())  # type: ignore[arg-type]
    )


def test_fetch_crl_from_distribution_point(
    world: World, crl_server: tuple[str, dict[str, object]]
) -> None:
    url, state = crl_server
    cert = _with_crl_dp(world, url)
    state["body"] = make_crl(
        world.ca, [(cert.serial_number, REVOKED, x509.ReasonFlags.superseded)]
    ).public_bytes(Encoding.DER)
    offline = TrustContext([world.ca.certificate], check_revocation=True)
    assert [f.code for f in offline.validate(cert, at=LATER).failures] == ["no_revocation_info"]
    assert state["hits"] == 0, "fetching is off by default"
    online = TrustContext([world.ca.certificate], check_revocation=True, allow_fetching=True)
    result = online.validate(cert, at=LATER)
    assert state["hits"] == 1
    assert [f.code for f in result.failures] == ["revoked"]
    assert result.revocation_reason == "superseded"


def test_fetch_timeout(world: World, crl_server: tuple[str, dict[str, object]]) -> None:
    url, state = crl_server
    cert = _with_crl_dp(world, url)
    state["body"] = make_crl(world.ca, []).public_bytes(Encoding.DER)
    state["delay"] = 3.0
    trust = TrustContext(
        [world.ca.certificate], check_revocation=True, allow_fetching=True, fetch_timeout=0.5
    )
    started = time.monotonic()
    result = trust.validate(cert, at=LATER)
    assert time.monotonic() - started < 2.5
    assert [f.code for f in result.failures] == ["no_revocation_info"]


# -- trust domains and usage ---------------------------------------------------------------


def test_same_certificate_two_domains(world: World) -> None:
    bank = CertificateAuthority.create_root("CN=Bank Root CA", clock=lambda: T0)
    tax = TrustContext([world.ca.certificate], crls=[make_crl(world.ca, [])], name="tax service")
    bank_domain = TrustContext([bank.certificate], name="bank")
    assert tax.validate(world.ivanov, at=LATER).accepted_by == "tax service"
    refused = bank_domain.validate(world.ivanov, at=LATER)
    assert refused.accepted_by is None
    assert [f.code for f in refused.failures] == ["no_path"]
    both = TrustDomains([bank_domain, tax])
    assert both.validate(world.ivanov, at=LATER).accepted_by == "tax service"
    client = bank.issue(generate_key("ec-p256").public_key(), subject="CN=Client")
    neither = TrustDomains([tax]).validate(client, at=LATER)
    assert not neither.trusted and "[tax service]" in neither.failures[0].message


def test_wrong_usage(world: World) -> None:
    cert = world.ca.issue(
        generate_key("ec-p256").public_key(), subject="CN=Box", profile="encryption"
    )
    trust = TrustContext([world.ca.certificate], crls=[make_crl(world.ca, [])])
    assert [f.code for f in trust.validate(cert, at=LATER).failures] == ["wrong_usage"]
    assert trust.validate(cert, at=LATER, usage="encryption").trusted


def test_expired_and_not_yet_valid(world: World) -> None:
    trust = TrustContext([world.ca.certificate])
    late = trust.validate(world.ivanov, at=T0 + datetime.timedelta(days=400))
    assert [f.code for f in late.failures] == ["expired"]
    early = trust.validate(world.ivanov, at=T0 - datetime.timedelta(days=1))
    assert [f.code for f in early.failures] == ["not_yet_valid"]


def test_to_dict_is_json_ready(world: World) -> None:
    import json

    result = TrustContext(
        [world.ca.certificate], crls=[make_crl(world.ca, [])], name="tax service"
    ).validate(world.ivanov, at=LATER)
    payload = json.loads(json.dumps(result.to_dict()))
    assert payload["valid"] is True and payload["accepted_by"] == "tax service"
    assert payload["chain"][0]["subject"] == "CN=Ivan Ivanov"


def test_docs_examples_run(capsys: pytest.CaptureFixture[str]) -> None:
    """The Python examples of docs/trust.md run and print what the comments say."""
    import re

    doc = (Path(__file__).parents[1] / "docs" / "trust.md").read_text()
    code = "\n".join(re.findall(r"```python\n(.*?)```", doc, re.S))
    exec(compile(code, "docs/trust.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    expected = [
        line.split("# ", 1)[1].strip()
        for line in code.splitlines()
        if line.startswith("print(") and "# " in line
    ]
    assert [p.strip() for p in printed] == expected


# -- algorithm policy ----------------------------------------------------------------------


def _rsa_chain(
    bits: int, digest: hashes.HashAlgorithm
) -> tuple[x509.Certificate, x509.Certificate]:
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    name = x509.Name.from_rfc4514_string(f"CN=Legacy RSA-{bits} CA")
    root = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(T0)
        .not_valid_after(T0 + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, digest)
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name.from_rfc4514_string("CN=Old archive signer"))
        .issuer_name(name)
        .public_key(generate_key("ec-p256").public_key())
        .serial_number(2)
        .not_valid_before(T0)
        .not_valid_after(T0 + datetime.timedelta(days=365))
        .sign(key, digest)
    )
    return root, leaf


def test_rsa_1024_needs_the_legacy_opt_in() -> None:
    root, leaf = _rsa_chain(1024, hashes.SHA256())
    refused = TrustContext([root]).validate(leaf, at=LATER, usage="any")
    assert [f.code for f in refused.failures] == ["weak_algorithm"]
    assert "1024" in refused.failures[0].message
    legacy = TrustContext([root], legacy_algorithms=True, check_revocation=False)
    assert legacy.validate(leaf, at=LATER, usage="any").trusted


def test_sha1_needs_the_legacy_opt_in(openssl: str, tmp_path: Path) -> None:
    """cryptography refuses to sign with SHA-1; OpenSSL makes the old-style chain."""
    from tests.conftest import run

    ca, leaf = tmp_path / "ca.pem", tmp_path / "leaf.pem"
    steps: list[list[str | Path]] = [
        [
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-sha1",
            "-nodes",
            "-keyout",
            tmp_path / "ca.key",
            "-out",
            ca,
            "-subj",
            "/CN=SHA-1 CA",
            "-days",
            "30",
        ],
        [
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            tmp_path / "leaf.key",
            "-out",
            tmp_path / "leaf.csr",
            "-subj",
            "/CN=Old signer",
        ],
        [
            "x509",
            "-req",
            "-sha1",
            "-in",
            tmp_path / "leaf.csr",
            "-CA",
            ca,
            "-CAkey",
            tmp_path / "ca.key",
            "-set_serial",
            "7",
            "-days",
            "10",
            "-out",
            leaf,
        ],
    ]
    for args in steps:
        done = run(openssl, *args)
        assert done.returncode == 0, done.stderr
    anchor = x509.load_pem_x509_certificate(ca.read_bytes())
    certificate = x509.load_pem_x509_certificate(leaf.read_bytes())
    refused = TrustContext([anchor]).validate(certificate, usage="any")
    assert [f.code for f in refused.failures] == ["weak_algorithm"]
    assert "sha1" in refused.failures[0].message.lower()
    legacy = TrustContext([anchor], legacy_algorithms=True, check_revocation=False).validate(
        certificate, usage="any"
    )
    assert legacy.trusted, legacy.failures


def test_cached_verdict_depends_on_path_helpers(world: World) -> None:
    """A 'no path' verdict without the intermediate must not be served when it is given."""
    sub = world.ca.create_intermediate("CN=Regional CA")
    leaf = sub.issue(generate_key("ec-p256").public_key(), subject="CN=Sergeev")
    trust = TrustContext([world.ca.certificate], check_revocation=False)
    assert [f.code for f in trust.validate(leaf, at=LATER).failures] == ["no_path"]
    helped = trust.validate(leaf, at=LATER, extra_certificates=[sub.certificate])
    assert helped.trusted and len(helped.chain) == 3


def test_derive_keeps_every_setting_it_is_not_told_to_change() -> None:
    """Derived contexts (embedded CRLs of a B-LT signature, a path-only twin) must not
    silently drop OCSP responses, policies, trusted lists or the revocation requirement."""
    from esign.certs.trusted_list import TrustedList

    ca = CertificateAuthority.create_root("CN=Derive Root")
    listed = TrustedList("ru", [ca.certificate], name="ru list")
    base = TrustContext(
        [ca.certificate],
        name="bank",
        check_revocation=True,
        legacy_algorithms=True,
        trusted_lists=[listed],
        fetch_timeout=3.0,
    )
    derived = base.derive(crls=[ca.crl()])
    assert derived.name == "bank" and derived.check_revocation and derived.legacy_algorithms
    assert derived.trusted_lists == [listed] and derived.fetch_timeout == 3.0
    assert derived.policy == base.policy and len(derived.crls) == 1 and base.crls == []
    assert base.derive(check_revocation=False).check_revocation is False
