"""Verdicts a relying party can act on: the attacks that used to pass as VALID, each driven
through the public API and the command line, and the ETSI indication each now gets."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from asn1crypto import algos, cms, core
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

import esign
from esign.certs import CertificateAuthority, TrustContext
from esign.cli.main import main
from esign.keys import generate_key
from esign.signing.indication import Indication, SubIndication
from esign.signing.timestamps import TimeStampAuthority

UTC = datetime.timezone.utc
DOC = b"tax return 2026"


def _pem(obj: x509.Certificate | x509.CertificateRevocationList) -> bytes:
    return obj.public_bytes(Encoding.PEM)


# -- the hash inside the signature algorithm ------------------------------------------------


def _resign(
    signature: bytes, key: object, algorithm: str, params: dict[str, object] | None = None
) -> bytes:
    """The same SignerInfo (digestAlgorithm SHA-256, same signed attributes minus CMS
    algorithm protection), signed again with a weak ``signatureAlgorithm``."""
    info = cms.ContentInfo.load(signature)
    signer = info["content"]["signer_infos"][0]
    attrs = cms.CMSAttributes(
        [a for a in signer["signed_attrs"] if a["type"].native != "cms_algorithm_protection"]
    )
    signer["signed_attrs"] = attrs
    to_sign = attrs.untag().dump()
    if isinstance(key, ec.EllipticCurvePrivateKey):
        value = key.sign(to_sign, ec.ECDSA(hashes.SHA1()))
    elif isinstance(key, rsa.RSAPrivateKey) and algorithm == "rsassa_pss":
        value = key.sign(
            to_sign,
            padding.PSS(mgf=padding.MGF1(hashes.SHA1()), salt_length=20),
            hashes.SHA1(),
        )
    else:
        assert isinstance(key, rsa.RSAPrivateKey)
        digest = hashes.MD5() if algorithm.startswith("md5") else hashes.SHA1()
        value = key.sign(to_sign, padding.PKCS1v15(), digest)
    signer["signature_algorithm"] = algos.SignedDigestAlgorithm(
        {"algorithm": algorithm, **({"parameters": params} if params else {})}
    )
    signer["signature"] = core.OctetString(value)
    return bytes(info.dump(force=True))


@pytest.mark.parametrize(
    ("alg", "algorithm"),
    [
        ("ec-p256", "sha1_ecdsa"),
        ("rsa-3072", "sha1_rsa"),
        ("rsa-3072", "md5_rsa"),
        ("rsa-3072", "rsassa_pss"),
    ],
)
def test_weak_hash_inside_the_signature_algorithm_is_refused(
    alg: str, algorithm: str, tmp_path: Path
) -> None:
    ca = CertificateAuthority.create_root("CN=Policy Root")
    key = generate_key(alg)
    cert = ca.issue(key.public_key(), subject="CN=Signer", profile="signing")
    genuine = esign.sign(DOC, signer=(key, cert), detached=True)
    trust = TrustContext([ca.certificate], crls=[ca.crl()])
    assert esign.verify(genuine, DOC, trust=trust).valid
    params = None
    if algorithm == "rsassa_pss":
        sha1 = {"algorithm": "sha1"}
        params = {
            "hash_algorithm": sha1,
            "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": sha1},
            "salt_length": 20,
        }
    forged = _resign(genuine, key, algorithm, params)
    report = esign.verify(forged, DOC, trust=trust)
    assert report.digest_algorithm == "sha256"
    assert not report.valid and report.level is None
    assert report.indication is Indication.INDETERMINATE
    assert report.subindication is SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE
    assert "weak_algorithm" in [e.code for e in report.errors]
    # the same through the command line
    (tmp_path / "sig.p7s").write_bytes(forged)
    (tmp_path / "doc").write_bytes(DOC)
    (tmp_path / "ca.pem").write_bytes(_pem(ca.certificate))
    (tmp_path / "ca.crl").write_bytes(_pem(ca.crl()))
    args = ["verify", str(tmp_path / "sig.p7s"), "--data", str(tmp_path / "doc")]
    args += ["--trust", str(tmp_path / "ca.pem"), "--crl", str(tmp_path / "ca.crl")]
    assert main(args) == 1


# -- revocation is checked by default --------------------------------------------------------


@pytest.fixture
def world(tmp_path: Path) -> dict[str, object]:
    ca = CertificateAuthority.create_root("CN=Verdict Root CA")
    key = generate_key("ec-p256")
    cert = ca.issue(key.public_key(), subject="CN=Ivan Ivanov", profile="signing")
    signature = esign.sign(DOC, signer=(key, cert), detached=True)
    files = {"sig": tmp_path / "sig.p7s", "doc": tmp_path / "doc", "ca": tmp_path / "ca.pem"}
    files["sig"].write_bytes(signature)
    files["doc"].write_bytes(DOC)
    files["ca"].write_bytes(_pem(ca.certificate))
    return {"ca": ca, "key": key, "cert": cert, "sig": signature, "files": files, "tmp": tmp_path}


def _cli(
    world: dict[str, object], capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, dict[str, object]]:
    """``esign verify --json`` on the world's signature: the exit code and the JSON report."""
    files = world["files"]
    assert isinstance(files, dict)
    args = ["verify", str(files["sig"]), "--data", str(files["doc"]), "--trust", str(files["ca"])]
    capsys.readouterr()
    code = main([*args, *extra, "--json"])
    report: dict[str, object] = json.loads(capsys.readouterr().out)
    return code, report


