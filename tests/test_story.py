"""The whole story across layers, as DESIGN §1 tells it: keys, CA, signing, envelope, trust.

Each layer has its own tests; these check that they compose: a qualified signer seals a
return for the tax service, which opens it with the command line, once as a verifier that
holds the trusted list (QUALIFIED) and once as one that does not (ADVANCED), and a
signature made before the signer's certificate was revoked is judged at the right time.
"""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding

from esign import SignatureLevel, open_envelope, seal
from esign.certs import CertificateAuthority, TrustContext
from esign.certs import qualified as q
from esign.certs.profiles import QualifiedSettings
from esign.certs.trusted_list import TrustedList
from esign.keys import generate_key, save_key

#: The name pyHanko registers with asn1crypto for id-ml-dsa-44 (RFC 9881).
ML_DSA_44_NAME = "mldsa44"
RETURN = b"Tax return 2026\nIncome: 1 250 000\n"
SUBJECT = "CN=Ivan Ivanov,GN=Ivan,SN=Ivanov,serialNumber=PNODE-500100732259,C=DE"


def _qualified_ca(qscd: bool = True) -> CertificateAuthority:
    return CertificateAuthority.create_root(
        "CN=Accredited CA,O=Trust Services,C=DE",
        qualified=QualifiedSettings(
            pds=(("https://qca.example/pds-en.pdf", "en"),),
            qc_type=q.QC_TYPE_ESIGN,
            qscd=qscd,
            eidas_policies=(q.QCP_N_QSCD,) if qscd else (q.QCP_N,),
        ),
    )


def test_qualified_only_with_the_trusted_list_and_a_qscd() -> None:
    qca = _qualified_ca()
    signer = generate_key("ec-p256")
    cert = qca.issue(signer.public_key(), subject=SUBJECT, profile="qualified-eidas")
    tax_key = generate_key("ec-p256")
    tax_cert = qca.issue(tax_key.public_key(), subject="CN=Tax Service", profile="encryption")
    envelope = seal(RETURN, signer=(signer, cert), recipients=[tax_cert])
    trust = TrustContext([qca.certificate], crls=[qca.crl()])
    listed = TrustedList("eidas", [qca.certificate], name="EU list")

    qualified = open_envelope(
        envelope, recipient=(tax_key, tax_cert), trust=trust, trusted_lists=[listed]
    )
    assert qualified.report.valid and qualified.report.level is SignatureLevel.QUALIFIED
    unlisted = open_envelope(envelope, recipient=(tax_key, tax_cert), trust=trust)
    assert unlisted.report.valid and unlisted.report.level is SignatureLevel.ADVANCED
    assert any("trusted list" in m for m in unlisted.report.missing_evidence)

    no_qscd = _qualified_ca(qscd=False)
    soft_cert = no_qscd.issue(signer.public_key(), subject=SUBJECT, profile="qualified-eidas")
    soft = seal(RETURN, signer=(signer, soft_cert), recipients=[tax_cert])
    report = open_envelope(
        soft,
        recipient=(tax_key, tax_cert),
        trust=TrustContext([no_qscd.certificate], crls=[no_qscd.crl()]),
        trusted_lists=[TrustedList("eidas", [no_qscd.certificate])],
    ).report
    assert report.valid and report.level is SignatureLevel.ADVANCED
    assert any("QcSSCD" in m for m in report.missing_evidence)


def test_cli_open_decides_the_level_from_a_trusted_list_file(tmp_path: Path) -> None:
    qca = _qualified_ca()
    signer = generate_key("ec-p256")
    cert = qca.issue(signer.public_key(), subject=SUBJECT, profile="qualified-eidas")
    tax_key = generate_key("ec-p256")
    tax_cert = qca.issue(tax_key.public_key(), subject="CN=Tax Service", profile="encryption")
    (tmp_path / "return.p7m").write_bytes(
        seal(RETURN, signer=(signer, cert), recipients=[tax_cert])
    )
    save_key(tax_key, tmp_path / "tax.key", "pw")
    (tmp_path / "ca.pem").write_bytes(qca.certificate.public_bytes(Encoding.PEM))
    (tmp_path / "ca.crl").write_bytes(qca.crl().public_bytes(Encoding.PEM))
    (tmp_path / "tl.json").write_text(TrustedList("eidas", [qca.certificate]).to_json())

    def open_with(*extra: str) -> dict[str, object]:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "esign",
                "open",
                str(tmp_path / "return.p7m"),
                "--key",
                str(tmp_path / "tax.key"),
                "--trust",
                str(tmp_path / "ca.pem"),
                "--crl",
                str(tmp_path / "ca.crl"),
                "--json",
                *extra,
            ],
            capture_output=True,
            text=True,
            env={"ESIGN_PASSWORD": "pw", "PATH": ""},
            stdin=subprocess.DEVNULL,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        payload: dict[str, object] = json.loads(result.stdout)
        return payload

    assert open_with("--trusted-list", str(tmp_path / "tl.json"))["level"] == "qualified"
    assert open_with("--qualified-issuer", str(tmp_path / "ca.pem"))["level"] == "qualified"
    assert open_with()["level"] == "advanced"
    assert open_with("--trusted-list", str(tmp_path / "tl.json"), "--jurisdiction", "eidas")[
        "valid"
    ]