def test_no_revocation_evidence_is_try_later(
    world: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    ca, sig = world["ca"], world["sig"]
    assert isinstance(ca, CertificateAuthority) and isinstance(sig, bytes)
    report = esign.verify(sig, DOC, trust=TrustContext([ca.certificate]))
    assert (report.valid, report.indication, report.subindication) == (
        False,
        Indication.INDETERMINATE,
        SubIndication.TRY_LATER,
    )
    assert "--crl" in report.errors[0].message and "--fetch" in report.errors[0].message
    code, out = _cli(world, capsys)
    assert code == 1
    assert (out["valid"], out["indication"], out["subindication"]) == (
        False,
        "INDETERMINATE",
        "TRY_LATER",
    )
    # the explicit opt-out passes, and says so
    code, out = _cli(world, capsys, "--no-revocation-check")
    assert code == 0 and out["indication"] == "TOTAL-PASSED"
    assert "revocation_not_checked" in [w["code"] for w in out["warnings"]]
    opted_out = esign.verify(sig, DOC, trust=TrustContext([ca.certificate], check_revocation=False))
    assert opted_out.valid and "not checked" in (opted_out.revocation or "")


def test_revoked_signer_is_not_valid(
    world: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    ca, cert, files, tmp = world["ca"], world["cert"], world["files"], world["tmp"]
    assert isinstance(ca, CertificateAuthority) and isinstance(files, dict)
    assert isinstance(tmp, Path) and isinstance(cert, x509.Certificate)
    ca.revoke(cert, "keyCompromise")
    (tmp / "ca.crl").write_bytes(_pem(ca.crl()))
    code, out = _cli(world, capsys, "--crl", str(tmp / "ca.crl"))
    assert code == 1
    assert (out["indication"], out["subindication"]) == ("INDETERMINATE", "REVOKED_NO_POE")


def test_revocation_only_in_a_delta_crl_counts(
    world: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    """The CA announces no delta (no freshestCRL); base + delta are given on the line."""
    ca, cert, tmp = world["ca"], world["cert"], world["tmp"]
    assert isinstance(ca, CertificateAuthority) and isinstance(tmp, Path)
    assert isinstance(cert, x509.Certificate)
    (tmp / "base.crl").write_bytes(_pem(ca.crl()))
    ca.revoke(cert, "keyCompromise")
    (tmp / "delta.crl").write_bytes(_pem(ca.delta_crl()))
    code, out = _cli(world, capsys, "--crl", str(tmp / "base.crl"), str(tmp / "delta.crl"))
    assert code == 1, out
    assert out["subindication"] == "REVOKED_NO_POE"
    code, _ = _cli(world, capsys, "--crl", str(tmp / "base.crl"))
    assert code == 0, "the base CRL alone does not know"


def _crl(
    issuer_name: x509.Name,
    key: object,
    *,
    revoked: int | None = None,
    this_update: datetime.datetime | None = None,
    next_update: datetime.datetime | None = None,
) -> x509.CertificateRevocationList:
    now = datetime.datetime.now(UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer_name)
        .last_update(this_update or now - datetime.timedelta(hours=1))
        .next_update(next_update or now + datetime.timedelta(days=1))
    )
    if revoked is not None:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(revoked)
            .revocation_date(now - datetime.timedelta(minutes=30))
            .build()
        )
    return builder.sign(key, hashes.SHA256())  # type: ignore[arg-type]


def test_unusable_crls_never_make_a_signature_valid(
    world: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    """A CRL from an impostor, a stale one, one for another CA: status unknown, exit 1."""
    ca, tmp = world["ca"], world["tmp"]
    assert isinstance(ca, CertificateAuthority) and isinstance(tmp, Path)
    impostor = CertificateAuthority.create_root(ca.certificate.subject)
    other = CertificateAuthority.create_root("CN=Other CA")
    past = datetime.datetime.now(UTC) - datetime.timedelta(days=10)
    cases = {
        "forged": _crl(ca.certificate.subject, impostor.key),
        "stale": _crl(
            ca.certificate.subject,
            ca.key,
            this_update=past,
            next_update=past + datetime.timedelta(days=1),
        ),
        "other": other.crl(),
    }
    for name, crl in cases.items():
        (tmp / f"{name}.crl").write_bytes(_pem(crl))
        code, out = _cli(world, capsys, "--crl", str(tmp / f"{name}.crl"))
        assert code == 1, name
        assert (out["indication"], out["subindication"]) == ("INDETERMINATE", "TRY_LATER"), name


def test_ocsp_for_a_certificate_that_names_no_responder(world: dict[str, object]) -> None:
    """esign's CA writes no AIA by default; a given OCSP response still decides."""
    from cryptography.x509 import ocsp

    ca, cert, sig = world["ca"], world["cert"], world["sig"]
    assert isinstance(ca, CertificateAuthority) and isinstance(cert, x509.Certificate)
    assert isinstance(sig, bytes)
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, ca.certificate, hashes.SHA256())
    good = ca.ocsp_response(request.build().public_bytes(Encoding.DER))
    report = esign.verify(sig, DOC, trust=TrustContext([ca.certificate], ocsps=[good]))
    assert report.valid, report.errors
    assert "ocsp" in (report.revocation or "")
    ca.revoke(cert, "keyCompromise")
    revoked = ca.ocsp_response(request.build().public_bytes(Encoding.DER))
    refused = esign.verify(sig, DOC, trust=TrustContext([ca.certificate], ocsps=[revoked]))
    assert refused.subindication is SubIndication.REVOKED_NO_POE


# -- time-stamps from a compromised TSA prove nothing ------------------------------------


def test_backdated_token_from_a_compromised_tsa_gives_no_proof_of_existence(
    tmp_path: Path,
) -> None:
    now = datetime.datetime.now(UTC).replace(microsecond=0)
    clock = [now - datetime.timedelta(days=1)]
    ca = CertificateAuthority.create_root("CN=TSA World Root", clock=lambda: clock[0])
    tsa_key = generate_key("ec-p256")
    tsa_cert = ca.issue(tsa_key.public_key(), subject="CN=Stolen TSA", profile="tsa")
    key = generate_key("ec-p256")
    cert = ca.issue(key.public_key(), subject="CN=Compromised Signer", profile="signing")
    clock[0] = now
    # The signer's key is stolen and revoked; the TSA's key is stolen too (and revoked for
    # it); the thief back-dates a token to before the signer's revocation.
    ca.revoke(cert, "keyCompromise", at=now - datetime.timedelta(minutes=10))
    ca.revoke(tsa_cert, "keyCompromise", at=now - datetime.timedelta(minutes=5))
    backdated = TimeStampAuthority(
        tsa_key, tsa_cert, clock=lambda: now - datetime.timedelta(hours=2)
    )
    signature = esign.sign(
        DOC,
        signer=(key, cert),
        detached=True,
        timestamper=backdated.timestamper,
        clock=lambda: now - datetime.timedelta(hours=2),
    )
    trust = TrustContext([ca.certificate], crls=[ca.crl()])
    report = esign.verify(signature, DOC, trust=trust)
    assert not report.valid
    assert report.timestamp is None, "a compromised TSA's token proves no time"
    codes = [e.code for e in report.errors]
    assert "timestamp_untrusted" in codes and "revoked" in codes
    assert report.subindication is SubIndication.REVOKED_NO_POE
    # an honest TSA's token from the same moment keeps the signature valid
    honest_key = generate_key("ec-p256")
    clock[0] = now - datetime.timedelta(days=1)
    honest_cert = ca.issue(honest_key.public_key(), subject="CN=Honest TSA", profile="tsa")
    clock[0] = now
    honest = TimeStampAuthority(
        honest_key, honest_cert, clock=lambda: now - datetime.timedelta(hours=2)
    )
    stamped = esign.sign(
        DOC,
        signer=(key, cert),
        detached=True,
        timestamper=honest.timestamper,
        clock=lambda: now - datetime.timedelta(hours=2),
    )
    kept = esign.verify(stamped, DOC, trust=TrustContext([ca.certificate], crls=[ca.crl()]))
    assert kept.valid, kept.errors
    assert kept.timestamp is not None


# -- the algorithm policy has dates ----------------------------------------------------------


def test_sha1_archive_time_stamped_in_2010_is_judged_at_its_time() -> None:
    from esign.policy import AlgorithmPolicy

    policy = AlgorithmPolicy()
    in_2010 = datetime.datetime(2010, 6, 1, tzinfo=UTC)
    assert policy.digest_refusal("sha1", in_2010) is None
    assert policy.digest_refusal("sha1") is not None, "a fresh SHA-1 signature is refused"
    assert policy.digest_refusal("md5", in_2010) is not None, "MD5 never"
    assert AlgorithmPolicy(legacy=True).digest_refusal("sha1") is None
    sha1_rsa = algos.SignedDigestAlgorithm({"algorithm": "sha1_rsa"})
    assert policy.signature_refusal(sha1_rsa, in_2010) is None
    assert "sha1" in (policy.signature_refusal(sha1_rsa) or "")