def test_forgotten_password_revocation_and_time() -> None:
    """Revoke and re-issue (the forgotten-password flow); the old certificate's signatures
    verify when judged before the revocation and fail when judged after it."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca = CertificateAuthority.create_root("CN=Tax Service Root CA")
    old_key = generate_key("ec-p256")
    old_cert = ca.issue(old_key.public_key(), subject="CN=Ivan Ivanov", profile="signing")
    tax_key = generate_key("ec-p256")
    tax_cert = ca.issue(tax_key.public_key(), subject="CN=Tax Service", profile="encryption")
    envelope = seal(RETURN, signer=(old_key, old_cert), recipients=[tax_cert])

    new_key = generate_key("ec-p256")
    new_cert = ca.reissue(old_cert, new_key.public_key(), reason="keyCompromise")
    assert new_cert.serial_number != old_cert.serial_number
    crl = ca.crl()
    trust = TrustContext([ca.certificate], crls=[crl])
    after = open_envelope(envelope, recipient=(tax_key, tax_cert), trust=trust).report
    assert not after.valid and "revoked" in {e.code for e in after.errors}
    before = open_envelope(
        envelope,
        recipient=(tax_key, tax_cert),
        trust=trust,
        at=now - datetime.timedelta(minutes=1),
    ).report
    assert before.valid, before.errors
    fresh = seal(RETURN, signer=(new_key, new_cert), recipients=[tax_cert])
    assert open_envelope(fresh, recipient=(tax_key, tax_cert), trust=trust).report.valid


def test_post_quantum_story_on_the_command_line(tmp_path: Path) -> None:
    """ML-DSA CA, ML-DSA signer, ML-KEM recipient: every step through `esign` commands."""
    env = {"ESIGN_PASSWORD": "pw", "PATH": ""}

    def esign(*args: str | Path) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "esign", *map(str, args)],
            capture_output=True,
            text=True,
            env=env,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        assert result.returncode == 0, (args, result.stderr)
        return result.stdout

    esign(
        "ca", "init", "--subject", "CN=PQ Root", "--out-dir", tmp_path / "ca", "--alg", "ml-dsa-65"
    )
    for name, alg, profile in (
        ("signer", "ml-dsa-44", "signing"),
        ("tax", "ml-kem-768", "encryption"),
    ):
        esign(
            "key",
            "generate",
            "--alg",
            alg,
            "--out",
            tmp_path / f"{name}.key",
            "--public-out",
            tmp_path / f"{name}.pub",
        )
        esign(
            "cert",
            "issue",
            "--ca",
            tmp_path / "ca",
            "--public-key",
            tmp_path / f"{name}.pub",
            "--subject",
            f"CN={name}",
            "--profile",
            profile,
            "--out",
            tmp_path / f"{name}.pem",
        )
    (tmp_path / "return.txt").write_bytes(RETURN)
    esign("crl", "--ca", tmp_path / "ca", "--out", tmp_path / "ca.crl")
    esign(
        "seal",
        tmp_path / "return.txt",
        "--key",
        tmp_path / "signer.key",
        "--cert",
        tmp_path / "signer.pem",
        "--to",
        tmp_path / "tax.pem",
        "--out",
        tmp_path / "r.p7m",
    )
    report = json.loads(
        esign(
            "open",
            tmp_path / "r.p7m",
            "--key",
            tmp_path / "tax.key",
            "--cert",
            tmp_path / "tax.pem",
            "--trust",
            tmp_path / "ca" / "ca.pem",
            "--crl",
            tmp_path / "ca.crl",
            "--out",
            tmp_path / "opened.txt",
            "--json",
        )
    )
    assert report["valid"] is True and report["signer"]["subject"] == "CN=signer"
    assert report["signature_algorithm"] == ML_DSA_44_NAME
    assert (tmp_path / "opened.txt").read_bytes() == RETURN
